"""DirectLiNGAM (Shimizu et al. 2011) with the pairwise likelihood-ratio measure (Hyvarinen & Smith 2013).

Vectorised and exact: the causal order is the one the reference ``lingam.DirectLiNGAM`` finds, but

* every pair statistic is a closed-form function of the correlation matrix plus two sample means of
  non-linear functions, evaluated for a whole row of pairs in one array expression;
* each step finds the most exogenous variable by *branch and bound*: the score of a candidate ``i`` is
  ``M_i = sum_j min(0, D_ij)^2`` with ``D`` antisymmetric, so every evaluated pair adds a non-negative
  amount to exactly one of two candidates' scores. Pairs are evaluated in small batches, always for the
  candidate with the smallest partial score; a candidate whose partial score already exceeds the best
  complete score can never win and its remaining pairs are never computed. The selected variable is the
  exact arg-min, so the order is unchanged; typically little more than the winner's own row (``2 (m - 1)``
  residual entropies) is evaluated per step instead of all ``m (m - 1)``.

Prior knowledge uses the reference's matrix convention (see :func:`make_prior_knowledge`) and is
applied in the strong way: it restricts the candidates at each step and the regressors when pruning.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from causal.lasso import adaptive_lasso_bic, moments

__all__ = ["LingamResult", "make_prior_knowledge", "causal_order", "estimate_adjacency", "direct_lingam"]

# Maximum-entropy approximation constants (Hyvarinen 1998), as used by the pwling measure.
_K1, _K2, _GAMMA = 79.047, 7.4129, 0.37457
_H_GAUSS = (1.0 + np.log(2.0 * np.pi)) / 2.0
_LOG2 = float(np.log(2.0))


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


def _entropy_rows(U: np.ndarray, work: np.ndarray | None = None) -> np.ndarray:
    """Maximum-entropy approximation of the differential entropy of each row of ``U`` (unit-variance rows).

    ``U`` is read only; ``work`` (same shape and dtype) is scratch space. Everything runs in ``U``'s dtype
    (float32 or float64): the element-wise work and the row means (numpy's pairwise summation, relative
    error about ``eps * log2(N)``).
    """
    n = U.shape[1]
    with np.errstate(over="ignore"):
        work = np.cosh(U, out=work)
    np.log(work, out=work)
    logcosh = work.sum(axis=1).astype(np.float64) / n
    huge = ~np.isfinite(logcosh)
    if huge.any():  # |u| beyond cosh's range (about 89 in float32): the overflow-free form for those rows
        V = np.abs(U[huge])
        logcosh[huge] = (V.sum(axis=1) + np.log1p(np.exp(-2.0 * V)).sum(axis=1)).astype(np.float64) / n - _LOG2
    np.square(U, out=work)
    work *= -0.5
    np.exp(work, out=work)
    gauss = np.einsum("ij,ij->i", U, work).astype(np.float64) / n
    return _H_GAUSS - _K1 * (logcosh - _GAMMA) ** 2 - _K2 * gauss**2


#: Per-pair tolerance of the order search: a variable is accepted when its pwling score (a sum over the
#: ``m - 1`` other remaining variables of squared entropy differences) is within ``(m - 1) * DEFAULT_TOLERANCE``
#: of the step's minimum. At N = 10,000 the scores of exogenous variables are sampling noise of about
#: 1e-9 per pair, those of variables with a remaining parent 1e-6 and more; see ``docs`` in the benchmark.
DEFAULT_TOLERANCE = 3e-8

_CHUNK = 8  # pairs per entropy evaluation: 2 x 8 residual rows (and the work space) stay in L2
_FIRST_BATCH = 8  # pairs evaluated on a candidate's first visit (its most correlated partners)


class _Step:
    """Pair statistics ``D_ij`` of the remaining variables at one step of the search, computed on demand.

    ``rows`` (``m x N``, centred residuals in the working dtype) and ``cov`` (their population covariance,
    float64, kept up to date by the caller) are read, never written.
    """

    def __init__(self, rows: np.ndarray, cov: np.ndarray, n: int, h: np.ndarray | None = None) -> None:
        self.rows = rows
        std = np.sqrt(np.diag(cov))
        rho = cov / np.outer(std, std)
        self.inv_std = 1.0 / std
        # Reference residual: cov with ddof=1 over var with ddof=0 (population), hence the n / (n - 1).
        self.coef = rho * (n / (n - 1.0))
        self.res_std = np.sqrt(np.clip(1.0 - 2.0 * self.coef * rho + self.coef**2, 1e-300, None))
        m = rows.shape[0]
        # entropies of the standardised variables, unless known: the previous step's winner row holds them
        self.h = _entropy_rows(rows * self.inv_std.astype(rows.dtype)[:, None]) if h is None else h
        self.h_res = np.full((m, m), np.nan)  # h_res[a, b]: entropy of the standardised residual of x_b on x_a
        self.D = np.full((m, m), np.nan)
        np.fill_diagonal(self.D, 0.0)
        self.evaluated = 0

    def fill_row(self, k: int, others: np.ndarray) -> np.ndarray:
        """Compute ``D[k, j]`` (and ``D[j, k] = -D[k, j]``) for every ``j`` in ``others``; returns ``D[k, others]``.

        Per chunk of ``K`` partners, the ``2 K`` standardised residuals (of ``x_k`` on each ``x_j`` and of each
        ``x_j`` on ``x_k``) are one small matrix product ``W @ [x_k; x_j...]`` with two non-zeros per row of ``W``.
        """
        dt, n = self.rows.dtype, self.rows.shape[1]
        out = np.empty(others.size)
        R_buf = np.empty((_CHUNK + 1, n), dtype=dt)
        U_buf = np.empty((2 * _CHUNK, n), dtype=dt)
        work = np.empty((2 * _CHUNK, n), dtype=dt)
        R_buf[0] = self.rows[k]
        for lo in range(0, others.size, _CHUNK):
            j = others[lo : lo + _CHUNK]
            K = j.size
            s_kj, s_jk = self.res_std[k, j], self.res_std[j, k]
            np.take(self.rows, j, axis=0, out=R_buf[1 : K + 1])
            W = np.zeros((2 * K, K + 1))
            r = np.arange(K)
            # standardised residual of x_k on x_j: (z_k - c_kj z_j) / s_kj, with z = x / std
            W[r, 0] = self.inv_std[k] / s_kj
            W[r, r + 1] = -self.coef[k, j] * self.inv_std[j] / s_kj
            # and of x_j on x_k: (z_j - c_jk z_k) / s_jk
            W[K + r, 0] = -self.coef[j, k] * self.inv_std[k] / s_jk
            W[K + r, r + 1] = self.inv_std[j] / s_jk
            U = np.matmul(W.astype(dt), R_buf[: K + 1], out=U_buf[: 2 * K])
            h = _entropy_rows(U, work[: 2 * K])
            self.h_res[j, k], self.h_res[k, j] = h[:K], h[K:]
            out[lo : lo + K] = (self.h[j] + h[:K]) - (self.h[k] + h[K:])
        self.D[k, others] = out
        self.D[others, k] = -out
        self.evaluated += 2 * others.size
        return out


def _most_exogenous(
    st: _Step, var_ids: np.ndarray, is_cand: np.ndarray, hint: np.ndarray, tolerance: float, first_full: bool
) -> tuple[int, np.ndarray]:
    """Row of the candidate with the smallest pwling score (within ``tolerance``), by branch and bound.

    The score of ``i`` is ``M_i = sum_j min(0, D_ij)^2`` with ``D`` antisymmetric, so every evaluated pair adds
    a non-negative amount to one of its two variables' partial scores, a lower bound of the full score. The
    candidate with the smallest partial score (then the smallest ``hint``) is extended next: on its first
    visit by its ``_FIRST_BATCH`` most correlated partners (its likeliest parents), then by all its missing
    pairs. A candidate whose partial score reaches ``best - tolerance`` (``best``: the smallest complete score)
    is dropped. With ``tolerance == 0`` the winner is the exact arg-min, ties to the smallest variable id as
    in the reference, whatever the hint; with ``tolerance > 0`` its score is at most the minimum plus
    ``tolerance``. The hint and ``first_full`` only change the work.

    Returns:
        ``(row, partial)``: the winner's row and every variable's partial score (a hint for the next step).
    """
    m = var_ids.size
    tolerance = tolerance * (m - 1)  # per pair -> on the score, a sum over m - 1 pairs
    partial = np.zeros(m)
    complete = np.zeros(m, dtype=bool)
    missing = np.full(m, m - 1)
    visited = np.zeros(m, dtype=bool)
    best, best_m = -1, np.inf
    while True:
        alive = is_cand & ~complete
        if best >= 0:
            keep = partial < best_m - tolerance
            if tolerance == 0.0:
                keep |= (partial == best_m) & (var_ids < var_ids[best])
            alive &= keep
        ids = np.flatnonzero(alive)
        if ids.size == 0:
            break
        k = int(ids[np.lexsort((st.h[ids], hint[ids], partial[ids]))[0]])
        todo = np.flatnonzero(np.isnan(st.D[k]))
        if not visited[k] and not first_full and todo.size > _FIRST_BATCH:
            todo = todo[np.argsort(-np.abs(st.coef[k, todo]), kind="stable")[:_FIRST_BATCH]]
        visited[k] = True
        first_full = False
        d = st.fill_row(k, todo)
        partial[k] += np.sum(np.minimum(0.0, d) ** 2)
        partial[todo] += np.maximum(0.0, d) ** 2  # D[j, k] = -d
        missing[k] -= todo.size
        missing[todo] -= 1
        touched = np.append(todo, k)
        for c in touched[is_cand[touched] & ~complete[touched] & (missing[touched] == 0)].tolist():
            complete[c] = True
            if partial[c] < best_m or (partial[c] == best_m and var_ids[c] < var_ids[best]):
                best, best_m = c, partial[c]
    if best < 0 or not np.isfinite(best_m):
        raise ValueError("DirectLiNGAM: pair statistics are not finite (exactly collinear columns?)")
    return best, partial


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
        tolerance: per pair: accept a variable whose pwling score is within ``(m - 1) * tolerance`` of the
            step's minimum (``m`` remaining variables); 0 is the exact arg-min, the reference's order.
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
        blocked = set(orders[:, 1].tolist()) if orders is not None and orders.size else set()
        is_cand = np.array([i not in blocked for i in ids.tolist()])
        if not is_cand.any():
            raise ValueError(f"prior knowledge is cyclic among variables {sorted(ids.tolist())}")
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
) -> LingamResult:
    """Fit DirectLiNGAM (pwling order + adaptive-lasso/BIC pruning) to ``X`` (``n x d``, no constant columns).

    ``warm_order``, ``tolerance`` and ``dtype`` are those of :func:`causal_order`; the pruning is float64.
    """
    order, evaluated = causal_order(X, prior_knowledge, warm_order=warm_order, tolerance=tolerance, dtype=dtype)
    return LingamResult(order, estimate_adjacency(X, order, prior_knowledge, gamma), evaluated)
