"""DirectLiNGAM at scale: float32 vs float64, the per-pair tolerance, warm starts, SEM families."""

from __future__ import annotations

import numpy as np
import pytest
from causal_synth import random_sem

from causal.lingam import DEFAULT_TOLERANCE, _Step, causal_order, direct_lingam
from causal.pwling import REL_TOLERANCE
from causal.synthetic import sem_family


def _step_scores(X: np.ndarray, order: list[int]) -> list[tuple[float, float, int]]:
    """For each step of ``order``: (chosen variable's pwling score, smallest score, remaining count).

    Every pair is evaluated (float64, no pruning), with the residualisation of the reference.
    """
    n = X.shape[0]
    rows = (X - X.mean(0)).T.copy()
    remaining = list(range(X.shape[1]))
    out = []
    for chosen in order[:-1]:
        cov = rows @ rows.T / n
        st = _Step(rows, cov, n)
        m = len(remaining)
        for k in range(m):
            todo = np.flatnonzero(np.isnan(st.D[k]))
            if todo.size:
                st.fill_row(k, todo)
        scores = (np.minimum(0.0, st.D) ** 2).sum(axis=1)
        local = remaining.index(chosen)
        out.append((float(scores[local]), float(scores.min()), m))
        x_m = rows[local]
        rows = np.delete(rows, local, axis=0)
        rows -= np.outer((rows @ x_m) / (n - 1) / (x_m @ x_m / n), x_m)
        remaining.pop(local)
    return out


@pytest.mark.parametrize("d,n,seed", [(5, 2000, 0), (10, 5000, 1), (10, 5000, 2), (15, 5000, 3)])
def test_float32_agrees_with_float64(d, n, seed):
    X, _ = random_sem(d, n, seed)
    for tolerance in (0.0, DEFAULT_TOLERANCE):
        f32 = direct_lingam(X, tolerance=tolerance, dtype=np.float32)
        f64 = direct_lingam(X, tolerance=tolerance, dtype=np.float64)
        assert f32.causal_order == f64.causal_order
        np.testing.assert_array_equal(f32.adjacency != 0, f64.adjacency != 0)
        np.testing.assert_allclose(f32.adjacency, f64.adjacency, atol=1e-12)  # the pruning is float64 in both


@pytest.mark.parametrize("graph,noise", [("sparse", "laplace"), ("dense", "exponential"), ("sparse", "uniform")])
def test_tolerance_picks_a_variable_within_tolerance_of_the_minimum(graph, noise):
    X, B = sem_family(14, 3000, 7, graph, noise)
    order, _ = causal_order(X, tolerance=DEFAULT_TOLERANCE)
    for chosen, best, m in _step_scores(X, order):
        assert chosen <= (1.0 + REL_TOLERANCE) * best + (m - 1) * DEFAULT_TOLERANCE + 1e-12
    exact, _ = causal_order(X, tolerance=0.0)
    assert [s[0] for s in _step_scores(X, exact)] == pytest.approx([s[1] for s in _step_scores(X, exact)], abs=1e-9)


def _two_windows(d: int, seed: int, graph: str, noise: str) -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping windows of one SEM's samples, as successive refits see them."""
    X, _ = sem_family(d, 3600, seed, graph, noise)
    return X[:3000], X[600:]


@pytest.mark.parametrize(
    "graph,noise,seed", [("sparse", "laplace", 0), ("dense", "uniform", 1), ("sparse", "exponential", 2)]
)
def test_warm_start_equals_cold_fit_when_exact(graph, noise, seed):
    X1, X2 = _two_windows(16, seed, graph, noise)
    previous = causal_order(X1, tolerance=0.0)[0]
    cold, n_cold = causal_order(X2, tolerance=0.0)
    warm, n_warm = causal_order(X2, tolerance=0.0, warm_order=previous)
    assert warm == cold
    worst = causal_order(X2, tolerance=0.0, warm_order=previous[::-1])[0]  # a bad hint changes only the work
    assert worst == cold


@pytest.mark.parametrize("graph,noise,seed", [("sparse", "laplace", 3), ("dense", "exponential", 4)])
def test_warm_start_with_tolerance_is_within_tolerance(graph, noise, seed):
    X1, X2 = _two_windows(16, seed, graph, noise)
    previous = direct_lingam(X1).causal_order
    cold = direct_lingam(X2)
    warm = direct_lingam(X2, warm_order=previous)
    for chosen, best, m in _step_scores(X2, warm.causal_order):
        assert chosen <= (1.0 + REL_TOLERANCE) * best + (m - 1) * DEFAULT_TOLERANCE + 1e-12
    np.testing.assert_array_equal(warm.adjacency != 0, cold.adjacency != 0)
    again = direct_lingam(X2, warm_order=warm.causal_order)  # a verified order is kept as it is
    assert again.causal_order == warm.causal_order
    assert again.pairs_evaluated <= min(warm.pairs_evaluated, cold.pairs_evaluated)


@pytest.mark.parametrize(
    "bad", [[0, 1, 2], list(range(15)) + [15, 15], [0] * 16, [float(i) for i in range(16)], np.arange(16).reshape(4, 4)]
)
def test_bad_warm_order_is_a_clear_error(bad):
    X, _ = sem_family(16, 300, 0)
    with pytest.raises(ValueError, match="warm_order must be a permutation of range"):
        causal_order(X, warm_order=bad)


def test_negative_tolerance_is_an_error():
    X, _ = sem_family(4, 300, 0)
    with pytest.raises(ValueError, match="tolerance"):
        causal_order(X, tolerance=-1.0)


def test_sem_family_is_one_sem_at_any_n_and_checks_its_arguments():
    X, B = sem_family(30, 2000, 3, "dense", "exponential")
    X_small, B_small = sem_family(30, 500, 3, "dense", "exponential")
    np.testing.assert_array_equal(B, B_small)
    np.testing.assert_allclose(X[:500], X_small)
    assert np.all(np.abs(X.std(axis=0) - np.sqrt(np.where((B != 0).any(axis=1), 2.0, 1.0))) < 0.15)
    _, B_sparse = sem_family(30, 10, 3, "sparse")
    assert (B != 0).sum() > 3 * (B_sparse != 0).sum()
    with pytest.raises(ValueError, match="graph"):
        sem_family(5, 10, 0, graph="tree")
    with pytest.raises(ValueError, match="noise"):
        sem_family(5, 10, 0, noise="gaussian")
