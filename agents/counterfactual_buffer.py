"""Counterfactual data augmentation (CIP/CoDA) as an SB3 replay buffer.

At sampling time a ``rho`` fraction of each batch becomes counterfactual: for such a transition the
reward-irrelevant state dims ``I`` of ``s`` and ``s'`` are replaced by those of a random partner
transition, while ``a``, ``r`` and ``done`` stay. Stored data is never written. Before a mask is set
(no graph fitted yet) the buffer samples exactly like SB3's :class:`ReplayBuffer`.

Layout of a sampled batch: the first ``last_n_counterfactual`` rows are counterfactual, the rest are
real (the batch indices are i.i.d., so putting them first changes nothing in distribution).

Randomness: batch indices come from numpy's global RNG as in SB3; partners come from the buffer's own
``np.random.Generator``, pickled with the buffer, so a resumed run draws the same partners.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.vec_env import VecNormalize


def controllable_dims(transition_edges: np.ndarray, state_dim: int) -> np.ndarray:
    """State dims reachable from an action in the transition graph (``|S| x (|S|+|A|)`` parent pattern)."""
    edges = np.asarray(transition_edges, dtype=bool)
    controllable = edges[:, state_dim:].any(axis=1)
    while True:
        grown = controllable | (edges[:, :state_dim] & controllable[None, :]).any(axis=1)
        if (grown == controllable).all():
            return controllable
        controllable = grown


def coda_valid(mask: np.ndarray, transition_edges: np.ndarray) -> np.ndarray:
    """Shrink ``mask`` until every swapped dim has no action parent and only state parents that are
    swapped too or uncontrollable (spec section 2, the CoDA validity condition); a fixpoint."""
    n = mask.size
    edges = np.asarray(transition_edges, dtype=bool)
    state_parents, action_parents = edges[:, :n], edges[:, n:].any(axis=1)
    controllable = controllable_dims(edges, n)
    mask = mask.copy()
    while mask.any():
        offending = (state_parents & ~mask[None, :] & controllable[None, :]).any(axis=1) | action_parents
        bad = mask & offending
        if not bad.any():
            break
        mask &= ~bad
    return mask


def irrelevant_mask(
    w_s: np.ndarray,
    tau_s: float,
    max_swap_frac: float,
    transition_edges: np.ndarray | None = None,
    coda_validity: bool = True,
    candidates: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean mask of the state dims to swap.

    1. Candidates: ``candidates`` when given (e.g. dims without a reward edge), else ``w_s[j] < tau_s``
       (below half the uniform weight by default).
    2. CoDA validity (when ``coda_validity`` and ``transition_edges`` are given): see :func:`coda_valid`.
    3. Cap: the lowest-weight ``floor(max_swap_frac * |S|)`` dims, then validity again (the cap can remove
       a swapped parent of a kept candidate).
    """
    w_s = np.asarray(w_s, dtype=np.float64)
    n = w_s.size
    check = coda_validity and transition_edges is not None
    mask = (w_s < tau_s) if candidates is None else np.asarray(candidates, dtype=bool).copy()
    if check:
        mask = coda_valid(mask, transition_edges)
    cap = int(np.floor(max_swap_frac * n))
    if mask.sum() > cap:
        keep = [int(j) for j in np.argsort(w_s, kind="stable") if mask[j]][:cap]
        mask = np.zeros(n, dtype=bool)
        mask[keep] = True
        if check:
            mask = coda_valid(mask, transition_edges)
    return mask


class CounterfactualReplayBuffer(ReplayBuffer):
    """SB3 replay buffer that swaps reward-irrelevant state dims between sampled transitions.

    Args:
        rho: fraction of each batch made counterfactual (once a mask is set).
        seed: seed of the buffer's own generator (partners).
        Remaining arguments: those of :class:`stable_baselines3.common.buffers.ReplayBuffer`.
    """

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        device: Any = "auto",
        n_envs: int = 1,
        optimize_memory_usage: bool = False,
        handle_timeout_termination: bool = True,
        rho: float = 0.5,
        seed: int = 0,
    ) -> None:
        if optimize_memory_usage:
            raise ValueError("CounterfactualReplayBuffer does not support optimize_memory_usage")
        super().__init__(
            buffer_size,
            observation_space,
            action_space,
            device=device,
            n_envs=n_envs,
            optimize_memory_usage=False,
            handle_timeout_termination=handle_timeout_termination,
        )
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"rho must be in [0, 1], got {rho}")
        self.rho = float(rho)
        self.rng = np.random.default_rng(seed)
        self.swap_mask: np.ndarray | None = None
        self.last_n_counterfactual = 0
        self.stats = {"sampled": 0, "counterfactual": 0}

    def set_swap_mask(self, mask: np.ndarray | None) -> None:
        """Set the state dims to swap (``None`` or all-False turns augmentation off)."""
        if mask is not None:
            mask = np.asarray(mask, dtype=bool).copy()
            if mask.shape != (self.obs_shape[-1],):
                raise ValueError(f"swap mask must have shape ({self.obs_shape[-1]},), got {mask.shape}")
            if not mask.any():
                mask = None
        self.swap_mask = mask

    def pop_stats(self) -> dict[str, float]:
        """``augment/fraction`` (counterfactual share of the transitions sampled since the last call)."""
        sampled, counterfactual = self.stats["sampled"], self.stats["counterfactual"]
        self.stats = {"sampled": 0, "counterfactual": 0}
        return {"augment/fraction": counterfactual / sampled if sampled else 0.0}

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> ReplayBufferSamples:
        env_indices = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))
        obs = self.observations[batch_inds, env_indices, :]
        next_obs = self.next_observations[batch_inds, env_indices, :]
        n_cf = 0
        if self.swap_mask is not None:
            n_cf = int(round(self.rho * len(batch_inds)))
        if n_cf > 0:
            upper = self.buffer_size if self.full else self.pos
            partners = self.rng.integers(0, upper, size=n_cf)
            partner_envs = self.rng.integers(0, self.n_envs, size=n_cf)
            dims = np.flatnonzero(self.swap_mask)
            rows = np.arange(n_cf)[:, None]
            # fancy indexing above already copied: these writes never touch the stored arrays
            obs[rows, dims] = self.observations[partners, partner_envs][:, dims]
            next_obs[rows, dims] = self.next_observations[partners, partner_envs][:, dims]
        self.last_n_counterfactual = n_cf
        self.stats["sampled"] += len(batch_inds)
        self.stats["counterfactual"] += n_cf
        data = (
            self._normalize_obs(obs, env),
            self.actions[batch_inds, env_indices, :],
            self._normalize_obs(next_obs, env),
            (self.dones[batch_inds, env_indices] * (1 - self.timeouts[batch_inds, env_indices])).reshape(-1, 1),
            self._normalize_reward(self.rewards[batch_inds, env_indices].reshape(-1, 1), env),
        )
        return ReplayBufferSamples(*tuple(map(self.to_torch, data)))
