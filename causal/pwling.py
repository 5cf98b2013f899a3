"""The pwling search step of DirectLiNGAM: residual entropies of variable pairs and the branch-and-bound choice.

See :mod:`causal.lingam` for the algorithm and its tolerances; this module holds the numerical kernel.
"""

from __future__ import annotations

import numpy as np

# Maximum-entropy approximation constants (Hyvarinen 1998), as used by the pwling measure.
_K1, _K2, _GAMMA = 79.047, 7.4129, 0.37457
_H_GAUSS = (1.0 + np.log(2.0 * np.pi)) / 2.0
_LOG2 = float(np.log(2.0))


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
#: 1e-9 per pair, those of variables with a remaining parent mostly 1e-6 and more; 1e-7 per pair already
#: let such variables through on dense families at d = 100, 3e-8 did not on any family.
DEFAULT_TOLERANCE = 3e-8

#: With a tolerance, a variable is also accepted when its score is within this fraction of the step's
#: minimum: the scores of exogenous variables are sampling noise (of similar size among themselves), and
#: with skewed noise at large d they exceed the absolute tolerance, which would make the search complete
#: every one of them as the exact search does.
REL_TOLERANCE = 0.5

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
    pairs. A candidate whose partial score reaches ``(best - tol) / (1 + REL_TOLERANCE)`` (``best``: the
    smallest complete score, ``tol = (m - 1) * tolerance``) is dropped. With ``tolerance == 0`` the winner is
    the exact arg-min, ties to the smallest variable id as in the reference, whatever the hint; with
    ``tolerance > 0`` its score is at most ``(1 + REL_TOLERANCE) * minimum + tol``. The hint and
    ``first_full`` only change the work.

    Returns:
        ``(row, partial)``: the winner's row and every variable's partial score (a hint for the next step).
    """
    m = var_ids.size
    tolerance = tolerance * (m - 1)  # per pair -> on the score, a sum over m - 1 pairs
    rel = REL_TOLERANCE if tolerance > 0.0 else 0.0
    partial = np.zeros(m)
    complete = np.zeros(m, dtype=bool)
    missing = np.full(m, m - 1)
    visited = np.zeros(m, dtype=bool)
    best, best_m = -1, np.inf
    while True:
        alive = is_cand & ~complete
        if best >= 0:
            keep = partial < (best_m - tolerance) / (1.0 + rel)
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
