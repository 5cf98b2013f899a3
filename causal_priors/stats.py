"""Seed-aggregated statistics: rliable's estimates in the shapes the report uses, plus what rliable lacks.

The aggregate metrics and their intervals come from ``rliable`` itself (Agarwal et al., 2021, "Deep RL at
the edge of the statistical precipice"):

* :func:`iqm` is ``rliable.metrics.aggregate_iqm`` (scipy's 25 %-trimmed mean of all scores), computed by
  scipy's own steps (``np.partition``, then the mean of the kept slice) without scipy's per-call argument
  handling, which is 90 % of the cost of a bootstrap (tests check it equals ``aggregate_iqm``);
* :func:`interval` is ``rliable.library.get_interval_estimates`` (stratified bootstrap over runs within
  each task, percentile interval);
* :func:`probability_of_improvement` is ``rliable.metrics.probability_of_improvement`` with its
  bootstrap interval from ``get_interval_estimates`` (runs of the two methods resampled independently);
* :func:`performance_profile` is ``rliable.library.create_performance_profile`` (score distributions).

rliable's bootstrap draws its indices from numpy's *global* generator (``np.random.choice``), so every
function here seeds that generator with ``seed`` for the call and restores its previous state afterwards:
a result is a pure function of its inputs, and equals rliable called right after ``np.random.seed(seed)``.

Kept here because rliable has no equivalent: :func:`area_under_curve` (mean return over training),
:func:`common_grid` / :func:`resample_curve` (runs logged at different steps onto shared points) and
:func:`minmax_normalize` (per-task scores to [0, 1] when no reference scores exist).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from rliable import library as rly
from rliable import metrics as rly_metrics

__all__ = [
    "Interval",
    "iqm",
    "interval",
    "probability_of_improvement",
    "performance_profile",
    "bootstrap_curve",
    "seeded_global_rng",
    "area_under_curve",
    "common_grid",
    "resample_curve",
    "minmax_normalize",
]

Statistic = Callable[[np.ndarray], float]


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


@contextlib.contextmanager
def seeded_global_rng(seed: int) -> Iterator[None]:
    """Seed numpy's global generator (which rliable's bootstrap draws from) and restore it on exit."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def iqm(x: ArrayLike, axis: int | None = None) -> np.ndarray:
    """Interquartile mean (rliable's ``aggregate_iqm``): 25 %-trimmed mean of all values, or along ``axis``.

    With ``n`` values, ``floor(n / 4)`` are dropped from each end, so fewer than 4 values give the mean.
    The steps are those of ``scipy.stats.trim_mean`` (what ``aggregate_iqm`` calls), so results match.
    """
    arr = np.asarray(x, dtype=float)
    if arr.size == 0:
        raise ValueError("iqm of an empty array")
    if axis is None:
        arr, axis = arr.ravel(), 0
    n = arr.shape[axis]
    cut = int(0.25 * n)
    kept = np.partition(arr, (cut, n - cut - 1), axis)
    index = [slice(None)] * arr.ndim
    index[axis] = slice(cut, n - cut)
    return np.mean(kept[tuple(index)], axis=axis)


def _task_arrays(groups: ArrayLike | Sequence[ArrayLike]) -> list[np.ndarray]:
    """One 1-D float array of run scores per task; a single 1-D array (or list of numbers) is one task."""
    if isinstance(groups, np.ndarray):
        return [groups.astype(float).reshape(-1)]
    seq = list(groups)  # type: ignore[arg-type]
    if seq and np.isscalar(seq[0]):
        return [np.asarray(seq, dtype=float)]
    out = [np.asarray(g, dtype=float).reshape(-1) for g in seq]
    if not out or any(g.size == 0 for g in out):
        raise ValueError("the bootstrap needs at least one run in every task")
    return out


def _rliable_scores(tasks: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """rliable's input: a ``(runs, tasks)`` matrix when every task has as many runs, else one
    ``(runs, 1)`` array per task (resampled independently, i.e. still stratified by task)."""
    if len({t.size for t in tasks}) == 1:
        return np.stack(tasks, axis=1)
    return [t[:, None] for t in tasks]


def interval(
    groups: ArrayLike | Sequence[ArrayLike],
    statistic: Statistic = iqm,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """``statistic`` of the pooled scores and its stratified-bootstrap percentile interval, by rliable.

    Args:
        groups: run scores per task (one array per task; a single 1-D array is one task).
        statistic: ``f(scores) -> float`` over all runs and tasks: :func:`iqm` (``aggregate_iqm``), ``np.mean``.
        reps: bootstrap resamples.
        confidence: coverage of the interval, e.g. 0.95.
        seed: seed of the resampling (see :func:`seeded_global_rng`).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    scores = _rliable_scores(_task_arrays(groups))
    if isinstance(scores, np.ndarray):
        func = lambda s: np.array([statistic(s)])  # noqa: E731
    else:
        func = lambda *s: np.array([statistic(np.concatenate(s, axis=0))])  # noqa: E731
    with seeded_global_rng(seed):
        points, cis = rly.get_interval_estimates({"x": scores}, func, reps=reps, confidence_interval_size=confidence)
    return Interval(float(np.ravel(points["x"])[0]), float(cis["x"][0, 0]), float(cis["x"][1, 0]))


def probability_of_improvement(
    x: Sequence[ArrayLike], y: Sequence[ArrayLike], reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> Interval:
    """P(X > Y) averaged over tasks (rliable), with its bootstrap interval.

    ``x[i]`` and ``y[i]`` are the run scores of methods X and Y on task ``i``; each method needs the same
    number of runs on every task (rliable's ``(runs, tasks)`` matrices), X and Y may differ.
    """
    xs, ys = _task_arrays(x), _task_arrays(y)
    if len(xs) != len(ys):
        raise ValueError(f"both methods need the same tasks, got {len(xs)} and {len(ys)}")
    if len({a.size for a in xs}) != 1 or len({a.size for a in ys}) != 1:
        raise ValueError("probability of improvement needs one run count per method across tasks")
    pair = [np.stack(xs, axis=1), np.stack(ys, axis=1)]
    with seeded_global_rng(seed):
        points, cis = rly.get_interval_estimates(
            {"x>y": pair},
            rly_metrics.probability_of_improvement,
            reps=reps,
            confidence_interval_size=confidence,
        )
    ci = np.ravel(cis["x>y"])
    return Interval(float(points["x>y"]), float(ci[0]), float(ci[1]))


def performance_profile(
    scores: Mapping[str, np.ndarray], taus: ArrayLike, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """rliable's score-distribution profiles: per method, the fraction of runs (over all tasks) scoring
    above each ``tau``, with bootstrap bands; ``scores[method]`` is a normalised ``(runs, tasks)`` matrix.

    Returns ``(profiles, cis)`` as rliable does (``cis[method]`` is ``(2, len(taus))``: low, high).
    """
    with seeded_global_rng(seed):
        return rly.create_performance_profile(
            dict(scores), np.asarray(taus, dtype=float), reps=reps, confidence_interval_size=confidence
        )


def bootstrap_curve(
    values: ArrayLike, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise IQM and bootstrap band of curves ``values[run, point]`` (rliable's sample-efficiency
    curves: a ``(runs, 1, points)`` array, IQM at each point)."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"curves must be (runs, points), got shape {arr.shape}")

    def per_point(s: np.ndarray) -> np.ndarray:
        return iqm(s[:, 0, :], axis=0)

    with seeded_global_rng(seed):
        points, cis = rly.get_interval_estimates(
            {"c": arr[:, None, :]}, per_point, reps=reps, confidence_interval_size=confidence
        )
    return np.asarray(points["c"]), cis["c"][0], cis["c"][1]


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
