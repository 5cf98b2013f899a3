"""Seed-aggregated statistics: IQM, stratified bootstrap intervals and areas under learning curves.

Follows the protocol of Agarwal et al. (2021, "Deep RL at the edge of the statistical precipice",
the ``rliable`` library), implemented in plain numpy so that nothing beyond numpy is needed:

* :func:`iqm` is the interquartile mean, the 25 %-trimmed mean of all scores (identical to
  ``scipy.stats.trim_mean(x, 0.25)``: ``floor(n / 4)`` values cut from each end);
* :func:`stratified_bootstrap` resamples runs (seeds) with replacement *within each task* and
  recomputes the statistic on the pooled resample; the interval is the percentile interval
  (rliable's default);
* :func:`area_under_curve` is the trapezoidal area divided by the step span, i.e. the average return
  over training, in return units.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "Interval",
    "iqm",
    "interval",
    "stratified_bootstrap",
    "bootstrap_curve",
    "area_under_curve",
    "common_grid",
    "resample_curve",
    "minmax_normalize",
]

Statistic = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap confidence interval."""

    point: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"point": self.point, "low": self.low, "high": self.high}

    def format(self, digits: int = 3) -> str:
        """``"12.3 [10.1, 14.0]"`` with ``digits`` significant digits."""
        return f"{self.point:.{digits}g} [{self.low:.{digits}g}, {self.high:.{digits}g}]"


def iqm(x: ArrayLike, axis: int | None = None) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50 % of values along ``axis`` (all values if None).

    With ``n`` values, ``floor(n / 4)`` are dropped from each end (scipy's ``trim_mean`` rule), so
    fewer than 4 values give the plain mean.
    """
    arr = np.asarray(x, dtype=float)
    if axis is None:
        arr, axis = arr.reshape(-1), 0
    n = arr.shape[axis]
    if n == 0:
        raise ValueError("iqm of an empty array")
    cut = int(0.25 * n)
    ordered = np.sort(arr, axis=axis)
    kept = np.take(ordered, np.arange(cut, n - cut), axis=axis)
    return kept.mean(axis=axis)


def _as_groups(groups: ArrayLike | Sequence[ArrayLike]) -> list[np.ndarray]:
    """One float array per task (runs along axis 0); a single 1-D array is one task."""
    if isinstance(groups, np.ndarray):
        return [groups.astype(float)]
    seq = list(groups)  # type: ignore[arg-type]
    if seq and np.isscalar(seq[0]):
        return [np.asarray(seq, dtype=float)]
    out = [np.asarray(g, dtype=float) for g in seq]
    if not out or any(g.shape[0] == 0 for g in out):
        raise ValueError("stratified bootstrap needs at least one run in every task")
    return out


def stratified_bootstrap(
    groups: ArrayLike | Sequence[ArrayLike],
    statistic: Statistic = iqm,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point estimate and percentile bootstrap interval of ``statistic`` over pooled runs.

    Args:
        groups: one array per task whose axis 0 indexes runs (seeds); tasks may have different run
            counts and trailing axes (e.g. curve points) are kept. A single 1-D array is one task.
        statistic: ``f(array, axis=...)`` reducing the run axis, e.g. :func:`iqm` or ``np.mean``.
        reps: bootstrap resamples.
        confidence: coverage of the interval, e.g. 0.95.
        seed: seed of the resampling generator (the result is a pure function of the inputs).

    Returns:
        ``(point, low, high)``, each of the shape of the trailing axes (scalars for 1-D groups).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    data = _as_groups(groups)
    point = statistic(np.concatenate(data, axis=0), axis=0)
    rng = np.random.default_rng(seed)
    samples = [g[rng.integers(0, g.shape[0], size=(reps, g.shape[0]))] for g in data]
    boot = statistic(np.concatenate(samples, axis=1), axis=1)
    alpha = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(boot, [alpha, 100.0 - alpha], axis=0)
    return np.asarray(point), np.asarray(low), np.asarray(high)


def interval(
    groups: ArrayLike | Sequence[ArrayLike],
    statistic: Statistic = iqm,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """:func:`stratified_bootstrap` of scalar scores as an :class:`Interval`."""
    point, low, high = stratified_bootstrap(groups, statistic, reps, confidence, seed)
    return Interval(float(point), float(low), float(high))


def bootstrap_curve(
    values: ArrayLike, statistic: Statistic = iqm, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise statistic and bootstrap band of curves ``values[run, point]`` (runs resampled jointly)."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"curves must be (runs, points), got shape {arr.shape}")
    return stratified_bootstrap([arr], statistic, reps, confidence, seed)


def area_under_curve(steps: ArrayLike, values: ArrayLike) -> float:
    """Trapezoidal area under ``values(steps)`` divided by the step span (the mean over training).

    A single point returns its value. Steps must be increasing.
    """
    x = np.asarray(steps, dtype=float)
    y = np.asarray(values, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError(f"steps and values must be equal-length 1-D arrays, got {x.shape} and {y.shape}")
    if x.size == 1:
        return float(y[0])
    if np.any(np.diff(x) <= 0):
        raise ValueError("steps must be strictly increasing")
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0 / (x[-1] - x[0]))


def common_grid(step_arrays: Sequence[ArrayLike], max_points: int = 200) -> np.ndarray:
    """Evaluation steps shared by every run: the union of steps within the range all runs cover.

    Runs of unequal length are cut to the shortest, so every run contributes to every point; the
    grid is thinned evenly to at most ``max_points`` points.
    """
    arrays = [np.asarray(s, dtype=float) for s in step_arrays if len(s)]
    if not arrays:
        return np.zeros(0)
    lo = max(a.min() for a in arrays)
    hi = min(a.max() for a in arrays)
    grid = np.unique(np.concatenate(arrays))
    grid = grid[(grid >= lo) & (grid <= hi)]
    if grid.size > max_points:
        grid = grid[np.unique(np.linspace(0, grid.size - 1, max_points).round().astype(int))]
    return grid


def resample_curve(steps: ArrayLike, values: ArrayLike, grid: ArrayLike) -> np.ndarray:
    """Linear interpolation of one run's curve onto ``grid``."""
    return np.interp(np.asarray(grid, float), np.asarray(steps, float), np.asarray(values, float))


def minmax_normalize(scores: Mapping[str, Mapping[str, ArrayLike]]) -> dict[str, dict[str, np.ndarray]]:
    """Scale scores ``{task: {method: runs}}`` to [0, 1] per task, by the min and max over all runs of
    all methods on that task (rliable's fallback when no reference scores exist).

    A task whose scores are all equal maps to 0.
    """
    out: dict[str, dict[str, np.ndarray]] = {}
    for task, by_method in scores.items():
        arrays = {m: np.asarray(v, dtype=float) for m, v in by_method.items()}
        pooled = np.concatenate([a.reshape(-1) for a in arrays.values()])
        low, span = pooled.min(), pooled.max() - pooled.min()
        out[task] = {m: (a - low) / span if span > 0 else np.zeros_like(a) for m, a in arrays.items()}
    return out
