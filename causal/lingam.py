"""DirectLiNGAM (Shimizu et al. 2011) with the pairwise likelihood-ratio measure (Hyvarinen & Smith 2013).

The causal order is the reference ``lingam.DirectLiNGAM``'s (``tolerance=0``) or one whose every step is
within a documented tolerance of it (the default), at a cost that hardly depends on the graph:

* every pair statistic is a closed-form function of the covariance matrix plus two sample means of
  non-linear functions of a residual; the residuals of a chunk of pairs are one small matrix product. The
  covariance of the remaining variables is updated by a rank-one Schur complement per step (never
  recomputed from the data), and the entropies of the next step's variables are those of the residuals on
  the winner, already computed for its row.
* **float32** (default ``dtype``): the residual data and the element-wise entropy work are float32, the
  covariances, coefficients and per-row means float64. Entropies then carry a relative error of about
  1e-7 (they are ~1.4, pair statistics ~1e-4..1e-1). Tested: the same order and edges as float64 and as
  the reference (tests/causal/test_causal_reference.py, tolerance 0).
* **branch and bound**: the score of a candidate ``i`` is ``M_i = sum_j min(0, D_ij)^2`` with ``D``
  antisymmetric, so every evaluated pair adds a non-negative amount to one of its two variables' scores.
  Candidates are extended best first (smallest partial score; hint: the previous step's partial scores or
  ``warm_order``), first by their most correlated partners; one whose partial score reaches the best
  complete score minus the tolerance is dropped.
* **tolerance** (per pair, :data:`DEFAULT_TOLERANCE`): exact pruning needs every near-exogenous
  variable's full row (their scores are sampling noise of each other), so its saving depends on how many
  there are (many in sparse graphs: ~11x the minimal work at d = 100, against ~3x in dense ones). Accepting
  a variable whose score is at most ``(1 + REL_TOLERANCE) * minimum + (m - 1) * tolerance`` (``m``
  remaining variables; :data:`causal.pwling.REL_TOLERANCE` = 0.5 applies only when ``tolerance > 0``)
  stops at the first such variable: 1-3x the minimal work on every family. The orders then differ from
  the reference only among variables whose scores are within the tolerance; the adjacency of the
  reference tests is unchanged (one weak edge differed on one benchmark family, see the benchmark).
* **warm start** (``warm_order``): the previous causal order's earliest remaining variable is scored first,
  in full, at each step; when it is within the tolerance of zero it is accepted (verify, one row per step:
  the minimal work), otherwise the search goes on from there (repair). With ``tolerance=0`` the result is
  the cold fit's, whatever the warm order.

Prior knowledge uses the reference's matrix convention (see :func:`make_prior_knowledge`) and is
applied in the strong way: it restricts the candidates at each step and the regressors when pruning.

:func:`direct_lingam` ``backend="torch"`` runs the order search densely with torch instead (every pair of a step,
on a GPU when given one; :mod:`causal.lingam_torch`), with the same measure and choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from causal.lasso import adaptive_lasso_bic, moments
from causal.pwling import _CHUNK, DEFAULT_TOLERANCE, _entropy_rows, _most_exogenous, _Step  # noqa: F401

#: Order-search backends of :func:`direct_lingam`.
BACKENDS = ("numpy", "torch")

__all__ = ["BACKENDS", "LingamResult", "make_prior_knowledge", "causal_order", "estimate_adjacency", "direct_lingam"]


@dataclass
class LingamResult:
    """Output of :func:`direct_lingam`.

    Attributes:
        causal_order: variable indices, most exogenous first.
        adjacency: ``B`` with ``B[i, j]`` the coefficient of the edge ``x_j -> x_i`` (0 = no edge).
        pairs_evaluated: number of ordered residual entropies computed (diagnostic for the pruning).
    """

    causal_order: list[int]
    adjacency: np.ndarray
    pairs_evaluated: int = 0


def make_prior_knowledge(
    n_variables: int,
    *,
    sinks: Iterable[int] = (),
    exogenous: Iterable[int] = (),
    no_paths: Iterable[tuple[int, int]] = (),
    paths: Iterable[tuple[int, int]] = (),
) -> np.ndarray:
    """Prior-knowledge matrix ``PK`` in the reference convention.

    ``PK[i, j] = 0``: there is no directed path ``x_j -> x_i``; ``1``: there is one; ``-1``: unknown.
    A sink has no path to anything (``PK[:, sink] = 0``); an exogenous variable has nothing pointing to it
    (``PK[exo, :] = 0``). A forbidden edge ``j -> i`` is expressed as ``no_paths=[(j, i)]`` (which also
    forbids indirect paths, as in the reference).
    """
    pk = np.full((n_variables, n_variables), -1, dtype=np.int64)
    for src, dst in no_paths:
        pk[dst, src] = 0
    for src, dst in paths:
        pk[dst, src] = 1
    for s in sinks:
        pk[:, s] = 0
    for e in exogenous:
        pk[e, :] = 0
    np.fill_diagonal(pk, -1)
    return pk


def _partial_orders(pk: np.ndarray) -> np.ndarray | None:
    """``(from, to)`` pairs implied by ``pk``; ``None`` when it implies no ordering at all."""
    pk = np.array(pk, dtype=float)
    np.fill_diagonal(pk, -1)
    path = pk == 1
    if np.any(path & path.T):
        bad = np.argwhere(path & path.T).tolist()
        raise ValueError(f"prior knowledge says both x_i -> x_j and x_j -> x_i at {bad}")
    no_path = (pk == 0) & ~(pk.T == 0)  # mutual "no path" pairs cancel out (no ordering implied)
    pairs = [(int(j), int(i)) for i, j in np.argwhere(path)]  # PK[i, j] = 1: j before i
    pairs += [(int(i), int(j)) for i, j in np.argwhere(no_path)]  # PK[i, j] = 0: i before j
    if not pairs:
        return None
    return np.unique(np.array(pairs, dtype=np.int64), axis=0)


def _candidates(orders: np.ndarray | None, ids: np.ndarray) -> np.ndarray:
    """Mask over ``ids``: the variables that no remaining ``(from, to)`` pair of ``orders`` still has to wait for.

    Raises:
        ValueError: when no variable is free (the prior knowledge is cyclic among ``ids``).
    """
    blocked = set(orders[:, 1].tolist()) if orders is not None and orders.size else set()
    is_cand = np.array([i not in blocked for i in ids.tolist()])
    if not is_cand.any():
        raise ValueError(f"prior knowledge is cyclic among variables {sorted(ids.tolist())}")
    return is_cand


def _warm_ranks(warm_order: Sequence[int] | None, d: int) -> np.ndarray | None:
    """Rank of each variable in ``warm_order``; ``ValueError`` unless it is a permutation of ``range(d)``."""
    if warm_order is None:
        return None
    w = np.asarray(list(warm_order))
    if w.ndim != 1 or w.size != d or not np.issubdtype(w.dtype, np.integer) or sorted(w.tolist()) != list(range(d)):
        raise ValueError(
            f"warm_order must be a permutation of range({d}) (the previous causal order), got {w.tolist()}"
        )
    ranks = np.empty(d)
    ranks[w] = np.arange(d)
    return ranks


def causal_order(
    X: np.ndarray,
    prior_knowledge: np.ndarray | None = None,
    *,
    warm_order: Sequence[int] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    dtype: type = np.float32,
) -> tuple[list[int], int]:
    """DirectLiNGAM causal order of the columns of ``X`` (``n x d``).

    Args:
        X: data, one variable per column.
        prior_knowledge: ``PK`` matrix (see :func:`make_prior_knowledge`).
        warm_order: a previous causal order of the same variables (e.g. the last refit's). At each step
            its earliest remaining variable is scored first, in full; the search then only has to beat
            it (verify) or finds the better variable (repair). The order returned does not depend on it
            when ``tolerance == 0``.
        tolerance: per pair: accept a variable whose pwling score is at most ``(1 + REL_TOLERANCE)`` times
            the step's minimum plus ``(m - 1) * tolerance`` (``m`` remaining variables); 0 is the exact
            arg-min, the reference's order.
        dtype: dtype of the residual data the entropies are computed on (``np.float32`` or ``np.float64``);
            the covariances, coefficients and sums are float64 either way.

    Returns:
        ``(order, pairs_evaluated)``.

    Raises:
        ValueError: on a constant column, a ``warm_order`` that is not a permutation of ``range(d)``, or
            prior knowledge that leaves no candidate (a cycle).
    """
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    if np.any(X.std(axis=0) == 0.0):
        raise ValueError("DirectLiNGAM needs non-constant columns; drop constant columns first")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    ranks = _warm_ranks(warm_order, d)
    orders = _partial_orders(prior_knowledge) if prior_knowledge is not None else None
    Xc = X - X.mean(axis=0)
    cov = (Xc.T @ Xc) / n
    rows = np.ascontiguousarray(Xc.T, dtype=dtype)  # row r holds variable ids[r]; centred (residuals stay so)
    ids = np.arange(d)
    hint = np.zeros(d)
    h_next = None  # entropies of the next step's variables, when the last step computed them
    q = n / (n - 1.0)
    order: list[int] = []
    evaluated = 0
    while ids.size:
        is_cand = _candidates(orders, ids)
        if is_cand.sum() == 1:
            local = int(np.flatnonzero(is_cand)[0])
            h_next = None
        else:
            st = _Step(rows, cov, n, h_next)
            step_hint = ranks[ids] if ranks is not None else hint
            local, partial = _most_exogenous(st, ids, is_cand, step_hint, tolerance, first_full=ranks is not None)
            evaluated += st.evaluated
            hint = partial - np.minimum(0.0, np.nan_to_num(st.D[:, local])) ** 2  # without the winner's pair
            # the standardised residual of x_j on the winner is the next step's standardised x_j
            h_next = st.h_res[local].copy()
        chosen = int(ids[local])
        order.append(chosen)
        if orders is not None:
            orders = orders[orders[:, 0] != chosen]
        last = ids.size - 1
        if last == 0:
            break
        # replace every other variable by its residual on the chosen one: move the chosen row to the end,
        # residualise the rest in place and update their covariance (a rank-one Schur complement)
        for arr in (ids, hint) if h_next is None else (ids, hint, h_next):
            arr[[local, last]] = arr[[last, local]]
        rows[[local, last]] = rows[[last, local]]
        cov[[local, last]] = cov[[last, local]]
        cov[:, [local, last]] = cov[:, [last, local]]
        x_m, c_m = rows[last], cov[:last, last]
        a = (q * c_m / cov[last, last]).astype(dtype)
        for lo in range(0, last, _CHUNK):
            rows[lo : min(lo + _CHUNK, last)] -= np.multiply.outer(a[lo : lo + _CHUNK], x_m)
        cov = cov[:last, :last] - (2.0 * q - q * q) * np.outer(c_m, c_m) / cov[last, last]
        rows, ids, hint = rows[:last], ids[:last], hint[:last]
        h_next = None if h_next is None else h_next[:last]
    return order, evaluated


def estimate_adjacency(
    X: np.ndarray, order: Sequence[int], prior_knowledge: np.ndarray | None = None, gamma: float = 1.0
) -> np.ndarray:
    """Weighted adjacency ``B`` given a causal order: adaptive lasso (BIC) of each variable on its predecessors.

    Predecessors excluded by the prior knowledge (``PK[target, p] == 0``) are never regressors.
    """
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    mom = moments(X)
    pk = None
    if prior_knowledge is not None and _partial_orders(prior_knowledge) is not None:
        pk = np.array(prior_knowledge, dtype=float)
        np.fill_diagonal(pk, 0)
    B = np.zeros((d, d))
    for pos in range(1, len(order)):
        target = order[pos]
        preds = [p for p in order[:pos] if pk is None or pk[target, p] != 0]
        if preds:
            B[target, preds] = adaptive_lasso_bic(mom, preds, target, gamma=gamma)
    return B


def direct_lingam(
    X: np.ndarray,
    prior_knowledge: np.ndarray | None = None,
    gamma: float = 1.0,
    *,
    warm_order: Sequence[int] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    dtype: type = np.float32,
    backend: str = "numpy",
    device: Any = None,
) -> LingamResult:
    """Fit DirectLiNGAM (pwling order + adaptive-lasso/BIC pruning) to ``X`` (``n x d``, no constant columns).

    ``warm_order``, ``tolerance`` and ``dtype`` are those of :func:`causal_order`; the pruning is float64.
    ``backend``: ``"numpy"`` (:func:`causal_order`, branch and bound on the CPU) or ``"torch"``
    (:func:`causal.lingam_torch.causal_order_torch`, the dense search on ``device``, default CPU; torch is
    imported only then). Both give the same order up to rounding of the pair statistics.
    """
    if backend not in BACKENDS:
        raise ValueError(f"direct_lingam: backend must be one of {list(BACKENDS)}, got {backend!r}")
    if backend == "torch":
        from causal.lingam_torch import causal_order_torch

        order, evaluated = causal_order_torch(
            X,
            prior_knowledge,
            device="cpu" if device is None else device,
            dtype=dtype,
            warm_order=warm_order,
            tolerance=tolerance,
        )
    else:
        order, evaluated = causal_order(X, prior_knowledge, warm_order=warm_order, tolerance=tolerance, dtype=dtype)
    return LingamResult(order, estimate_adjacency(X, order, prior_knowledge, gamma), evaluated)
