"""Adaptive lasso with BIC model selection, computed from second moments only.

Every regression that DirectLiNGAM (and the transition graph) runs is "regress column ``t`` on columns
``P``" of one data matrix. Instead of touching the ``N x d`` data for each of them, we form the moment
matrix once (:func:`moments`) and work on ``|P| x |P|`` sub-blocks: the OLS fit, the LARS-lasso path,
the residual sums of squares along the path and the BIC are all functions of ``X'X``, ``X'y`` and
``y'y``. That keeps a full fit at a few milliseconds whatever ``N`` is.

Semantics follow the reference pipeline (lingam's ``predict_adaptive_lasso`` on top of scikit-learn's
``LassoLarsIC(criterion="bic")``), re-derived here:

1. standardise (population std), OLS on the predictors, adaptive weights ``w = |beta_ols| ** gamma``;
2. LARS with the lasso modification on the re-weighted predictors ``X * w``; the model is chosen among
   the path's knots by ``BIC = n log(2 pi s2) + RSS / s2 + log(n) * df`` with ``s2`` the OLS residual
   variance ``RSS_ols / (n - p - 1)`` and ``df`` the number of non-zero coefficients;
3. edges are the non-zero coefficients; their values are re-estimated by OLS (with intercept) on the
   original scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Moments", "moments", "lars_lasso_path", "adaptive_lasso_bic", "ols_from_moments"]

_TINY32 = float(np.finfo(np.float32).tiny)
_EPS32 = float(np.finfo(np.float32).eps)
_EPS64 = float(np.finfo(np.float64).eps)
_COV_DECIMALS = int(np.finfo(np.float64).precision)

#: The LARS path stops early once ``n log(2 pi s2) + RSS_ols / s2 + log(n) (df - BIC_DROP_ALLOWANCE)`` (a lower
#: bound of the BIC of every later knot whose model is at most this many predictors smaller) exceeds the best
#: BIC so far. The lasso path only loses a predictor at a sign change, rarely; losing more than this many net
#: after the BIC minimum would be needed for the early stop to change the selected model.
BIC_DROP_ALLOWANCE = 3


@dataclass(frozen=True)
class Moments:
    """Centred second moments of a data matrix: ``cov = Xc' Xc / n`` (population), ``mean``, ``n``."""

    cov: np.ndarray
    mean: np.ndarray
    n: int

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))


def moments(X: np.ndarray) -> Moments:
    """Mean and population covariance of the columns of ``X`` (``n x d``)."""
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    Xc = X - mean
    return Moments(cov=(Xc.T @ Xc) / X.shape[0], mean=mean, n=X.shape[0])


def _min_pos(values: np.ndarray) -> float:
    """Smallest strictly positive entry (``inf`` when there is none)."""
    return float(np.where(values > 0, values, np.inf).min(initial=np.inf))


def ols_from_moments(cov: np.ndarray, predictors: np.ndarray, target: int) -> np.ndarray:
    """OLS slopes (with intercept) of column ``target`` on ``predictors``, from a covariance matrix.

    Uses a least-squares solve so that exactly collinear predictors give the minimum-norm solution
    instead of a linear-algebra error.
    """
    P = np.asarray(predictors, dtype=int)
    if P.size == 0:
        return np.zeros(0)
    return _solve(cov[np.ix_(P, P)], cov[P, target])


def _solve(G: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``G^-1 g``; the minimum-norm least-squares solution when ``G`` is singular."""
    try:
        return np.linalg.solve(G, g)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(G, g, rcond=None)[0]


def lars_lasso_path(
    gram: np.ndarray,
    xy: np.ndarray,
    n_samples: int,
    max_iter: int = 500,
    bic_stop: tuple[float, float] | None = None,
) -> np.ndarray:
    """Knots of the lasso path by LARS with the lasso modification (Efron et al. 2004).

    The inverse of the active block of ``gram`` is kept up to date by rank-one (bordering) updates when a
    predictor enters or leaves, so a step costs ``O(p k)`` instead of a ``k x k`` solve.

    Args:
        gram: ``X'X`` of the centred design (``p x p``).
        xy: ``X'y`` with the centred target (``p``).
        n_samples: number of rows (only used for the stopping rule ``max|corr| / n <= eps32``).
        max_iter: cap on LARS steps.
        bic_stop: ``(y'y, sigma2)`` to stop the path once no later knot can beat the best BIC so far
            (see :data:`BIC_DROP_ALLOWANCE`); ``None`` computes the whole path.

    Returns:
        ``(K + 1) x p`` coefficients at the knots, starting with the all-zero model.
    """
    p = gram.shape[0]
    cov = np.array(xy, dtype=np.float64)
    coef = np.zeros(p)
    path = [coef.copy()]
    active = np.zeros(0, dtype=np.int64)
    signs = np.zeros(0)
    inv = np.zeros((0, 0))  # inverse of gram[active][:, active]
    gram_a = np.empty((p, p), order="F")  # gram[:, active] in its first k columns
    inactive = np.ones(p, dtype=bool)
    drop = False
    prev_alpha = np.inf
    n_iter = 0
    if bic_stop is not None:
        yy, sigma2 = bic_stop
        bic_const = n_samples * np.log(2.0 * np.pi * sigma2)
        best_bic = bic_const + yy / sigma2  # the empty model
        floor = bic_const + (n_samples - p - 1.0)  # RSS >= RSS_ols = sigma2 (n - p - 1) at every knot
        log_n = float(np.log(n_samples))
        gram_coef = np.zeros(p)  # gram @ coef, updated along the path
    while True:
        k = active.size
        if k < p:
            masked = np.where(inactive, np.abs(cov), -1.0)
            j_best = int(np.argmax(masked))
            c_max = float(masked[j_best])
        else:
            j_best, c_max = -1, 0.0
        alpha = c_max / n_samples
        if alpha <= _EPS32 or n_iter >= max_iter or k >= p:
            break
        if not drop:
            # Schur complement of the candidate given the active set: a near-zero pivot means the
            # candidate is collinear with the active predictors; skip it (its correlation is zeroed).
            g_a = gram[j_best, active]
            b = inv @ g_a
            pivot = gram[j_best, j_best] - g_a @ b
            if not np.isfinite(pivot) or max(np.sqrt(abs(pivot)), _EPS64) < 1e-7:
                cov[j_best] = 0.0
                continue
            grown = np.empty((k + 1, k + 1))
            grown[:k, :k] = inv
            grown[:k, :k] += np.outer(b, b / pivot)
            grown[:k, k] = grown[k, :k] = -b / pivot
            grown[k, k] = 1.0 / pivot
            inv = grown
            gram_a[:, k] = gram[:, j_best]
            active = np.append(active, j_best)
            signs = np.append(signs, np.sign(cov[j_best]))
            inactive[j_best] = False
        if n_iter > 0 and prev_alpha < alpha:
            break  # residuals are at round-off level; alpha no longer decreases
        ls = inv @ signs
        aa = 1.0 / np.sqrt(max(float(ls @ signs), _EPS64))
        w = aa * ls
        idx_in = np.flatnonzero(inactive)
        direction = gram_a[:, : active.size] @ w  # gram @ (change of coef per unit step)
        corr_dir = np.around(direction[idx_in], decimals=_COV_DECIMALS)
        c_in = cov[idx_in]
        gamma = min(
            _min_pos((c_max - c_in) / (aa - corr_dir + _TINY32)),
            _min_pos((c_max + c_in) / (aa + corr_dir + _TINY32)),
            c_max / aa,
        )
        z = -coef[active] / (w + _TINY32)
        z_pos = _min_pos(z)
        drop = z_pos < gamma
        if drop:
            gamma = z_pos
        coef = coef.copy()
        coef[active] += gamma * w
        cov[idx_in] = c_in - gamma * corr_dir
        n_iter += 1
        prev_alpha = alpha
        if drop:
            gone = np.flatnonzero(z == z_pos)
            dropped = active[gone]
            for r in sorted(gone.tolist(), reverse=True):  # remove row/column r of the inverse (a Schur downdate)
                rest = np.arange(inv.shape[0]) != r
                inv = inv[np.ix_(rest, rest)] - np.outer(inv[rest, r], inv[r, rest]) / inv[r, r]
            keep = np.ones(active.size, dtype=bool)
            keep[gone] = False
            active, signs = active[keep], signs[keep]
            gram_a[:, : active.size] = gram_a[:, : keep.size][:, keep]
            inactive[dropped] = True
            cov[dropped] = xy[dropped] - gram[dropped] @ coef
        path.append(coef)
        if bic_stop is not None:
            gram_coef += gamma * direction
            rss = yy - 2.0 * (coef @ xy) + coef @ gram_coef
            best_bic = min(best_bic, bic_const + rss / sigma2 + log_n * active.size)
            if floor + log_n * (active.size - BIC_DROP_ALLOWANCE) > best_bic:
                break
    return np.array(path)


def _ols_noise_variance(gram: np.ndarray, xy: np.ndarray, yy: float, n: int) -> float:
    """BIC's noise-variance estimate ``RSS_ols / (n - p - 1)``."""
    beta_ols = _solve(gram, xy)
    rss_ols = max(yy - 2.0 * beta_ols @ xy + beta_ols @ gram @ beta_ols, 0.0)
    return float(rss_ols / (n - gram.shape[0] - 1))


def _bic_pick(gram: np.ndarray, xy: np.ndarray, yy: float, n: int, path: np.ndarray, sigma2: float) -> np.ndarray:
    """The knot minimising BIC (first on ties), with the OLS noise-variance estimate ``sigma2``."""
    if sigma2 <= 0.0:  # exact fit: every knot with the full model is equally good; take the OLS end
        return path[-1]
    rss = yy - 2.0 * path @ xy + ((path @ gram) * path).sum(axis=1)
    df = (np.abs(path) > _EPS64).sum(axis=1)
    bic = n * np.log(2.0 * np.pi * sigma2) + rss / sigma2 + np.log(n) * df
    return path[int(np.argmin(bic))]


def adaptive_lasso_bic(
    mom: Moments,
    predictors: np.ndarray | list[int],
    target: int,
    gamma: float = 1.0,
    max_iter: int = 500,
    early_stop: bool = True,
) -> np.ndarray:
    """Adaptive-lasso pruning with BIC, then OLS on the kept predictors (original scale).

    Args:
        mom: moments of the whole data matrix (see :func:`moments`).
        predictors: column indices of the regressors.
        target: column index of the response.
        gamma: exponent of the adaptive weights ``|beta_ols| ** gamma``.
        max_iter: cap on LARS steps.
        early_stop: stop the LARS path once no later knot can have a smaller BIC unless the path drops
            more than :data:`BIC_DROP_ALLOWANCE` predictors net from there (False: the whole path).

    Returns:
        Coefficients aligned with ``predictors``; pruned ones are exactly 0.

    Raises:
        ValueError: when ``n <= len(predictors) + 1`` (BIC's noise variance is undefined).
    """
    P = np.asarray(predictors, dtype=int)
    out = np.zeros(P.size)
    if P.size == 0:
        return out
    n = mom.n
    if n <= P.size + 1:
        raise ValueError(f"adaptive lasso needs more samples than predictors + 1 (n={n}, p={P.size})")
    std = mom.std
    cols = np.append(P, target)
    scale = np.where(std[cols] > 0, std[cols], 1.0)
    corr = mom.cov[np.ix_(cols, cols)] / np.outer(scale, scale)  # moments of the standardised columns
    G, g, yy = corr[:-1, :-1], corr[:-1, -1], corr[-1, -1]
    beta = ols_from_moments(corr, np.arange(P.size), P.size)
    weight = np.abs(beta) ** gamma
    gram_w = G * np.outer(weight, weight) * n
    xy_w = g * weight * n
    sigma2 = _ols_noise_variance(gram_w, xy_w, yy * n, n)
    stop = (yy * n, sigma2) if early_stop and sigma2 > 0.0 else None
    path = lars_lasso_path(gram_w, xy_w, n, max_iter=max_iter, bic_stop=stop)
    best = _bic_pick(gram_w, xy_w, yy * n, n, path, sigma2)
    keep = np.abs(best * weight) > 0.0
    if keep.any():  # OLS on the standardised scale (well conditioned whatever the units), then rescaled
        sub = np.append(np.flatnonzero(keep), P.size)
        out[keep] = ols_from_moments(corr[np.ix_(sub, sub)], np.arange(sub.size - 1), sub.size - 1)
        out[keep] *= scale[-1] / scale[:-1][keep]
    return out
