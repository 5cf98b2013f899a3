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


GRAPHS = ("sparse", "dense")
NOISES = ("uniform", "laplace", "exponential")


def _noise(rng: np.random.Generator, kind: str, size: tuple[int, int]) -> np.ndarray:
    """Zero-mean, unit-variance non-Gaussian noise of one family."""
    if kind == "uniform":
        return rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), size=size)
    if kind == "laplace":
        return rng.laplace(scale=1.0 / np.sqrt(2.0), size=size)
    if kind == "exponential":
        return rng.exponential(size=size) - 1.0
    raise ValueError(f"sem_family: noise must be one of {list(NOISES)}, got '{kind}'")


def sem_family(
    d: int, n: int, seed: int, graph: str = "sparse", noise: str = "uniform"
) -> tuple[np.ndarray, np.ndarray]:
    """Data of a random linear SEM from one benchmark family (graph density x noise distribution).

    ``graph="sparse"``: about 1.5 parents per variable on average (edge probability ``3 / (d - 1)``);
    ``graph="dense"``: edge probability 0.3. Noise is uniform, Laplace or (centred) exponential. Each
    variable's parents jointly explain as much variance as its own noise (the coefficients of a row are
    rescaled so), so the data stay on a unit scale at any ``d`` and density. Columns are shuffled.

    Returns:
        ``(X, B)`` with ``B[i, j] != 0`` for the edge ``x_j -> x_i``.
    """
    if graph not in GRAPHS:
        raise ValueError(f"sem_family: graph must be one of {list(GRAPHS)}, got '{graph}'")
    rng = np.random.default_rng(seed)
    edge_prob = min(1.0, 3.0 / max(d - 1, 1)) if graph == "sparse" else 0.3
    perm = rng.permutation(d)  # perm[k]: column of the k-th variable in causal order
    B = np.zeros((d, d))
    cov = np.zeros((d, d))  # population covariance of the variables, in causal order
    for k in range(d):
        parents = np.flatnonzero(rng.random(k) < edge_prob)
        if parents.size:
            coef = rng.choice([-1.0, 1.0], size=parents.size) * rng.uniform(0.5, 1.5, size=parents.size)
            coef /= np.sqrt(coef @ cov[np.ix_(parents, parents)] @ coef)  # parents explain unit variance
            B[perm[k], perm[parents]] = coef
            cov[k, :k] = cov[:k, k] = coef @ cov[parents, :k]
        cov[k, k] = 2.0 if parents.size else 1.0
    E = _noise(rng, noise, (n, d))  # drawn after the graph: the same seed gives the same SEM at any n
    X = np.linalg.solve(np.eye(d) - B, E.T).T
    return X, B
