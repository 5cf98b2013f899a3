"""Counterfactual data augmentation (CIP/CoDA) as an SB3 replay buffer.

At sampling time a ``rho`` fraction of each batch becomes counterfactual: for such a transition some state
dims of ``s`` and ``s'`` are replaced by those of a partner transition, while ``a``, ``r`` and ``done`` stay.
Which partner and which dims is the swap rule's decision (a :class:`SwapRule`, in practice the agent's
:class:`agents.causal_prior.CausalPrior`); the buffer only applies it. Stored data is never written. Without
a rule, or while the rule has nothing to swap, the buffer samples exactly like SB3's :class:`ReplayBuffer`.

Layout of a sampled batch: the first ``last_n_counterfactual`` rows are counterfactual, the rest are real
(the batch indices are i.i.d., so putting them first changes nothing in distribution); ``last_changed_rows``
marks the rows where some dim was actually swapped (a counterfactual row whose mask is empty is the stored
transition itself). Batch indices come from numpy's global RNG as in SB3; partners from the rule's own
generator.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.vec_env import VecNormalize


class SwapRule(Protocol):
    """What the buffer asks at sampling time."""

    @property
    def swaps_possible(self) -> bool:
        """Whether any dim may be swapped at all now."""

    def plan_swaps(
        self, rows: np.ndarray, row_envs: np.ndarray, upper: int, n_envs: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Partner slots and envs for ``rows``, and the ``(len(rows), |S|)`` boolean mask of dims to swap."""


class CounterfactualReplayBuffer(ReplayBuffer):
    """SB3 replay buffer that swaps state dims between sampled transitions as its :class:`SwapRule` says.

    Args:
        rho: fraction of each batch made counterfactual (while the rule can swap something).
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
        self.swap_rule: SwapRule | None = None
        self.last_n_counterfactual = 0
        self.last_changed_rows = np.zeros(0, dtype=bool)
        self._reset_stats()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["swap_rule"] = None  # the rule belongs to the agent; it is linked again after loading
        return state

    def set_swap_rule(self, rule: SwapRule | None) -> None:
        """Use ``rule`` at sampling time (``None`` turns augmentation off)."""
        self.swap_rule = rule

    def _reset_stats(self) -> None:
        self.stats = {"sampled": 0, "counterfactual": 0, "changed_rows": 0, "swapped_dims": 0}

    def pop_stats(self) -> dict[str, float]:
        """Augmentation activity since the last call: ``augment/fraction`` (counterfactual share of the sampled
        rows), ``augment/changed_fraction`` (share of counterfactual rows where some dim was swapped) and
        ``augment/swapped_dims`` (mean swapped dims per counterfactual row)."""
        s = self.stats
        self._reset_stats()
        cf = s["counterfactual"]
        return {
            "augment/fraction": cf / s["sampled"] if s["sampled"] else 0.0,
            "augment/changed_fraction": s["changed_rows"] / cf if cf else 0.0,
            "augment/swapped_dims": s["swapped_dims"] / cf if cf else 0.0,
        }

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> ReplayBufferSamples:
        env_indices = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))
        obs = self.observations[batch_inds, env_indices, :]
        next_obs = self.next_observations[batch_inds, env_indices, :]
        n_cf = 0
        changed = np.zeros(len(batch_inds), dtype=bool)
        rule = self.swap_rule
        if rule is not None and rule.swaps_possible:
            n_cf = int(round(self.rho * len(batch_inds)))
        if n_cf > 0:
            upper = self.buffer_size if self.full else self.pos
            partners, partner_envs, mask = rule.plan_swaps(batch_inds[:n_cf], env_indices[:n_cf], upper, self.n_envs)
            # fancy indexing above already copied: these writes never touch the stored arrays
            obs[:n_cf] = np.where(mask, self.observations[partners, partner_envs], obs[:n_cf])
            next_obs[:n_cf] = np.where(mask, self.next_observations[partners, partner_envs], next_obs[:n_cf])
            changed[:n_cf] = mask.any(axis=1)
            self.stats["changed_rows"] += int(changed.sum())
            self.stats["swapped_dims"] += int(mask.sum())
        self.last_n_counterfactual = n_cf
        self.last_changed_rows = changed
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
