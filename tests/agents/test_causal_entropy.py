"""Per-dimension log-probabilities of the squashed Gaussian actor and their causal weighting."""

from __future__ import annotations

import math

import torch
from gymnasium import spaces
from stable_baselines3.sac.policies import SACPolicy

from agents.causal_entropy import per_dim_from_dist, squashed_gaussian_per_dim, weighted_log_prob


def _actor(action_dim=3, seed=0):
    torch.manual_seed(seed)
    obs_space = spaces.Box(-1, 1, (4,))
    act_space = spaces.Box(-1, 1, (action_dim,))
    return SACPolicy(obs_space, act_space, lambda _: 3e-4, net_arch=[16]).actor


def test_per_dim_terms_sum_to_sb3_log_prob_without_extra_draws():
    actor = _actor()
    obs = torch.randn(64, 4)
    torch.manual_seed(1)
    actions, log_prob = actor.action_log_prob(obs)
    state = torch.get_rng_state()
    per_dim = per_dim_from_dist(actor.action_dist, actions)
    assert torch.equal(state, torch.get_rng_state())
    assert per_dim.shape == (64, 3)
    torch.testing.assert_close(per_dim.sum(1), log_prob)
    torch.testing.assert_close(weighted_log_prob(per_dim, torch.ones(3)), log_prob.reshape(-1, 1))


def test_weights_scale_each_dimension():
    actor = _actor()
    actions, _ = actor.action_log_prob(torch.randn(8, 4))
    per_dim = per_dim_from_dist(actor.action_dist, actions)
    w = torch.tensor([2.0, 0.0, 1.0])
    expected = 2.0 * per_dim[:, 0] + per_dim[:, 2]
    torch.testing.assert_close(weighted_log_prob(per_dim, w)[:, 0], expected)
    torch.testing.assert_close(weighted_log_prob(per_dim, None)[:, 0], per_dim.sum(1))


def test_closed_form_matches_torch_normal_with_squash_correction():
    mean, log_std, u = torch.randn(5, 2), torch.randn(5, 2) * 0.3, torch.randn(5, 2)
    normal = torch.distributions.Normal(mean, log_std.exp())
    expected = normal.log_prob(u) - torch.log(1 - torch.tanh(u) ** 2 + 1e-6)
    torch.testing.assert_close(squashed_gaussian_per_dim(u, mean, log_std), expected)


def test_gradient_of_the_weighted_entropy_flows_to_the_actor():
    actor = _actor(action_dim=2)
    actions, _ = actor.action_log_prob(torch.randn(16, 4))
    loss = weighted_log_prob(per_dim_from_dist(actor.action_dist, actions), torch.tensor([1.5, 0.5])).mean()
    loss.backward()
    grads = [p.grad for p in actor.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert math.isfinite(loss.item())
