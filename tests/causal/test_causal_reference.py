"""Agreement with the reference ``lingam`` package (test-only extra; skipped when it is not installed).

Run in the reference venv (built as ``.ci/run`` does)::

    .venv-lingam/bin/python -m pytest -q -p no:cacheprovider tests/causal/test_causal_reference.py

``tolerance=0`` (exact search) must give the reference's causal order and adjacency (1e-6), in float32
and float64. The default per-pair tolerance may order variables whose pwling scores are within it
differently (mutually unrelated variables); the adjacency must still be the reference's (1e-6).
"""

from __future__ import annotations

import numpy as np
import pytest
from causal_synth import random_sem, toy_mdp

from causal.lasso import adaptive_lasso_bic, moments
from causal.lingam import direct_lingam, make_prior_knowledge

lingam = pytest.importorskip("lingam")
lingam_utils = pytest.importorskip("lingam.utils")


def _standardised(X: np.ndarray) -> np.ndarray:
    return (X - X.mean(0)) / X.std(0)


CASES = [(5, 1000, 0), (8, 500, 1), (10, 5000, 2), (12, 2000, 3), (15, 3000, 4)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d,n,seed", CASES)
def test_same_order_and_adjacency_as_lingam(d, n, seed, dtype):
    X = _standardised(random_sem(d, n, seed)[0])
    ours = direct_lingam(X, tolerance=0.0, dtype=dtype)
    ref = lingam.DirectLiNGAM().fit(X)
    assert ours.causal_order == list(ref.causal_order_)
    np.testing.assert_array_equal(ours.adjacency != 0, ref.adjacency_matrix_ != 0)
    np.testing.assert_allclose(ours.adjacency, ref.adjacency_matrix_, atol=1e-6)


@pytest.mark.parametrize("d,n,seed", CASES)
def test_default_tolerance_gives_the_reference_adjacency(d, n, seed):
    X = _standardised(random_sem(d, n, seed)[0])
    ours = direct_lingam(X)
    ref = lingam.DirectLiNGAM().fit(X)
    assert sorted(ours.causal_order) == list(range(d))
    np.testing.assert_array_equal(ours.adjacency != 0, ref.adjacency_matrix_ != 0)
    np.testing.assert_allclose(ours.adjacency, ref.adjacency_matrix_, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_same_result_with_prior_knowledge(seed):
    X = _standardised(random_sem(9, 2000, 10 + seed)[0])
    pk = make_prior_knowledge(9, sinks=[8], no_paths=[(0, 3), (5, 1)], paths=[(2, 7)])
    ref_pk = lingam_utils.make_prior_knowledge(9, sink_variables=[8], no_paths=[(0, 3), (5, 1)], paths=[(2, 7)])
    np.testing.assert_array_equal(pk, ref_pk)
    ours = direct_lingam(X, pk, tolerance=0.0)
    ref = lingam.DirectLiNGAM(prior_knowledge=ref_pk).fit(X)
    assert ours.causal_order == list(ref.causal_order_)
    np.testing.assert_allclose(ours.adjacency, ref.adjacency_matrix_, atol=1e-6)


def test_reward_graph_of_an_mdp_matches_lingam():
    S, A, R, _ = toy_mdp(3000, seed=0)
    X = _standardised(np.column_stack([S, A, R]))
    pk = make_prior_knowledge(X.shape[1], sinks=[X.shape[1] - 1])
    ref = lingam.DirectLiNGAM(prior_knowledge=pk).fit(X)
    ours = direct_lingam(X, pk, tolerance=0.0)
    assert ours.causal_order == list(ref.causal_order_)
    np.testing.assert_allclose(ours.adjacency, ref.adjacency_matrix_, atol=1e-6)
    default = direct_lingam(X, pk)  # the reward row (the CIP weights) is the reference's with the tolerance too
    np.testing.assert_allclose(default.adjacency[-1], ref.adjacency_matrix_[-1], atol=1e-6)


def test_adaptive_lasso_matches_reference_on_many_problems():
    rng = np.random.default_rng(0)
    for _ in range(60):
        n, p = int(rng.choice([40, 300, 3000])), int(rng.integers(2, 16))
        X = rng.laplace(size=(n, p)) @ (np.eye(p) + rng.normal(size=(p, p)) * (rng.random((p, p)) < 0.3))
        target = int(rng.integers(p))
        preds = [k for k in range(p) if k != target]
        ref = lingam_utils.predict_adaptive_lasso(X, preds, target)
        ours = adaptive_lasso_bic(moments(X), preds, target)
        np.testing.assert_array_equal(ours != 0, ref != 0)
        np.testing.assert_allclose(ours, ref, atol=1e-6)
