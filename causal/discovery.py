"""Entry point: fit a :class:`FactoredGraph` to transition data ``(S, A, R, S')``.

Pipeline (spec: shared/specs/cip.md section 1):

1. rows holding NaN or inf are dropped (counted in ``n_rows_dropped``, with a warning);
2. constant columns of ``S`` and ``A`` are dropped, and so are columns that are an exact linear function
   of the columns before them (duplicated observation slots); they are reported in
   ``dropped_state`` / ``dropped_action`` and get weight 0 (state) or 1 (action);
3. every column is standardised (z-score);
4. reward graph: DirectLiNGAM on ``[S | A | R]`` with ``R`` a sink (``method="direct_lingam"``), or the
   cheap baseline ``method="regression"`` (OLS of ``R`` on ``[S | A]``, edges where ``|t| > t_threshold``);
5. transition graph (optional, ``transition=True``): for each ``s'_j`` an adaptive-lasso/BIC regression on
   ``[S | A]`` (or the OLS t-test baseline);
6. weights ``w_s``, ``w_a`` from the reward row (see :mod:`causal.graph`).

Everything is deterministic; ``seed`` only picks the subsample when ``max_samples`` caps ``N``.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from causal.graph import DEFAULT_TEMPERATURE, WEIGHT_SCALES, FactoredGraph, cip_weights
from causal.lasso import Moments, adaptive_lasso_bic, moments
from causal.lingam import BACKENDS, direct_lingam, make_prior_knowledge

__all__ = ["METHODS", "fit_factored_graph", "ols_t_test"]

METHODS = ("direct_lingam", "regression")
_CONST_TOL = 1e-9
_COLLINEAR_TOL = 1e-10


def _as_2d(name: str, x: np.ndarray, n: int | None) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"fit_factored_graph: '{name}' must be a 1-D or 2-D array, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"fit_factored_graph: '{name}' has {arr.shape[0]} rows, expected {n} (one per transition)")
    return arr


def _informative_columns(X: np.ndarray) -> tuple[list[int], list[int], list[int]]:
    """Split column indices into (kept, constant, collinear-with-earlier-kept)."""
    std = X.std(axis=0)
    scale = np.maximum(1.0, np.abs(X.mean(axis=0)))
    const = [int(i) for i in np.flatnonzero(std <= _CONST_TOL * scale)]
    kept: list[int] = []
    collinear: list[int] = []
    cand = [i for i in range(X.shape[1]) if i not in const]
    if not cand:
        return kept, const, collinear
    corr = np.corrcoef(X[:, cand], rowvar=False).reshape(len(cand), len(cand))
    for pos, col in enumerate(cand):
        if kept:
            idx = [cand.index(k) for k in kept]
            c = corr[idx, pos]
            beta = np.linalg.lstsq(corr[np.ix_(idx, idx)], c, rcond=None)[0]
            if 1.0 - c @ beta < _COLLINEAR_TOL:
                collinear.append(col)
                continue
        kept.append(col)
    return kept, const, collinear


def ols_t_test(mom: Moments, predictors: list[int], target: int, t_threshold: float) -> np.ndarray:
    """Standardised OLS coefficients of ``target`` on ``predictors``, zeroed where ``|t| <= t_threshold``."""
    P = np.asarray(predictors, dtype=int)
    std = np.where(mom.std > 0, mom.std, 1.0)
    cols = np.append(P, target)
    corr = mom.cov[np.ix_(cols, cols)] / np.outer(std[cols], std[cols])
    G, g = corr[:-1, :-1], corr[:-1, -1]
    inv = np.linalg.pinv(G)
    beta = inv @ g
    dof = max(mom.n - P.size - 1, 1)
    sigma2 = max(1.0 - beta @ g, 0.0) * mom.n / dof
    se = np.sqrt(np.maximum(sigma2 * np.diag(inv) / mom.n, 1e-300))
    return np.where(np.abs(beta / se) > t_threshold, beta, 0.0)


def _standardise(X: np.ndarray) -> np.ndarray:
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)


def fit_factored_graph(
    states: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
    next_states: np.ndarray | None = None,
    *,
    method: str = "direct_lingam",
    temperature: float = DEFAULT_TEMPERATURE,
    weight_scale: str = "relative",
    seed: int = 0,
    transition: bool = True,
    max_samples: int | None = None,
    t_threshold: float = 3.0,
    gamma: float = 1.0,
    warm_order: list[str] | None = None,
    backend: str = "numpy",
    device: Any = None,
) -> FactoredGraph:
    """Fit the factored reward/transition graph of an MDP and the CIP weights.

    Args:
        states: ``N x |S|`` states ``s_t``.
        actions: ``N x |A|`` (or ``N``) actions ``a_t``.
        rewards: ``N`` (or ``N x 1``) rewards ``r_t``.
        next_states: ``N x |S|`` next states ``s_{t+1}``; needed when ``transition`` is True.
        method: ``"direct_lingam"`` (reward as a sink, adaptive-lasso/BIC pruning) or ``"regression"``
            (OLS with a t-test threshold; same interface, much cheaper, no causal order among inputs).
        temperature: softmax temperature ``T`` of the weights.
        weight_scale: ``relative`` (|b| over the block's largest |b|) or ``absolute`` (see :mod:`causal.graph`).
        seed: picks the subsample when ``max_samples`` is set (the fit itself is deterministic).
        transition: also fit the transition block (``|S|`` regressions); False skips it.
        max_samples: use at most this many (randomly chosen) transitions.
        t_threshold: ``|t|`` above which the regression baseline keeps an edge.
        gamma: exponent of the adaptive-lasso weights.
        warm_order: the previous fit's ``FactoredGraph.causal_order`` (names such as ``"s3"``, ``"a0"``,
            ``"r"``): DirectLiNGAM verifies and repairs it instead of searching from scratch (see
            :func:`causal.lingam.direct_lingam`). Names no longer fitted are skipped, new ones go last; it
            only steers the search. Ignored by ``method="regression"``.
        backend: DirectLiNGAM's order search: ``"numpy"`` (branch and bound, CPU) or ``"torch"`` (the dense
            search of :mod:`causal.lingam_torch` on ``device``; torch imported only then). Same graph up to
            rounding; the pruning and the transition block are numpy either way.
        device: torch device of the ``"torch"`` backend (default CPU); ignored by ``"numpy"``.

    Returns:
        The fitted :class:`FactoredGraph` (coefficients on standardised variables).

    Raises:
        ValueError: malformed shapes, unknown method, or fewer than ``d + 2`` finite transitions.
    """
    t0 = time.perf_counter()
    if method not in METHODS:
        raise ValueError(f"fit_factored_graph: unknown method '{method}' (expected one of {list(METHODS)})")
    if backend not in BACKENDS:
        raise ValueError(f"fit_factored_graph: unknown backend '{backend}' (expected one of {list(BACKENDS)})")
    if temperature <= 0:
        raise ValueError(f"fit_factored_graph: temperature must be > 0, got {temperature}")
    if weight_scale not in WEIGHT_SCALES:
        raise ValueError(f"fit_factored_graph: weight_scale must be one of {list(WEIGHT_SCALES)}, got '{weight_scale}'")
    S = _as_2d("states", states, None)
    n = S.shape[0]
    A = _as_2d("actions", actions, n)
    R = _as_2d("rewards", rewards, n)
    if R.shape[1] != 1:
        raise ValueError(f"fit_factored_graph: 'rewards' must have one column, got shape {R.shape}")
    if transition and next_states is None:
        raise ValueError("fit_factored_graph: transition=True needs 'next_states' (or pass transition=False)")
    S2 = _as_2d("next_states", next_states, n) if transition else np.zeros((n, 0))
    if transition and S2.shape[1] != S.shape[1]:
        raise ValueError(f"fit_factored_graph: 'next_states' has {S2.shape[1]} columns, 'states' has {S.shape[1]}")
    ds, da = S.shape[1], A.shape[1]
    if ds == 0 or da == 0:
        raise ValueError(f"fit_factored_graph: need at least one state and one action dim (got {ds}, {da})")

    data = np.concatenate([S, A, R, S2], axis=1)
    finite = np.isfinite(data).all(axis=1)
    n_bad = int((~finite).sum())
    if n_bad:
        warnings.warn(f"fit_factored_graph: dropped {n_bad} of {n} transitions holding NaN or inf", stacklevel=2)
        data = data[finite]
    if max_samples is not None and data.shape[0] > max_samples:
        rows = np.sort(np.random.default_rng(seed).choice(data.shape[0], size=max_samples, replace=False))
        data = data[rows]
    n_ok = data.shape[0]
    d_total = ds + da + 1
    if n_ok < d_total + 2:
        raise ValueError(
            f"fit_factored_graph: need at least {d_total + 2} finite transitions for {ds} state + {da} action dims"
            f" + reward, got {n_ok} ({n_bad} dropped for NaN/inf)"
        )

    kept, const, collinear = _informative_columns(data[:, : ds + da])
    notes = [f"dropped constant column {_name(c, ds)}" for c in const]
    notes += [f"dropped column {_name(c, ds)}: a linear function of earlier columns" for c in collinear]
    dropped = sorted(const + collinear)
    r_col = ds + da
    reward_constant = bool(data[:, r_col].std() <= _CONST_TOL * max(1.0, abs(data[:, r_col].mean())))

    X = _standardise(data[:, kept + [r_col]])
    b = np.zeros(ds + da)
    names = [_name(c, ds) for c in kept] + ["r"]
    if reward_constant:
        notes.append("reward is constant in the data: no reward graph, uniform weights")
        order = names
    elif method == "direct_lingam":
        pk = make_prior_knowledge(len(names), sinks=[len(names) - 1])
        warm = None
        if warm_order is not None:
            seen = [names.index(v) for v in dict.fromkeys(warm_order) if v in names]
            warm = seen + [i for i in range(len(names)) if i not in seen]
        fit = direct_lingam(X, pk, gamma=gamma, warm_order=warm, backend=backend, device=device)
        b[kept] = fit.adjacency[-1, :-1]
        order = [names[i] for i in fit.causal_order]
    else:
        b[kept] = ols_t_test(moments(X), list(range(len(kept))), len(kept), t_threshold)
        order = names

    t_coef = t_edges = None
    if transition:
        t_coef = _transition_block(data, kept, ds, da, method, t_threshold, gamma)
        t_edges = t_coef != 0.0

    b_s, b_a = b[:ds], b[ds:]
    drop_s = [c for c in dropped if c < ds]
    drop_a = [c - ds for c in dropped if c >= ds]
    return FactoredGraph(
        state_dim=ds,
        action_dim=da,
        reward_state_coef=b_s,
        reward_action_coef=b_a,
        reward_state_edges=b_s != 0.0,
        reward_action_edges=b_a != 0.0,
        transition_coef=t_coef,
        transition_edges=t_edges,
        causal_order=order,
        dropped_state=drop_s,
        dropped_action=drop_a,
        w_s=cip_weights(b_s, drop_s, temperature, dropped_value=0.0, scale=weight_scale),
        w_a=cip_weights(b_a, drop_a, temperature, dropped_value=1.0, scale=weight_scale),
        temperature=float(temperature),
        weight_scale=weight_scale,
        method=method,
        n_samples=int(n_ok),
        fit_seconds=time.perf_counter() - t0,
        n_rows_dropped=n_bad,
        reward_constant=reward_constant,
        notes=notes,
    )


def _name(col: int, ds: int) -> str:
    return f"s{col}" if col < ds else f"a{col - ds}"


def _transition_block(
    data: np.ndarray, kept: list[int], ds: int, da: int, method: str, t_threshold: float, gamma: float
) -> np.ndarray:
    """``|S| x (|S| + |A|)`` parents of each next-state dim among the kept ``[S | A]`` columns."""
    next_cols = list(range(ds + da + 1, ds + da + 1 + ds))
    X = _standardise(data[:, kept + next_cols])
    mom = moments(X)
    preds = list(range(len(kept)))
    out = np.zeros((ds, ds + da))
    for j in range(ds):
        target = len(kept) + j
        if mom.cov[target, target] <= _CONST_TOL:  # constant next-state dim: no parents to find
            continue
        if method == "direct_lingam":
            coef = adaptive_lasso_bic(mom, preds, target, gamma=gamma)
        else:
            coef = ols_t_test(mom, preds, target, t_threshold)
        out[j, kept] = coef
    return out
