"""Per-dimension log-probabilities of a tanh-squashed diagonal Gaussian and their causal weighting (ACE).

For a pre-squash sample ``u ~ N(mu, sigma)`` and action ``a = tanh(u)`` the log-density factorises over
action dims: ``l_i = log N(u_i; mu_i, sigma_i) - log(1 - tanh(u_i)^2 + eps)``. SAC uses ``log pi = sum_i
l_i``; the causality-aware entropy of ACE/CIP uses ``log pi_w = sum_i w_a[i] l_i`` with the causal action
weights ``w_a`` (all 1 before the first graph fit, which gives back SAC's ``log pi``).
"""

from __future__ import annotations

import math

import torch as th
from stable_baselines3.common.distributions import SquashedDiagGaussianDistribution

EPS = 1e-6
"""Squash-correction epsilon (the value SB3's ``SquashedDiagGaussianDistribution`` uses)."""


def squashed_gaussian_per_dim(u: th.Tensor, mean: th.Tensor, log_std: th.Tensor, eps: float = EPS) -> th.Tensor:
    """``l_i`` for every action dim: Gaussian log-density of ``u`` minus the tanh squash correction.

    Args:
        u: pre-squash samples, ``(batch, |A|)``.
        mean, log_std: Gaussian parameters, ``(batch, |A|)``.
        eps: squash-correction epsilon.

    Returns:
        ``(batch, |A|)`` per-dimension log-probabilities of ``a = tanh(u)``.
    """
    std = log_std.exp()
    gauss = -((u - mean) ** 2) / (2 * std**2) - log_std - 0.5 * math.log(2 * math.pi)
    return gauss - th.log(1 - th.tanh(u) ** 2 + eps)


def per_dim_from_dist(dist: SquashedDiagGaussianDistribution, actions: th.Tensor) -> th.Tensor:
    """Per-dim log-probabilities of the sample the actor just drew.

    Call right after ``actor.action_log_prob(obs)``: SB3's distribution object then holds the Gaussian
    and the pre-squash sample ``u`` of ``actions = tanh(u)``. The terms are SB3's own before its sum over
    dims, so ``l.sum(1)`` equals SB3's ``log_prob`` up to float summation order, and no extra random
    number is drawn.

    Returns:
        ``(batch, |A|)`` per-dimension log-probabilities.
    """
    if dist.gaussian_actions is None:
        raise ValueError("the distribution holds no sample; call actor.action_log_prob first")
    return dist.distribution.log_prob(dist.gaussian_actions) - th.log(1 - actions**2 + dist.epsilon)


def weighted_log_prob(per_dim: th.Tensor, w_a: th.Tensor | None) -> th.Tensor:
    """``log pi_w = sum_i w_a[i] l_i`` as a ``(batch, 1)`` column (plain sum when ``w_a`` is ``None``)."""
    if w_a is None:
        return per_dim.sum(dim=1, keepdim=True)
    return (per_dim * w_a).sum(dim=1, keepdim=True)
