"""LARS-lasso path (KKT conditions at every knot) and adaptive lasso with BIC."""

from __future__ import annotations

import numpy as np
import pytest

from causal.lasso import adaptive_lasso_bic, lars_lasso_path, moments, ols_from_moments


def _design(n: int, p: int, seed: int, corr: float = 0.5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X[:, 1:] += corr * X[:, :1]  # correlated predictors make the path drop variables sometimes
    X -= X.mean(0)
    beta = np.zeros(p)
    beta[: p // 2] = rng.uniform(0.5, 2.0, size=p // 2) * rng.choice([-1, 1], size=p // 2)
    y = X @ beta + 0.5 * rng.normal(size=n)
    return X, y - y.mean(), beta


@pytest.mark.parametrize("seed", range(4))
def test_every_knot_satisfies_the_lasso_kkt_conditions(seed):
    X, y, _ = _design(200, 8, seed, corr=0.9 if seed % 2 else 0.3)
    gram, xy = X.T @ X, X.T @ y
    path = lars_lasso_path(gram, xy, X.shape[0])
    assert np.all(path[0] == 0)
    for beta in path[1:]:
        grad = xy - gram @ beta  # X'(y - X beta)
        lam = np.abs(grad).max()
        active = beta != 0
        np.testing.assert_allclose(grad[active], lam * np.sign(beta[active]), rtol=1e-6, atol=1e-8)
        assert np.all(np.abs(grad[~active]) <= lam * (1 + 1e-8))
    np.testing.assert_allclose(path[-1], np.linalg.solve(gram, xy), rtol=1e-8, atol=1e-10)


def test_adaptive_lasso_finds_the_true_support():
    X, y, beta = _design(3000, 10, 7)
    data = np.column_stack([X, y])
    coef = adaptive_lasso_bic(moments(data), list(range(10)), 10)
    np.testing.assert_array_equal(coef != 0, beta != 0)
    np.testing.assert_allclose(coef[beta != 0], beta[beta != 0], atol=0.05)


def test_kept_coefficients_are_ols_on_the_original_scale():
    X, y, beta = _design(2000, 6, 3)
    data = np.column_stack([X * 5.0, 3.0 * y + 2.0])
    coef = adaptive_lasso_bic(moments(data), list(range(6)), 6)
    keep = coef != 0
    mom = moments(data)
    np.testing.assert_allclose(coef[keep], ols_from_moments(mom.cov, np.flatnonzero(keep), 6), rtol=1e-10)
    np.testing.assert_allclose(coef[keep], 3.0 * beta[keep] / 5.0, atol=0.03)


def test_too_few_samples_is_a_clear_error():
    X, y, _ = _design(6, 5, 0)
    with pytest.raises(ValueError, match="more samples"):
        adaptive_lasso_bic(moments(np.column_stack([X, y])), list(range(5)), 5)


def test_collinear_predictors_do_not_crash():
    X, y, _ = _design(300, 4, 1)
    data = np.column_stack([X, X[:, 0], y])  # column 4 duplicates column 0
    coef = adaptive_lasso_bic(moments(data), list(range(5)), 5)
    assert np.all(np.isfinite(coef))


@pytest.mark.parametrize("seed", range(3))
def test_early_stop_selects_the_whole_paths_model(seed):
    rng = np.random.default_rng(seed)
    for _ in range(15):
        n, p = int(rng.choice([200, 2000])), int(rng.integers(5, 60))
        mixing = np.eye(p) + rng.normal(size=(p, p)) * (rng.random((p, p)) < rng.uniform(0.05, 0.4))
        X = rng.laplace(size=(n, p)) @ mixing
        mom, target = moments(X), int(rng.integers(p))
        preds = [k for k in range(p) if k != target]
        early = adaptive_lasso_bic(mom, preds, target, early_stop=True)
        full = adaptive_lasso_bic(mom, preds, target, early_stop=False)
        np.testing.assert_array_equal(early, full)


def test_early_stop_shortens_the_path():
    X, y, _ = _design(3000, 40, 2)
    gram, xy = X.T @ X, X.T @ y
    beta = np.linalg.solve(gram, xy)
    sigma2 = float(((y - X @ beta) ** 2).sum() / (3000 - 40 - 1))
    full = lars_lasso_path(gram, xy, 3000)
    early = lars_lasso_path(gram, xy, 3000, bic_stop=(float(y @ y), sigma2))
    assert len(early) < len(full)
    np.testing.assert_allclose(early, full[: len(early)])
