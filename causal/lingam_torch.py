"""DirectLiNGAM's causal-order search in torch: every pair statistic of a step at once, on any device.

The numpy search (:func:`causal.lingam.causal_order`, kernel :mod:`causal.pwling`) evaluates pairs one small
chunk at a time and prunes by branch and bound, which suits one CPU core. Here each step computes **all**
``m x m`` ordered residual entropies of the ``m`` remaining variables densely, in tiles of ``chunk`` residual
rows (``O(m^2 N)`` element-wise work per step, a few large kernels): slow on a CPU, fast on a GPU. The numbers are
the numpy path's:

* the same pwling measure: the maximum-entropy approximation with the constants of :mod:`causal.pwling`, the
  same standardised residuals (the reference's ``n / (n - 1)`` coefficient), the same overflow-free
  ``log cosh`` fallback for rows beyond ``cosh``'s range;
* the residual data and the element-wise work in ``dtype`` (float32 by default), the covariance, the
  coefficients and the per-row means in float64; the covariance of the remaining variables is updated by the
  same rank-one Schur complement (on the device), the winner's row of residual entropies is the next step's
  variable entropies, and the rows are permuted as the numpy path permutes them;
* the same choice: with ``tolerance == 0`` the exact arg-min of the pwling score, ties to the smallest variable
  id; with ``tolerance > 0`` the numpy branch and bound (:func:`causal.pwling._most_exogenous`) replayed on the
  host over the dense matrix of pair statistics, so it accepts the variable the numpy search accepts (same
  hint, same warm order), up to rounding of the statistics;
* the same prior knowledge (candidates restricted exactly as in :func:`causal.lingam.causal_order`).

Warm starts (``warm_order``): the dense search computes every pair anyway, so a warm order saves no work here; it
is honoured only so that the result is the numpy path's (with ``tolerance == 0`` it does not matter, with a
tolerance it steers which near-tied variable is accepted, exactly as in numpy).

``pairs_evaluated`` counts the ordered residual entropies computed: ``m (m - 1)`` per step with a choice.

torch is imported by this module only; ``import causal`` never imports it (:func:`causal.lingam.direct_lingam`
imports this module when ``backend="torch"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from causal.lingam import _candidates, _partial_orders, _warm_ranks
from causal.pwling import _GAMMA, _H_GAUSS, _K1, _K2, _LOG2, DEFAULT_TOLERANCE, _most_exogenous

__all__ = ["causal_order_torch", "default_chunk", "torch_dtype"]

#: Residual rows per tile on a CPU (keeps a tile and its work space in the cache, as the numpy kernel does).
CPU_CHUNK_ROWS = 64
#: Elements per tile on a GPU (one tile and its work space: 2 x 4 bytes x this = 2 GiB in float32).
GPU_CHUNK_ELEMENTS = 2**28


def torch_dtype(dtype: Any) -> torch.dtype:
    """``torch.float32`` / ``torch.float64`` from a torch or numpy float dtype; ``ValueError`` for anything else."""
    if isinstance(dtype, torch.dtype):
        out = dtype
    else:
        try:
            out = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}.get(np.dtype(dtype))
        except TypeError:
            out = None
    if out not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return out


def default_chunk(device: torch.device, n: int) -> int:
    """Residual rows per tile: :data:`CPU_CHUNK_ROWS` on a CPU, :data:`GPU_CHUNK_ELEMENTS` ``/ n`` elsewhere."""
    if device.type == "cpu":
        return CPU_CHUNK_ROWS
    return max(1, GPU_CHUNK_ELEMENTS // max(n, 1))


def _entropy_rows(U: torch.Tensor) -> torch.Tensor:
    """Maximum-entropy approximation of the entropy of each row (last axis) of ``U``; float64, leading shape.

    ``U`` (unit-variance rows, float32 or float64) is overwritten. Mirrors :func:`causal.pwling._entropy_rows`.
    """
    n = U.shape[-1]
    work = torch.cosh(U)
    logcosh = work.log_().sum(-1).double() / n
    huge = ~torch.isfinite(logcosh)
    if bool(huge.any()):  # |u| beyond cosh's range: the overflow-free form for those rows
        V = U[huge].abs()
        logcosh[huge] = (V.sum(-1) + torch.log1p(torch.exp(-2.0 * V)).sum(-1)).double() / n - _LOG2
    torch.mul(U, U, out=work)
    work.mul_(-0.5).exp_().mul_(U)
    gauss = work.sum(-1).double() / n
    return _H_GAUSS - _K1 * (logcosh - _GAMMA) ** 2 - _K2 * gauss**2


class _DenseStep:
    """One step's statistics, all computed on the device: ``D`` (pair statistics) and ``H`` (residual entropies).

    ``H[a, b]`` is the entropy of the standardised residual of ``x_b`` on ``x_a`` (as ``h_res`` in numpy), ``D[k, j]
    = (h_j + H[j, k]) - (h_k + H[k, j])``. For the branch-and-bound replay it offers the attributes
    :func:`causal.pwling._most_exogenous` reads (``h``, ``coef``, ``D`` with not-yet-visited pairs NaN) and a
    :meth:`fill_row` that reveals precomputed pairs.
    """

    def __init__(self, rows: torch.Tensor, cov: torch.Tensor, n: int, h: torch.Tensor | None, chunk: int) -> None:
        m = rows.shape[0]
        std = torch.sqrt(torch.diagonal(cov))
        rho = cov / torch.outer(std, std)
        inv_std = 1.0 / std
        coef = rho * (n / (n - 1.0))
        res_std = torch.sqrt(torch.clamp(1.0 - 2.0 * coef * rho + coef**2, min=1e-300))
        dt = rows.dtype
        if h is None:
            h = _entropy_rows(rows * inv_std.to(dt)[:, None])
        # residual of x_b on x_a, standardised: w_own[a, b] x_b + w_reg[a, b] x_a
        w_own = (inv_std[None, :] / res_std.T).to(dt)
        w_reg = (-coef.T * inv_std[:, None] / res_std.T).to(dt)
        H = torch.empty((m, m), dtype=torch.float64, device=rows.device)
        kb = min(m, chunk)
        ka = max(1, chunk // kb)
        for a0 in range(0, m, ka):
            a1 = min(a0 + ka, m)
            for b0 in range(0, m, kb):
                b1 = min(b0 + kb, m)
                U = w_own[a0:a1, b0:b1, None] * rows[None, b0:b1]
                U.addcmul_(w_reg[a0:a1, b0:b1, None], rows[a0:a1, None])
                H[a0:a1, b0:b1] = _entropy_rows(U)
        H.fill_diagonal_(float("nan"))
        self.H = H
        self.h_device = h
        D = (h[None, :] + H.T) - (h[:, None] + H)
        D.fill_diagonal_(0.0)
        self.full = D.cpu().numpy()
        self.h = h.cpu().numpy()
        self._coef = coef
        self.D = np.full((m, m), np.nan)
        np.fill_diagonal(self.D, 0.0)
        self.evaluated = 0

    @property
    def coef(self) -> np.ndarray:
        """Regression coefficients (host copy; read by the branch and bound to order a candidate's first pairs)."""
        if isinstance(self._coef, torch.Tensor):
            self._coef = self._coef.cpu().numpy()
        return self._coef

    def fill_row(self, k: int, others: np.ndarray) -> np.ndarray:
        """Reveal ``D[k, others]`` (and ``D[others, k]``); returns ``D[k, others]``."""
        out = self.full[k, others]
        self.D[k, others] = out
        self.D[others, k] = -out
        self.evaluated += 2 * others.size
        return out


def _exact_winner(D: np.ndarray, var_ids: np.ndarray, is_cand: np.ndarray) -> int:
    """Row of the candidate with the smallest pwling score ``sum_j min(0, D_ij)^2``, ties to the smallest id."""
    cand = np.flatnonzero(is_cand)
    scores = np.sum(np.minimum(0.0, D[cand]) ** 2, axis=1)
    if not np.isfinite(scores).any():
        raise ValueError("DirectLiNGAM: pair statistics are not finite (exactly collinear columns?)")
    scores = np.where(np.isfinite(scores), scores, np.inf)
    return int(cand[np.lexsort((var_ids[cand], scores))[0]])


def causal_order_torch(
    X: np.ndarray,
    prior_knowledge: np.ndarray | None = None,
    *,
    device: str | torch.device = "cpu",
    dtype: Any = torch.float32,
    warm_order: Sequence[int] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    chunk: int | None = None,
) -> tuple[list[int], int]:
    """DirectLiNGAM causal order of the columns of ``X`` (``n x d``), searched densely with torch on ``device``.

    The contract of :func:`causal.lingam.causal_order` (same arguments, same result up to rounding, same errors).

    Args:
        X: data, one variable per column (host array; copied to ``device`` once).
        prior_knowledge: ``PK`` matrix (see :func:`causal.lingam.make_prior_knowledge`).
        device: where the residuals and entropies are computed (``"cpu"``, ``"cuda"``, ``"cuda:1"``...).
        dtype: dtype of the residual data and the element-wise work (torch or numpy float32/float64); the
            covariance, coefficients and means are float64 either way.
        warm_order: a previous causal order; changes nothing with ``tolerance == 0`` and, with a tolerance,
            which near-tied variable is accepted exactly as in the numpy search (it saves no work here).
        tolerance: per pair, as in :func:`causal.lingam.causal_order` (0: the exact arg-min).
        chunk: residual rows (pairs) per tile; default :func:`default_chunk` (memory: two tiles of
            ``chunk x n`` elements of ``dtype``).

    Returns:
        ``(order, pairs_evaluated)``.

    Raises:
        ValueError: on a constant column, a bad ``warm_order``, ``dtype`` or ``chunk``, a negative tolerance,
            or prior knowledge that leaves no candidate (a cycle).
    """
    dev = torch.device(device)
    if dev.type == "mps":
        raise ValueError("the torch DirectLiNGAM backend keeps float64 covariances, which mps lacks: use cpu or cuda")
    dt = torch_dtype(dtype)
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    if np.any(X.std(axis=0) == 0.0):
        raise ValueError("DirectLiNGAM needs non-constant columns; drop constant columns first")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    chunk = default_chunk(dev, n) if chunk is None else int(chunk)
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1 residual row, got {chunk}")
    ranks = _warm_ranks(warm_order, d)
    orders = _partial_orders(prior_knowledge) if prior_knowledge is not None else None
    Xc = torch.as_tensor(X, device=dev)
    Xc = Xc - Xc.mean(dim=0)
    cov = (Xc.T @ Xc) / n
    rows = Xc.T.to(dt).contiguous()  # row r holds variable ids[r]; centred (residuals stay so)
    del Xc
    ids = np.arange(d)
    hint = np.zeros(d)
    h_next: torch.Tensor | None = None
    q = n / (n - 1.0)
    order: list[int] = []
    evaluated = 0
    with torch.no_grad():
        while ids.size:
            is_cand = _candidates(orders, ids)
            if is_cand.sum() == 1:
                local = int(np.flatnonzero(is_cand)[0])
                h_next = None
            else:
                st = _DenseStep(rows, cov, n, h_next, chunk)
                evaluated += ids.size * (ids.size - 1)
                if tolerance == 0.0:
                    local = _exact_winner(st.full, ids, is_cand)
                else:
                    step_hint = ranks[ids] if ranks is not None else hint
                    local, partial = _most_exogenous(
                        st, ids, is_cand, step_hint, tolerance, first_full=ranks is not None
                    )
                    hint = partial - np.minimum(0.0, np.nan_to_num(st.D[:, local])) ** 2
                h_next = st.H[local].clone()  # the next step's standardised variables: residuals on the winner
            chosen = int(ids[local])
            order.append(chosen)
            if orders is not None:
                orders = orders[orders[:, 0] != chosen]
            last = ids.size - 1
            if last == 0:
                break
            # move the chosen row to the end, residualise the rest and update their covariance (rank one)
            swap = [last, local]
            for arr in (ids, hint):
                arr[[local, last]] = arr[swap]
            perm = torch.arange(last + 1, device=dev)
            perm[local], perm[last] = last, local
            rows = rows[perm]
            cov = cov[perm][:, perm]
            if h_next is not None:
                h_next = h_next[perm]
            x_m, c_m = rows[last], cov[:last, last]
            a = (q * c_m / cov[last, last]).to(dt)
            rows = rows[:last]
            rows -= a[:, None] * x_m[None, :]
            cov = cov[:last, :last] - (2.0 * q - q * q) * torch.outer(c_m, c_m) / cov[last, last]
            ids, hint = ids[:last], hint[:last]
            h_next = None if h_next is None else h_next[:last]
    return order, evaluated
