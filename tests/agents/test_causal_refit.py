"""The causal refit: recent transitions across a wrapped buffer, the schedule, RNG isolation, what it logs,
and the weights it finds on Reacher with distractor dims."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from causal_helpers import causal_model, learn_recording
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer

from agents.causal_refit import first_fit_step, fit_seed, recent_transitions


def test_recent_transitions_are_the_newest_in_order_across_the_wrap():
    buffer = ReplayBuffer(10, spaces.Box(-9e9, 9e9, (2,)), spaces.Box(-1, 1, (1,)), device="cpu")
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
    """CIP on Reacher with 8 distractor dims: one fit at step 1500 on random-action data, then 200 updates."""
    model = causal_model(
        seed=0, distractor_dims=8, entropy=True, augment=True, empowerment=True,
        window=1500, min_samples=1000, refit_every=10**6, temperature=0.02,
    )  # fmt: skip
    model.learning_starts = 1500
    return model, learn_recording(model, 1700)


def test_refits_follow_the_schedule_and_log(distractor_run):
    model, recorder = distractor_run
    assert model.n_refits == 1 and model.next_fit_step == 1500 + 10**6
    for key in ("causal/fit_seconds", "causal/n_irrelevant", "causal/w_s_17", "causal/w_a_1", "causal/graph"):
        assert key in recorder.keys, key
    assert len(recorder.values["causal/fit_seconds"]) == 1
    assert recorder.values["causal/n_irrelevant"][-1] == model.replay_buffer.swap_mask.sum()
    assert recorder.values["augment/fraction"][-1] == 0.5  # rho of every batch once a mask is set
    assert model.graph.method == "direct_lingam" and model.graph.n_samples == 1500


def test_refit_leaves_the_global_rng_alone(distractor_run, monkeypatch):
    import random

    import agents.causal_refit as refit

    model, _ = distractor_run
    states = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())

    def greedy_fit(*args, **kwargs):
        random.random(), np.random.rand(5), torch.rand(5)
        return model.graph

    monkeypatch.setattr(refit.causal, "fit_factored_graph", greedy_fit)
    refit.fit_graph(model.replay_buffer, model.causal_config, model.seed, 0)
    assert random.getstate() == states[0]
    assert np.array_equal(np.random.get_state()[1], states[1])
    assert torch.equal(torch.get_rng_state(), states[2])


def test_distractor_dims_get_no_reward_edge_and_near_zero_weight(distractor_run):
    """No distractor dim has an edge to the reward and each gets a near-zero weight, so most are swapped.

    With ``w_s = |S| softmax(|b| / T)`` a dim without an edge gets ``|S| / sum_k exp(|b_k| / T)``: near zero
    only when the relevant dims' ``|b| / T`` are large. Reacher's reward is a distance (non-linear), so the
    linear coefficients are small (~0.1) and only a low temperature (here 0.02) separates the dims; at the
    default ``T = 1`` every weight stays within a few percent of 1 and nothing is swapped."""
    model, _ = distractor_run
    graph = model.graph
    distractors = np.arange(10, 18)
    assert not graph.reward_state_edges[distractors].any()
    assert graph.reward_state_edges[:10].any()
    assert graph.w_s[distractors].max() < 0.1 < 1.0 < graph.w_s.max()
    swapped = np.flatnonzero(model.replay_buffer.swap_mask)
    assert len(swapped) <= 9  # max_swap_frac 0.5 of 18 dims
    assert np.isin(distractors, swapped).sum() >= 6  # uncontrollable and irrelevant: valid swaps
    assert not model.replay_buffer.swap_mask[graph.reward_state_edges].any()


def test_edge_rule_swaps_distractors_at_the_spec_temperature(distractor_run):
    """At T = 1 the weights are flat (the weight rule would swap nothing); the default edge rule still swaps
    distractor dims, never a dim with a reward edge, and the weight rule is kept as an option."""
    model, _ = distractor_run
    fitted = model.graph
    flat = fitted.reweighted(1.0)
    assert flat.w_s.min() > 0.5  # nothing passes w_s < tau_s = 0.5
    distractors = np.arange(10, 18)
    try:
        mask = model.set_graph(flat)
        assert np.isin(distractors, np.flatnonzero(mask)).sum() >= 6
        assert not mask[flat.reward_state_edges].any()
        model.causal_config.irrelevance = "weights"
        assert not model.set_graph(flat).any()
    finally:
        model.causal_config.irrelevance = "edges"
        model.set_graph(fitted)
