"""The causal prior: recent transitions across a wrapped buffer, the schedule, RNG isolation, what a refit
logs, the weights and swap rules it finds on Reacher with distractor dims, local validity on a contact task,
and a state dict that loads with ``weights_only=True``."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from causal_helpers import causal_model, learn_recording
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer

import agents.causal_prior as prior_module
from agents.causal_prior import CausalPrior, first_fit_step, fit_seed
from agents.config import CausalConfig
from agents.local_validity import LocalDynamics
from agents.replay_rows import recent_transitions


def _buffer(size, obs_dim, act_dim):
    return ReplayBuffer(size, spaces.Box(-9e9, 9e9, (obs_dim,)), spaces.Box(-1, 1, (act_dim,)), device="cpu")


def test_recent_transitions_are_the_newest_in_order_across_the_wrap():
    buffer = _buffer(10, 2, 1)
    for t in range(23):
        obs = np.array([[t, -t]], dtype=np.float32)
        buffer.add(obs, obs + 0.5, np.array([[t / 100]]), np.array([t]), np.array([False]), [{}])
    states, actions, rewards, next_states = recent_transitions(buffer, 6)
    np.testing.assert_array_equal(states[:, 0], np.arange(17, 23))
    np.testing.assert_array_equal(rewards, np.arange(17, 23))
    np.testing.assert_allclose(actions[:, 0], np.arange(17, 23) / 100)
    np.testing.assert_array_equal(next_states, states + 0.5)
    assert recent_transitions(buffer, 50)[0].shape == (10, 2)  # never more than stored


def test_schedule_and_seeds():
    assert first_fit_step(window=10_000, min_samples=1_000, buffer_size=1_000_000) == 10_000
    assert first_fit_step(window=10_000, min_samples=1_000, buffer_size=3_000) == 3_000
    assert first_fit_step(window=500, min_samples=1_000, buffer_size=3_000) == 1_000
    assert fit_seed(0, 0) != fit_seed(0, 1) and fit_seed(0, 1) != fit_seed(1, 1)
    assert fit_seed(3, 2) == fit_seed(3, 2)


@pytest.fixture(scope="module")
def distractor_run():
    """CIP on Reacher with 8 distractor dims: one fit at step 1501 on random-action data, then 200 updates."""
    model = causal_model(
        seed=0, distractor_dims=8, entropy=True, augment=True, empowerment=True,
        window=1500, min_samples=1000, refit_every=10**6, temperature=0.02, dynamics_steps=600,
    )  # fmt: skip
    model.learning_starts = 1500
    return model, learn_recording(model, 1700)


def test_refits_follow_the_schedule_and_log(distractor_run):
    model, recorder = distractor_run
    prior = model.prior
    assert prior.n_refits == 1 and prior.next_fit_step == 1500 + 10**6
    keys = (
        "causal/fit_seconds", "causal/n_irrelevant", "causal/w_s_17", "causal/w_a_1", "causal/graph",
        "causal/w_a_max_over_min", "causal/dynamics_loss", "augment/local_free_fraction", "augment/swapped_dims",
    )  # fmt: skip
    for key in keys:
        assert key in recorder.keys, key
    assert len(recorder.values["causal/fit_seconds"]) == 1
    assert recorder.values["causal/n_irrelevant"][-1] == prior.candidates.sum()
    assert recorder.values["augment/fraction"][-1] == 0.5  # rho of every batch once something can be swapped
    assert recorder.values["augment/swapped_dims"][-1] > 1.0
    assert prior.graph.method == "direct_lingam" and prior.graph.n_samples == 1500


def test_refit_leaves_the_global_rng_alone(distractor_run, monkeypatch):
    import random

    model, _ = distractor_run
    fitted = model.prior.graph
    states = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())

    def greedy_fit(*args, **kwargs):
        random.random(), np.random.rand(5), torch.rand(5)
        return fitted

    monkeypatch.setattr(prior_module.causal, "fit_factored_graph", greedy_fit)
    prior = CausalPrior(model.causal_config, 18, 2, 3_000, seed=0, device="cpu")
    assert prior.maybe_refit(10**7, model.replay_buffer) is not None  # graph + dynamics fit + scoring
    assert random.getstate() == states[0]
    assert np.array_equal(np.random.get_state()[1], states[1])
    assert torch.equal(torch.get_rng_state(), states[2])


def test_distractor_dims_get_no_reward_edge_and_near_zero_weight(distractor_run):
    model, _ = distractor_run
    graph = model.prior.graph
    distractors = np.arange(10, 18)
    assert not graph.reward_state_edges[distractors].any()
    assert graph.reward_state_edges[:10].any()
    assert graph.w_s[distractors].max() < 0.1 < 1.0 < graph.w_s.max()
    candidates = np.flatnonzero(model.prior.candidates)
    assert len(candidates) <= 9  # max_swap_frac 0.5 of 18 dims
    assert not model.prior.candidates[graph.reward_state_edges].any()


def test_local_rule_frees_the_distractors_at_almost_every_transition(distractor_run):
    """Distractors never depend on the action: the dynamics model's Jacobian says so at most stored transitions
    (a small learned model on 1,500 samples: not always), so they are swapped; the joint velocities the torques
    drive are never free. The cap keeps the candidates that are free most often."""
    model, _ = distractor_run
    prior = model.prior
    free = prior.local_free[: prior.scored_pos, 0]  # the rows scored at the refit
    distractors = np.arange(10, 18)
    assert np.isin(distractors, np.flatnonzero(prior.candidates)).sum() >= 6
    assert free[:, distractors].mean() > 0.8
    velocities = [6, 7]  # the joint velocities the torques drive
    assert free[:, velocities].mean() < 0.05


def test_global_and_weight_rules_are_options(distractor_run):
    model, _ = distractor_run
    graph = model.prior.graph
    flat = graph.reweighted(1.0, scale="absolute")
    assert flat.w_s.min() > 0.5  # the spec's weight rule at T = 1 finds nothing
    distractors = np.arange(10, 18)
    for validity in ("global", "none"):
        cfg = CausalConfig(augment=True, validity=validity, temperature=0.02)
        prior = CausalPrior(cfg, 18, 2, 3_000, seed=0, device="cpu")
        prior.use_graph(flat)
        assert not prior.candidates[flat.reward_state_edges].any() and prior.candidates.sum() <= 9
        if validity == "global":  # the action reaches none of the distractors in the fitted graph
            assert np.isin(distractors, np.flatnonzero(prior.candidates)).sum() >= 6
    weights_rule = CausalPrior(CausalConfig(augment=True, irrelevance="weights"), 18, 2, 3_000, 0, "cpu")
    weights_rule.use_graph(flat)
    assert not weights_rule.candidates.any()


def test_state_dict_loads_with_weights_only_and_continues_the_partner_stream(distractor_run):
    model, _ = distractor_run
    state = model.prior.state_dict()
    blob = io.BytesIO()
    torch.save(state, blob)
    blob.seek(0)
    loaded = torch.load(blob, weights_only=True)  # no pickled objects: plain data and tensors only
    clone = CausalPrior(model.causal_config, 18, 2, model.buffer_size, seed=0, device="cpu")
    clone.load_state_dict(loaded)
    rows, envs = np.arange(5), np.zeros(5, dtype=int)
    a = model.prior.plan_swaps(rows, envs, 1700, 1)
    b = clone.plan_swaps(rows, envs, 1700, 1)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert clone.graph.to_dict() == model.prior.graph.to_dict()
    assert np.array_equal(clone.local_free, model.prior.local_free)


def test_local_validity_swaps_an_object_dim_only_out_of_contact():
    """Gripper g and object o on a line; the action moves g, and moves o only when they touch (|g - o| < 0.5).
    The fitted dynamics model finds o free of the action out of contact, and driven by it in contact."""
    rng = np.random.default_rng(0)
    n = 6000
    states = rng.uniform(-2, 2, size=(n, 2))
    actions = rng.uniform(-1, 1, size=(n, 1))
    contact = np.abs(states[:, 0] - states[:, 1]) < 0.5
    next_states = states.copy()
    next_states[:, 0] += 0.3 * actions[:, 0]
    next_states[contact, 1] += 0.3 * actions[contact, 0]
    local = LocalDynamics(2, 1, [64, 64], relative_threshold=0.3)
    local.fit(states, actions, next_states, steps=2000, seed=0)
    far = np.array([[-1.5, 1.5], [1.5, -1.0], [0.0, 1.8]])
    near = np.array([[0.0, 0.1], [1.0, 1.2], [-0.5, -0.4]])
    acts = np.zeros((3, 1))
    assert local.free(far, acts)[:, 1].all()  # object out of reach: swappable
    assert not local.free(near, acts)[:, 1].any()  # in contact: the action drives it, refused
    assert not local.free(far, acts)[:, 0].any()  # the gripper is always driven


def test_the_fast_local_test_equals_the_full_jacobian_rule(distractor_run):
    """``free`` uses |A| forward-mode and len(dims) reverse-mode products per row instead of the full Jacobian; the
    result is the full Jacobian's :func:`causal.swap.locally_free` on those dims."""
    from causal.swap import locally_free

    model, _ = distractor_run
    local = model.prior.local
    obs = model.replay_buffer.observations[:1500, 0].astype(np.float64)
    act = model.replay_buffer.actions[:1500, 0].astype(np.float64)
    dims = np.flatnonzero(model.prior.candidates)
    full = locally_free(local.jacobians(obs, act), 18, local.threshold)
    fast = local.free(obs, act, dims)
    np.testing.assert_array_equal(fast[:, dims], full[:, dims])
    assert not fast[:, np.setdiff1d(np.arange(18), dims)].any()
