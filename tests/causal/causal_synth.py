"""Synthetic data for the causal tests: linear non-Gaussian SEMs with known DAGs and a toy MDP."""

from __future__ import annotations

import numpy as np


def random_sem(d: int, n: int, seed: int, edge_prob: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Data of a random linear SEM ``x = B x + e`` with uniform (non-Gaussian) noise.

    Returns ``(X, B)`` with ``B[i, j] != 0`` for the edge ``x_j -> x_i``; the variables are shuffled so
    that the causal order is not the column order.
    """
    rng = np.random.default_rng(seed)
    perm = rng.permutation(d)
    B = np.zeros((d, d))
    for a in range(d):
        for b in range(a):
            if rng.random() < edge_prob:
                B[perm[a], perm[b]] = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.5)
    E = rng.uniform(-1.0, 1.0, size=(n, d)) * rng.uniform(0.5, 1.5, size=d)
    X = np.linalg.solve(np.eye(d) - B, E.T).T
    return X, B


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
