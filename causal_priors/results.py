"""Read run directories back: final metrics (``done.json``) and learning curves (CSV or TensorBoard).

One experiment folder ``<run_root>/<experiment>/`` holds ``<task>/<method>/seed_<n>/`` run directories
(see :func:`causal_priors.runs.run_dir`). :func:`load_runs` finds them all and returns one
:class:`RunRecord` each; the report and the sweep both read runs through here.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from causal_priors.errors import DataError
from causal_priors.runs import read_curve

__all__ = ["RunRecord", "load_runs", "read_done", "read_curve_metric", "read_tensorboard_scalar"]

_SEED_DIR = re.compile(r"^seed_(-?\d+)$")
_EVENTS_GLOB = "events.out.tfevents.*"


@dataclass
class RunRecord:
    """One run directory as read from disk.

    Attributes:
        task: env id or data set (the run directory's grandparent name).
        method: agent or model name (its parent name).
        seed: from ``seed_<n>``.
        path: the run directory.
        done: whether ``done.json`` exists (the run finished).
        metrics: the final scalar metrics of ``done.json`` (empty when not done).
        steps / values: the learning curve of the requested metric (empty when the run has none).
        failed: whether ``failed.json`` exists (written by the sweep for a failed run).
    """

    task: str
    method: str
    seed: int
    path: Path
    done: bool
    metrics: dict[str, float] = field(default_factory=dict)
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    failed: bool = False

    @property
    def has_curve(self) -> bool:
        return self.steps.size > 0


def read_done(run: Path) -> dict[str, float] | None:
    """Numeric final metrics of ``<run>/done.json`` (None when the run is not finished)."""
    path = run / "done.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"malformed JSON in {path}: {err}") from None
    metrics = data.get("metrics", {}) if isinstance(data, dict) else None
    if not isinstance(metrics, dict):
        raise DataError(f"{path}: expected {{'metrics': {{name: number}}}}, got {type(metrics).__name__}")
    return {
        str(k): float(v)
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))
    }


def _clean(steps: list[float], values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Sort by step; for a repeated step keep the last value written (a resumed run re-logs steps)."""
    by_step: dict[float, float] = {}
    for s, v in zip(steps, values, strict=True):
        if math.isfinite(v):
            by_step[s] = v
    order = sorted(by_step)
    return np.asarray(order, dtype=float), np.asarray([by_step[s] for s in order], dtype=float)


def read_curve_metric(path: Path, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of ``metric`` in a ``curves.csv`` (rows without the metric are skipped)."""
    try:
        rows = read_curve(path)
    except (ValueError, KeyError) as err:
        raise DataError(f"malformed curves file {path}: {err}") from None
    pairs = [(r["step"], r[metric]) for r in rows if "step" in r and metric in r]
    return _clean([p[0] for p in pairs], [p[1] for p in pairs])


def read_tensorboard_scalar(run: Path, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of the scalar ``metric`` in the TensorBoard event files under ``run``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    steps: list[float] = []
    values: list[float] = []
    folders = sorted({p.parent for p in run.rglob(_EVENTS_GLOB) if "checkpoints" not in p.parts})
    for folder in folders:
        acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        acc.Reload()
        if metric in acc.Tags().get("scalars", []):
            for event in acc.Scalars(metric):
                steps.append(float(event.step))
                values.append(float(event.value))
    return _clean(steps, values)


def _read_run(run: Path, task: str, method: str, seed: int, metric: str) -> RunRecord:
    metrics = read_done(run)
    record = RunRecord(task, method, seed, run, done=metrics is not None, metrics=metrics or {})
    record.failed = (run / "failed.json").is_file()
    curves = run / "curves.csv"
    if curves.is_file():
        record.steps, record.values = read_curve_metric(curves, metric)
    elif any(run.glob(_EVENTS_GLOB)) or any(run.glob(f"*/{_EVENTS_GLOB}")):
        record.steps, record.values = read_tensorboard_scalar(run, metric)
    return record


def load_runs(path: str | Path, metric: str = "eval/mean_reward") -> list[RunRecord]:
    """Every ``<task>/<method>/seed_<n>`` run directory under the experiment folder ``path``.

    Args:
        path: ``<run_root>/<experiment>``.
        metric: the learning-curve metric to read (from ``curves.csv``, else TensorBoard events).

    Returns:
        Records sorted by task, method and seed (finished or not; check ``done``).
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"experiment folder not found: {root}")
    records = []
    for run in root.glob("*/*/seed_*"):
        match = _SEED_DIR.match(run.name)
        if not run.is_dir() or match is None:
            continue
        records.append(_read_run(run, run.parent.parent.name, run.parent.name, int(match.group(1)), metric))
    return sorted(records, key=lambda r: (r.task, r.method, r.seed))
