"""Inverse dynamics and causal empowerment: the likelihood is right, the model learns with its own optimizer
during training, the intrinsic reward (the default form) moves the critic target and ranks action dims by how
much the outcome reveals them, the first release's entropy-bonus form moves only the actor through log pi, and
lambda = 0 is SAC exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from causal_helpers import causal_model, learn_recording, sac_model, state_of

from agents.empowerment import (
    InverseDynamics,
    empowerment,
    intrinsic_reward,
    inverse_update,
    per_dim_log_likelihood,
)


def test_log_likelihood_is_the_tanh_gaussian_density():
    torch.manual_seed(0)
    model = InverseDynamics(3, 2, [8])
    obs, next_obs = torch.randn(5, 3), torch.randn(5, 3)
    actions = torch.rand(5, 2) * 1.8 - 0.9
    mean, log_std = model(obs, next_obs)
    u = torch.atanh(actions)
    normal = torch.distributions.Normal(mean, log_std.exp())
    expected = (normal.log_prob(u) - torch.log(1 - actions**2 + 1e-6)).sum(1, keepdim=True)
    torch.testing.assert_close(model.log_likelihood(obs, actions, next_obs), expected)


def test_inverse_model_learns_an_invertible_dynamics():
    """s' = s + 0.5 a: the inverse model should recover a, so its loss drops well below the start."""
    torch.manual_seed(0)
    model = InverseDynamics(2, 2, [32, 32])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    obs = torch.randn(512, 2)
    actions = torch.rand(512, 2) * 1.6 - 0.8
    next_obs = obs + 0.5 * actions
    first = inverse_update(opt, model.log_likelihood(obs, actions, next_obs))["train/inverse_loss"]
    for _ in range(300):
        last = inverse_update(opt, model.log_likelihood(obs, actions, next_obs))["train/inverse_loss"]
    assert last < first - 2.0


def test_entropy_bonus_form_gradient_reaches_only_the_policy_log_prob():
    """The first release's form (``empowerment_form=entropy_bonus``, kept as an ablation): with s' from replay
    its actor gradient is that of lambda * H_c(pi), an entropy bonus. This is why the default moved to the
    intrinsic reward (spec section 3, corrected)."""
    torch.manual_seed(0)
    model = InverseDynamics(3, 2, [8])
    log_pi = torch.randn(4, 1, requires_grad=True)
    gen = torch.Generator().manual_seed(1)
    mean, log_std = model(torch.randn(4, 3), torch.randn(4, 3))
    emp = empowerment(log_pi, mean, log_std, torch.tensor([1.5, 0.5]), gen)
    emp.sum().backward()
    torch.testing.assert_close(log_pi.grad, -torch.ones(4, 1))
    assert all(p.grad is None for p in model.parameters())  # the inverse entropy carries no gradient
    # the inverse entropy estimate draws from the given generator, never from torch's global RNG
    obs, next_obs = torch.randn(4, 3), torch.randn(4, 3)
    state, gen_state = torch.get_rng_state(), gen.get_state()
    model.causal_entropy(obs, next_obs, None, gen)
    assert torch.equal(state, torch.get_rng_state())
    assert not torch.equal(gen_state, gen.get_state())


def test_training_moves_the_inverse_model_and_logs_empowerment():
    model = causal_model(seed=0, empowerment=True, window=10**6, min_samples=10**6)
    before = state_of(model.inverse_model)
    recorder = learn_recording(model, 250)
    after = state_of(model.inverse_model)
    assert all(not np.array_equal(before[k], after[k]) for k in before)
    losses = recorder.values["train/inverse_loss"]
    assert len(losses) == 150 and all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-20:]) < np.mean(losses[:20])
    for key in ("train/empowerment_log_q", "train/empowerment_reward", "train/empowerment_bonus_std"):
        assert all(math.isfinite(v) for v in recorder.values[key]), key
    assert model.inverse_optimizer.state_dict()["state"]  # its own Adam has stepped


@pytest.mark.parametrize("form", ["intrinsic_reward", "entropy_bonus"])
def test_zero_coefficient_changes_nothing_but_the_inverse_model_and_positive_changes_learning(form):
    sac = sac_model(seed=5)
    sac_rec = learn_recording(sac, 200)
    never = dict(window=10**6, min_samples=10**6, empowerment_form=form)
    off = causal_model(seed=5, empowerment=True, empowerment_coef=0.0, **never)
    off_rec = learn_recording(off, 200)
    assert off_rec.values["train/critic_loss"] == sac_rec.values["train/critic_loss"]
    assert off_rec.values["train/actor_loss"] == sac_rec.values["train/actor_loss"]
    on = causal_model(seed=5, empowerment=True, empowerment_coef=0.5, **never)
    on_rec = learn_recording(on, 200)
    assert on_rec.values["train/actor_loss"] != sac_rec.values["train/actor_loss"]
    if form == "entropy_bonus":  # the actor term cannot reach the critic before the actor has moved
        assert on_rec.values["train/critic_loss"][0] == sac_rec.values["train/critic_loss"][0]
    else:  # the intrinsic reward is in the very first critic target
        assert on_rec.values["train/critic_loss"][0] != sac_rec.values["train/critic_loss"][0]
        assert all(v > 0 for v in on_rec.values["train/empowerment_reward"])


def test_critic_target_moves_when_only_the_inverse_model_changes():
    model = causal_model(seed=1, empowerment=True, empowerment_coef=0.1, window=10**6, min_samples=10**6)
    from stable_baselines3.common.logger import configure

    model.set_logger(configure(None, []))
    model.learning_starts = 10**9
    model.learn(200)  # collect only
    data = model.replay_buffer.sample(64)
    alpha = torch.tensor(0.2)

    def target():
        torch.manual_seed(0)  # the next-action sample is the same in both calls
        return model.soft_target(data, alpha)[0]

    before = target()
    with torch.no_grad():
        for p in model.inverse_model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    after = target()
    assert not torch.allclose(before, after)
    model.causal_config.empowerment_coef = 0.0  # no empowerment: the inverse model cannot move the target
    torch.testing.assert_close(target(), target())


def test_intrinsic_reward_ranks_the_action_dim_that_moves_the_state():
    """Small MDP: a0 moves the state, a1 does nothing. After training, the inverse model predicts a0 from
    (s, s') and not a1, so a0's log-likelihood term is larger; the bonus favours transitions whose outcome
    reveals the action, and stays within clip x reward std."""
    torch.manual_seed(0)
    n = 2048
    obs = torch.randn(n, 2)
    actions = torch.rand(n, 2) * 1.8 - 0.9
    next_obs = obs + torch.stack([0.5 * actions[:, 0], torch.zeros(n)], dim=1)
    model = InverseDynamics(2, 2, [64, 64])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(400):
        inverse_update(opt, model.log_likelihood(obs, actions, next_obs))
    with torch.no_grad():
        mean, log_std = model(obs, next_obs)
    per_dim = per_dim_log_likelihood(mean, log_std, actions).mean(0)
    assert per_dim[0] > per_dim[1] + 1.0
    rewards = torch.randn(n, 1) * 3.0
    log_q = per_dim_log_likelihood(mean, log_std, actions)
    bonus, stats = intrinsic_reward(log_q, torch.tensor([1.5, 0.5]), rewards, clip=2.0)
    assert bonus.abs().max() <= 2.0 * rewards.std() + 1e-5
    assert stats["train/empowerment_bonus_std"] > 0
    # an outcome that does not match the action (s' of another transition) earns a lower bonus
    shuffled = next_obs[torch.randperm(n)]
    with torch.no_grad():
        wrong = model(obs, shuffled)
    joint = torch.cat([mean, wrong[0]]), torch.cat([log_std, wrong[1]])
    joint_log_q = per_dim_log_likelihood(*joint, torch.cat([actions, actions]))
    both, _ = intrinsic_reward(joint_log_q, torch.tensor([1.5, 0.5]), rewards.repeat(2, 1), 3.0)
    assert both[:n].mean() > both[n:].mean()


def test_augmentation_that_swaps_nothing_leaves_every_network_as_without_it():
    """A counterfactual row with nothing swapped is a real transition: the inverse model learns from it, so CIP
    whose swap rule finds no locally free pair trains exactly like CIP without augmentation (HalfCheetah: the
    inverse model once learnt from half of each batch whenever swaps were possible, docs/cip.md)."""
    kw = dict(
        seed=0, distractor_dims=4, entropy=True, empowerment=True,
        window=300, min_samples=300, refit_every=10**6, temperature=0.05, dynamics_steps=50,
    )  # fmt: skip
    swapping_nothing = causal_model(augment=True, **kw)  # seeds every generator: build, then learn, one by one
    plan = swapping_nothing.prior.plan_swaps

    def plan_no_swap(rows, row_envs, upper, n_envs):
        partners, partner_envs, mask = plan(rows, row_envs, upper, n_envs)
        return partners, partner_envs, np.zeros_like(mask)

    swapping_nothing.prior.plan_swaps = plan_no_swap
    learn_recording(swapping_nothing, 400)
    plain = causal_model(augment=False, **kw)
    learn_recording(plain, 400)
    assert swapping_nothing.prior.swaps_possible and swapping_nothing.replay_buffer.last_n_counterfactual > 0
    assert not swapping_nothing.replay_buffer.last_changed_rows.any()
    for a, b in [(swapping_nothing.inverse_model, plain.inverse_model), (swapping_nothing.policy, plain.policy)]:
        for key, value in state_of(a).items():
            np.testing.assert_array_equal(value, state_of(b)[key], err_msg=key)
