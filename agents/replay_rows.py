"""Reading transitions out of a Stable-Baselines3 replay buffer for the causal fit, oldest first.

SB3 stores ``(buffer_size, n_envs, dim)`` arrays in a ring; these helpers find the filled slots, take the most
recent ones across the wrap and flatten the env axis, mapping observations through an optional causal view
(pixel or dict observations: :class:`agents.causal_view.CausalView`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from stable_baselines3.common.buffers import ReplayBuffer

View = Callable[[Any], np.ndarray]
"""Stored observations (leading axes ``(slots, n_envs)``) -> ``(rows, |S|)`` float64 causal view."""


def stored_slots(buffer: ReplayBuffer) -> int:
    """How many slots of ``buffer`` hold transitions."""
    return buffer.buffer_size if buffer.full else buffer.pos


def rows_of(observations: Any, slots: np.ndarray, view: View | None = None) -> np.ndarray:
    """``(len(slots) * n_envs, dim)`` float64 observations of buffer ``slots`` (through ``view`` if given; dict
    observations need one)."""
    if isinstance(observations, dict):
        picked = {k: v[slots] for k, v in observations.items()}
        if view is None:
            raise TypeError("dict observations need a view (agents.causal_view.CausalView.stored)")
        return view(picked)
    picked = observations[slots]
    return (
        view(picked) if view is not None else picked.reshape(picked.shape[0] * picked.shape[1], -1).astype(np.float64)
    )


def recent_transitions(
    buffer: ReplayBuffer, n: int, view: View | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The most recent ``n`` stored transitions (fewer if fewer exist), oldest first.

    Handles a wrapped buffer and several envs (SB3 arrays are ``(buffer_size, n_envs, dim)``; the newest
    ``ceil(n / n_envs)`` slots of every env are taken). ``view`` maps stored observations to the causal view
    (pixel observations, :class:`agents.causal_view.CausalView`).

    Returns:
        ``S (m, |S|)``, ``A (m, |A|)``, ``R (m,)``, ``S' (m, |S|)`` as float64.
    """
    slots = min(stored_slots(buffer), -(-int(n) // buffer.n_envs))
    idx = (buffer.pos - slots + np.arange(slots)) % buffer.buffer_size

    def take(array: np.ndarray) -> np.ndarray:
        return array[idx].reshape(slots * buffer.n_envs, -1).astype(np.float64)

    states, next_states = rows_of(buffer.observations, idx, view), rows_of(buffer.next_observations, idx, view)
    return states, take(buffer.actions), take(buffer.rewards)[:, 0], next_states
