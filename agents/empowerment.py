"""Causal empowerment (CIP, spec section 3): an inverse-dynamics model q_phi(a | s, s') and its two uses.

Empowerment is the channel capacity ``I(A; S' | S)``; the Barber-Agakov bound gives
``I >= E[log q_phi(a | s, s') - log pi(a | s)]``, causally weighted per action dim:
``sum_i w_a[i] (log q_i(a_i | s, s') - l_i(a | s))``. The inverse model is a tanh-squashed diagonal Gaussian (the
actor's shape) trained by maximum likelihood on real replay transitions with its *own* Adam optimizer.

Two forms (``causal.empowerment_form``):

* ``intrinsic_reward`` (default): the ``-log pi_w`` half is the causal entropy, already in the soft value; the
  ``log q`` half enters the critic target as an intrinsic reward (:func:`intrinsic_reward`), computed without
  gradient from the current inverse model on each sampled transition. The critic then values actions whose
  outcomes reveal them, and the actor follows Q.
* ``entropy_bonus`` (the first release): ``-lambda * E_c(s)`` in the actor loss with
  ``E_c(s) = H_c(pi(.|s)) - H_c(q_phi(.|s, s'))``. With ``s'`` from replay the inverse term does not depend on the
  policy, so its actor gradient is that of ``lambda * H_c(pi)``: an entropy bonus (:func:`empowerment`).
"""

from __future__ import annotations

import torch as th
from torch import nn

from agents.causal_entropy import EPS, squashed_gaussian_per_dim, weighted_log_prob

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
"""Clamp of the predicted log standard deviation (SB3's actor uses the same bounds)."""


class InverseDynamics(nn.Module):
    """q_phi(a | s, s'): an MLP on ``[s, s']`` giving the mean and log-std of a tanh-squashed Gaussian.

    Actions are in SB3's scaled space ``[-1, 1]`` (what the replay buffer stores for SAC).
    """

    def __init__(self, obs_dim: int, action_dim: int, net_arch: list[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        last = 2 * obs_dim
        for width in net_arch:
            layers += [nn.Linear(last, width), nn.ReLU()]
            last = width
        self.body = nn.Sequential(*layers)
        self.mu = nn.Linear(last, action_dim)
        self.log_std = nn.Linear(last, action_dim)

    def forward(self, obs: th.Tensor, next_obs: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """Mean and clamped log-std of the pre-squash Gaussian, each ``(batch, |A|)``."""
        hidden = self.body(th.cat([obs, next_obs], dim=1))
        return self.mu(hidden), self.log_std(hidden).clamp(LOG_STD_MIN, LOG_STD_MAX)

    def log_likelihood(self, obs: th.Tensor, actions: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
        """``log q(a | s, s')`` per sample, ``(batch, 1)``, for actions in ``[-1, 1]``."""
        return log_likelihood(*self(obs, next_obs), actions)

    def causal_entropy(
        self,
        obs: th.Tensor,
        next_obs: th.Tensor,
        w_a: th.Tensor | None,
        generator: th.Generator | None = None,
    ) -> th.Tensor:
        """One-sample estimate of ``H_c(q(.|s, s'))``, ``(batch, 1)`` (see :func:`causal_entropy`)."""
        return causal_entropy(*self(obs, next_obs), w_a, generator)


def per_dim_log_likelihood(mean: th.Tensor, log_std: th.Tensor, actions: th.Tensor) -> th.Tensor:
    """``log q_i(a_i | s, s')`` per action dim, ``(batch, |A|)``, for actions in ``[-1, 1]``."""
    bound = 1.0 - th.finfo(actions.dtype).eps
    u = th.atanh(actions.clamp(-bound, bound))
    return squashed_gaussian_per_dim(u, mean, log_std)


def log_likelihood(mean: th.Tensor, log_std: th.Tensor, actions: th.Tensor) -> th.Tensor:
    """Log-density ``(batch, 1)`` of actions in ``[-1, 1]`` under the tanh-squashed Gaussian ``(mean, log_std)``."""
    return per_dim_log_likelihood(mean, log_std, actions).sum(dim=1, keepdim=True)


def intrinsic_reward(
    log_q: th.Tensor, w_a: th.Tensor | None, rewards: th.Tensor, clip: float
) -> tuple[th.Tensor, dict[str, th.Tensor]]:
    """The empowerment bonus ``(batch, 1)`` added (times lambda) to the reward in the critic target.

    ``sum_i w_a[i] log q_i(a_i | s, s')`` of the stored action under the inverse model (``log_q``: the per-dim
    log-likelihoods, :func:`per_dim_log_likelihood`), standardised over the batch, clipped to ``+-clip`` and
    multiplied by the batch's reward standard deviation, so that lambda is a fraction of the reward's spread on any
    reward scale (a constant reward gives no bonus). No gradient.

    Returns:
        The bonus and its activity: ``train/empowerment_log_q`` (mean weighted log-likelihood) and
        ``train/empowerment_bonus_std`` (the bonus's spread before lambda).
    """
    with th.no_grad():
        raw = weighted_log_prob(log_q.detach(), w_a)
        z = (raw - raw.mean()) / raw.std().clamp_min(1e-6) if len(raw) > 1 else th.zeros_like(raw)
        bonus = z.clamp(-clip, clip) * (rewards.std() if len(rewards) > 1 else rewards.new_zeros(()))
        stats = {"train/empowerment_log_q": raw.mean(), "train/empowerment_bonus_std": bonus.std()}
    return bonus, stats


def causal_entropy(
    mean: th.Tensor, log_std: th.Tensor, w_a: th.Tensor | None, generator: th.Generator | None = None
) -> th.Tensor:
    """One-sample estimate of ``H_c(q) = -E[sum_i w_a[i] l_i]`` for a tanh-squashed Gaussian, ``(batch, 1)``.

    The noise comes from ``generator`` (the agent's own), so estimating it never moves torch's global
    RNG and switching empowerment off or on leaves every other random draw unchanged.
    """
    noise = th.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    u = mean + log_std.exp() * noise
    return -weighted_log_prob(squashed_gaussian_per_dim(u, mean, log_std, EPS), w_a)


def inverse_update(optimizer: th.optim.Optimizer, log_lik: th.Tensor) -> dict[str, th.Tensor]:
    """One maximum-likelihood step of the inverse model given ``log q(a|s,s')`` of real transitions; its loss as
    a detached 0-dim tensor (on the model's device: no host transfer per step)."""
    loss = -log_lik.mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return {"train/inverse_loss": loss.detach()}


def empowerment(
    log_pi_w: th.Tensor,
    mean: th.Tensor,
    log_std: th.Tensor,
    w_a: th.Tensor | None,
    generator: th.Generator | None = None,
) -> th.Tensor:
    """``E_c(s) = H_c(pi) - H_c(q)`` per sample, ``(batch, 1)``, with one-sample entropy estimates.

    ``log_pi_w`` is the causally weighted log-probability of the actor's reparameterised sample (it
    carries the gradient to the policy); ``(mean, log_std)`` are the inverse model's outputs on ``(s, s')``,
    used without gradient (see module doc).
    """
    with th.no_grad():
        h_inverse = causal_entropy(mean.detach(), log_std.detach(), w_a, generator)
    return -log_pi_w - h_inverse
