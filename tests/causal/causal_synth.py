"""Synthetic data for the causal tests: linear non-Gaussian SEMs with known DAGs and a toy MDP."""

from __future__ import annotations

import numpy as np

from causal.synthetic import random_sem  # noqa: F401  (re-exported for the tests)


def order_consistent(order: list[int], B: np.ndarray) -> bool:
    """Every true edge ``j -> i`` has ``j`` before ``i`` in ``order``."""
    rank = {v: k for k, v in enumerate(order)}
    return all(rank[j] < rank[i] for i, j in np.argwhere(B != 0))


def f1(true: np.ndarray, est: np.ndarray) -> float:
    """F1 score of the estimated (directed) edge set."""
    t, e = true != 0, est != 0
    tp = float((t & e).sum())
    if tp == 0:
        return 0.0
    precision, recall = tp / e.sum(), tp / t.sum()
    return 2 * precision * recall / (precision + recall)


def toy_mdp(n: int, seed: int = 0, state_dim: int = 8, action_dim: int = 3, relevant=(0, 2, 5)):
    """Transitions where the reward depends on a known subset of state dims (the rest are distractors)."""
    rng = np.random.default_rng(seed)
    S = rng.laplace(size=(n, state_dim))
    A = rng.uniform(-1.0, 1.0, size=(n, action_dim))
    coef = np.zeros(state_dim)
    coef[list(relevant)] = rng.choice([-1.0, 1.0], size=len(relevant)) * rng.uniform(0.6, 1.2, size=len(relevant))
    R = S @ coef + 0.7 * A[:, 0] + 0.2 * rng.laplace(size=n)
    S_next = 0.8 * S + 0.1 * rng.laplace(size=(n, state_dim))
    S_next[:, :action_dim] += 0.5 * A
    return S, A, R, S_next
