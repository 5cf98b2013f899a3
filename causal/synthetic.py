"""Synthetic linear non-Gaussian structural equation models with known DAGs (tests and benchmarks)."""

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
