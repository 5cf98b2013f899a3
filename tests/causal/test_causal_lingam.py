"""DirectLiNGAM: order and edges on known DAGs, prior knowledge, exactness of the branch-and-bound search."""

from __future__ import annotations

import numpy as np
import pytest
from causal_synth import f1, order_consistent, random_sem

from causal.lingam import (
    _entropy_rows,
    _partial_orders,
    causal_order,
    direct_lingam,
    make_prior_knowledge,
)


@pytest.mark.parametrize("d,n,seed", [(5, 2000, 0), (10, 5000, 1), (10, 5000, 2), (15, 5000, 3)])
def test_recovers_order_and_edges(d, n, seed):
    X, B = random_sem(d, n, seed)
    fit = direct_lingam(X)
    assert order_consistent(fit.causal_order, B)
    assert sorted(fit.causal_order) == list(range(d))
    score = f1(B, fit.adjacency)
    assert score >= 0.9, f"F1 {score:.3f}"
    nz = B != 0
    np.testing.assert_allclose(fit.adjacency[nz], B[nz], atol=0.1)  # coefficients on the data's scale


def _brute_force_order(X: np.ndarray) -> list[int]:
    """The textbook DirectLiNGAM loop: every ordered pair, no pruning (the definition we must match)."""
    n, d = X.shape
    rows = X.T.copy()
    remaining, order = list(range(d)), []
    while remaining:
        if len(remaining) == 1:
            order.append(remaining.pop())
            break
        Z = rows[remaining]
        Z = (Z - Z.mean(1, keepdims=True)) / Z.std(1, keepdims=True)
        h = _entropy_rows(Z.copy())
        scores = []
        for i in range(len(remaining)):
            total = 0.0
            for j in range(len(remaining)):
                if i == j:
                    continue
                c = np.cov(Z[i], Z[j])[0, 1] / np.var(Z[j])
                r_ij, r_ji = Z[i] - c * Z[j], Z[j] - np.cov(Z[j], Z[i])[0, 1] / np.var(Z[i]) * Z[i]
                hr = _entropy_rows(np.stack([r_ij / r_ij.std(), r_ji / r_ji.std()]))
                total += min(0.0, (h[j] + hr[0]) - (h[i] + hr[1])) ** 2
            scores.append(total)
        chosen = remaining[int(np.argmin(scores))]
        order.append(chosen)
        remaining.remove(chosen)
        x_m = rows[chosen]
        for i in remaining:
            rows[i] = rows[i] - np.cov(rows[i], x_m)[0, 1] / np.var(x_m) * x_m
    return order


@pytest.mark.parametrize("seed,d,batch", [(0, 8, 8), (1, 8, 2), (2, 8, 3), (3, 12, 8), (4, 12, 1)])
def test_branch_and_bound_matches_exhaustive_search(seed, d, batch, monkeypatch):
    import causal.pwling

    monkeypatch.setattr(causal.pwling, "_FIRST_BATCH", batch)
    X, _ = random_sem(d, 800, seed, edge_prob=0.5)
    order, evaluated = causal_order(X, tolerance=0.0)
    assert order == _brute_force_order(X)
    assert evaluated <= (d + 1) * d * (d - 1) / 3  # never more than the exhaustive count


@pytest.mark.parametrize("seed", [5, 6])
def test_exact_search_matches_exhaustive_search_in_float64_too(seed):
    X, _ = random_sem(10, 1500, seed, edge_prob=0.4)
    assert causal_order(X, tolerance=0.0, dtype=np.float64)[0] == _brute_force_order(X)


def test_gaussian_data_still_returns_a_full_order():
    X = np.random.default_rng(0).normal(size=(500, 6))
    order, _ = causal_order(X)
    assert sorted(order) == list(range(6))


def test_sink_prior_is_respected():
    X, B = random_sem(6, 3000, 4)
    source = int(np.flatnonzero((B != 0).any(axis=0) & ~(B != 0).any(axis=1))[0])  # a root with children
    fit = direct_lingam(X, make_prior_knowledge(6, sinks=[source]))
    assert fit.causal_order[-1] == source
    assert np.all(fit.adjacency[:, source] == 0)


def test_no_path_prior_removes_the_edge():
    X, B = random_sem(6, 3000, 5, edge_prob=0.6)
    i, j = map(int, np.argwhere(B != 0)[0])  # true edge j -> i
    free = direct_lingam(X)
    assert free.adjacency[i, j] != 0
    fit = direct_lingam(X, make_prior_knowledge(6, no_paths=[(j, i)]))
    assert fit.adjacency[i, j] == 0
    assert fit.causal_order.index(i) < fit.causal_order.index(j)


def test_prior_knowledge_matrix_convention():
    pk = make_prior_knowledge(3, sinks=[2], paths=[(0, 1)])
    assert pk[1, 0] == 1 and (pk[:2, 2] == 0).all() and (np.diag(pk) == -1).all()
    pairs = {tuple(p) for p in _partial_orders(pk).tolist()}
    assert pairs == {(0, 1), (0, 2), (1, 2)}
    assert _partial_orders(np.full((3, 3), -1)) is None


def test_inconsistent_and_cyclic_priors_raise():
    with pytest.raises(ValueError, match="both"):
        _partial_orders(make_prior_knowledge(3, paths=[(0, 1), (1, 0)]))
    X, _ = random_sem(3, 200, 0)
    with pytest.raises(ValueError, match="cyclic"):
        causal_order(X, make_prior_knowledge(3, paths=[(0, 1), (1, 2), (2, 0)]))


def test_constant_column_is_a_clear_error_and_a_copy_is_handled():
    X, _ = random_sem(4, 200, 0)
    X[:, 2] = 1.0
    with pytest.raises(ValueError, match="constant"):
        causal_order(X)
    X, _ = random_sem(4, 200, 0)
    X[:, 3] = 2.0 * X[:, 0]  # a deterministic copy: no linear-algebra error, the copy edge is found
    fit = direct_lingam(X)
    # either direction is a valid DAG for an exact copy: x3 = 2 x0, or x0 = x3 / 2
    if fit.causal_order.index(0) < fit.causal_order.index(3):
        assert fit.adjacency[3, 0] == pytest.approx(2.0) and np.count_nonzero(fit.adjacency[3]) == 1
    else:
        assert fit.adjacency[0, 3] == pytest.approx(0.5) and np.count_nonzero(fit.adjacency[0]) == 1
