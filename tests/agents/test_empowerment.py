"""Inverse dynamics and causal empowerment: the likelihood is right, the model learns with its own
optimizer during training, the empowerment term moves only the actor, and lambda = 0 is SAC exactly."""

from __future__ import annotations

import math

import numpy as np
import torch
from causal_helpers import causal_model, learn_recording, sac_model, state_of

from agents.empowerment import InverseDynamics, empowerment, inverse_update


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


def test_empowerment_gradient_reaches_only_the_policy_log_prob():
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
    assert all(math.isfinite(v) for v in recorder.values["train/empowerment"])
    assert model.inverse_optimizer.state_dict()["state"]  # its own Adam has stepped


def test_zero_coefficient_changes_nothing_but_the_inverse_model_and_positive_changes_the_actor():
    sac = sac_model(seed=5)
    sac_rec = learn_recording(sac, 200)
    off = causal_model(seed=5, empowerment=True, empowerment_coef=0.0, window=10**6, min_samples=10**6)
    off_rec = learn_recording(off, 200)
    assert off_rec.values["train/critic_loss"] == sac_rec.values["train/critic_loss"]
    assert off_rec.values["train/actor_loss"] == sac_rec.values["train/actor_loss"]
    on = causal_model(seed=5, empowerment=True, empowerment_coef=0.5, window=10**6, min_samples=10**6)
    on_rec = learn_recording(on, 200)
    assert on_rec.values["train/actor_loss"] != sac_rec.values["train/actor_loss"]
    assert on_rec.values["train/critic_loss"][0] == sac_rec.values["train/critic_loss"][0]  # critic first
