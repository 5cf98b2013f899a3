"""The one report: aggregate an experiment's run directories into tables and plots.

``causal-priors report path=runs/<experiment>`` (or :func:`write_report`) reads every
``<task>/<method>/seed_<n>/`` run (see :mod:`causal_priors.results`) and writes ``<path>/report/``:

* ``summary.md`` -- per task x method: IQM of the final score and of the area under the learning curve
  (mean score over training) with stratified-bootstrap 95 % intervals over seeds, the number of seeds,
  the probability of improvement of every method over the baseline (``sac``), a cross-task aggregate of
  normalised final scores, the learning-curve plots, and a table of every final metric of ``done.json``
  (mean +- std and IQM [CI]; the only table for runs without curves, e.g. forecasting);
* ``summary.csv`` -- the same numbers in long form (one row per kind x task x method x metric);
* ``summary.json`` -- those rows, ``probability_of_improvement``, ``performance_profile``, the per-run
  scalars and the settings used;
* ``curves_<task>.png`` -- IQM learning curves with bootstrap bands, one line per method;
* ``performance_profile.png`` -- rliable's performance profiles, when the report has >= 2 tasks.

Every IQM, interval, probability of improvement and profile is computed by ``rliable`` (through
:mod:`causal_priors.stats` and :mod:`causal_priors.comparisons`). The score of a task is its success rate
(``success_metric``, ``eval/success_rate``) when every run of that task logs it in ``curves.csv``, else
``metric`` (the return).

Methods whose learning curves are bit-identical on every seed they share (an ablation whose switch had nothing to
act on, e.g. CIP without augmentation where no dim is ever swapped) are listed in ``summary.md`` and under
``identical`` in ``summary.json``, so nobody reads a no-op ablation as a replication.

Unfinished runs (no ``done.json``) are left out unless ``include_unfinished=true``.
"""

from __future__ import annotations

import csv
import io
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from causal_priors.checks import NON_EMPTY, POSITIVE, SEED, check_writable, in_range, validate
from causal_priors.comparisons import improvement_rows, normalized_finals, plot_profile, profile_of
from causal_priors.config import load_config, to_typed
from causal_priors.errors import ConfigError, DataError
from causal_priors.report_markdown import markdown
from causal_priors.results import RunRecord, load_runs
from causal_priors.runs import atomic_write_text, safe_name, write_json
from causal_priors.stats import area_under_curve, interval

__all__ = [
    "ReportConfig",
    "write_report",
    "report_main",
    "aggregate",
    "final_scores",
    "select_scores",
    "identical_methods",
]

FIELDS = ["kind", "task", "method", "metric", "n", "mean", "std", "iqm", "ci_low", "ci_high"]


@dataclass
class ReportConfig:
    """Settings of ``causal-priors report``."""

    path: str = ""  # the experiment folder <run_root>/<experiment> (required)
    metric: str = "eval/mean_reward"  # learning-curve / final metric (e.g. val_ade for forecasting curves)
    reps: int = 2000  # bootstrap resamples
    confidence: float = 0.95  # interval coverage
    seed: int = 0  # seed of the bootstrap resampling
    include_unfinished: bool = False  # also aggregate runs without done.json (their last curve point)
    max_points: int = 200  # learning-curve points per plot
    success_metric: str = "eval/success_rate"  # a task's score when all its runs log it in curves.csv ("" = never)
    baseline: str = "sac"  # probability of improvement of every other method over this one
    out: str = ""  # the report folder (default <path>/report)

    def __post_init__(self) -> None:
        validate(
            self,
            metric=NON_EMPTY,
            reps=POSITIVE,
            confidence=in_range(0, 1, low_open=True, high_open=True),
            seed=SEED,
            max_points=in_range(2),
        )


def _row(kind: str, task: str, method: str, metric: str, scores: Sequence[Any], cfg: ReportConfig) -> dict:
    groups = scores if kind == "normalized_final" else [np.asarray(scores, dtype=float)]
    pooled = np.concatenate([np.asarray(g, dtype=float) for g in groups])
    ci = interval(groups, reps=cfg.reps, confidence=cfg.confidence, seed=cfg.seed)
    return {
        "kind": kind,
        "task": task,
        "method": method,
        "metric": metric,
        "n": int(pooled.size),
        "mean": float(pooled.mean()),
        "std": float(pooled.std(ddof=1)) if pooled.size > 1 else 0.0,
        "iqm": ci.point,
        "ci_low": ci.low,
        "ci_high": ci.high,
    }


def _final(run: RunRecord, metric: str) -> float | None:
    """The run's final score: ``metric`` of done.json, else the last point of its curve."""
    if metric in run.metrics:
        return run.metrics[metric]
    return float(run.values[-1]) if run.has_curve else None


def final_scores(
    runs: Sequence[RunRecord], cfg: ReportConfig, metric_by_task: dict[str, str] | None = None
) -> dict[str, dict[str, list[float]]]:
    """``{task: {method: final score per run}}`` (runs without a score left out)."""
    finals: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for run in runs:
        score = _final(run, (metric_by_task or {}).get(run.task, cfg.metric))
        if score is not None:
            finals[run.task].setdefault(run.method, []).append(score)
    return {t: dict(sorted(v.items())) for t, v in sorted(finals.items())}


def aggregate(runs: Sequence[RunRecord], cfg: ReportConfig, metric_by_task: dict[str, str] | None = None) -> list[dict]:
    """Rows of statistics for the selected runs (see ``FIELDS``).

    ``kind`` is ``final`` / ``auc`` (per task x method, over seeds), ``done`` (every ``done.json`` metric)
    or ``normalized_final`` (task ``all``: final scores normalised per task (see
    :data:`causal_priors.comparisons.NORMALIZATION`), pooled over the tasks that every method ran, with a
    bootstrap stratified by task; only with >= 2 such tasks). ``metric_by_task`` names each task's score
    (default ``cfg.metric``); the runs' curves must be of that metric.
    """
    metric_of = metric_by_task or {}
    groups: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    for run in runs:
        groups[(run.task, run.method)].append(run)
    rows: list[dict] = []
    finals = final_scores(runs, cfg, metric_by_task)
    for (task, method), members in sorted(groups.items()):
        metric = metric_of.get(task, cfg.metric)
        if method in finals.get(task, {}):
            rows.append(_row("final", task, method, metric, finals[task][method], cfg))
        if members and all(r.has_curve for r in members):
            aucs = [area_under_curve(r.steps, r.values) for r in members]
            rows.append(_row("auc", task, method, metric, aucs, cfg))
        names = sorted({k for r in members for k in r.metrics})
        for name in names:
            values = [r.metrics[name] for r in members if name in r.metrics]
            rows.append(_row("done", task, method, name, values, cfg))
    methods = sorted({m for by_method in finals.values() for m in by_method})
    normalized = normalized_finals(finals, metric_of, cfg.success_metric)
    if len(normalized) > 1 and len(methods) > 1:  # compare methods only on the tasks they all ran
        names = ", ".join(sorted({metric_of.get(t, cfg.metric) for t in normalized}))
        for method in methods:
            per_task = [normalized[t][method] for t in normalized]
            rows.append(_row("normalized_final", "all", method, names, per_task, cfg))
    return rows


def identical_methods(runs: Sequence[RunRecord]) -> list[dict]:
    """Pairs of methods of one task whose learning curves are bit-identical on every seed both ran.

    Returns rows ``{"task", "method", "same_as", "seeds"}`` (``same_as`` sorts before ``method``); a pair needs
    at least one shared seed, and runs without a curve never match.
    """
    curves: dict[str, dict[str, dict[int, RunRecord]]] = defaultdict(lambda: defaultdict(dict))
    for run in runs:
        if run.has_curve:
            curves[run.task][run.method][run.seed] = run
    rows: list[dict] = []
    for task, by_method in sorted(curves.items()):
        methods = sorted(by_method)
        for i, first in enumerate(methods):
            for second in methods[i + 1 :]:
                a, b = by_method[first], by_method[second]
                seeds = sorted(a.keys() & b.keys())
                if seeds and all(
                    np.array_equal(a[s].steps, b[s].steps) and np.array_equal(a[s].values, b[s].values) for s in seeds
                ):
                    rows.append({"task": task, "method": second, "same_as": first, "seeds": seeds})
    return rows


def _plot_curves(runs: Sequence[RunRecord], cfg: ReportConfig, out: Path, metric_of: dict[str, str]) -> list[Path]:
    """One PNG per task: per method the IQM curve over seeds with its bootstrap band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from causal_priors.stats import bootstrap_curve, common_grid, resample_curve

    by_task: dict[str, dict[str, list[RunRecord]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        if run.has_curve:
            by_task[run.task][run.method].append(run)
    written = []
    for task, by_method in sorted(by_task.items()):
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for method, members in sorted(by_method.items()):
            grid = common_grid([r.steps for r in members], cfg.max_points)
            if grid.size == 0:
                continue
            curves = np.stack([resample_curve(r.steps, r.values, grid) for r in members])
            mid, low, high = bootstrap_curve(curves, reps=cfg.reps, confidence=cfg.confidence, seed=cfg.seed)
            (line,) = ax.plot(grid, mid, label=f"{method} (n={len(members)})")
            ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.25, linewidth=0)
        metric = metric_of.get(task, cfg.metric)
        ax.set_title(f"{task}: IQM {metric}, {cfg.confidence:.0%} bootstrap CI")
        ax.set_xlabel("step")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out / f"curves_{safe_name(task)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def select_scores(runs: Sequence[RunRecord], cfg: ReportConfig) -> tuple[list[RunRecord], dict[str, str]]:
    """Per task, the runs with the curve of its score: ``cfg.success_metric`` when every run of the task
    logs it in its curves, else ``cfg.metric`` (the runs as given). Returns ``(runs, {task: metric})``."""
    metric_of = {r.task: cfg.metric for r in runs}
    if not cfg.success_metric or not runs:
        return list(runs), metric_of
    success = {(r.task, r.method, r.seed): r for r in load_runs(cfg.path, cfg.success_metric)}
    by_task: dict[str, list[RunRecord]] = defaultdict(list)
    for run in runs:
        by_task[run.task].append(run)
    chosen: list[RunRecord] = []
    for task, members in sorted(by_task.items()):
        alternates = [success.get((r.task, r.method, r.seed)) for r in members]
        if all(a is not None and a.has_curve for a in alternates):
            metric_of[task] = cfg.success_metric
            chosen += [a for a in alternates if a is not None]
        else:
            chosen += members
    return chosen, metric_of


def _display(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it (reports stay portable)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _report(cfg: ReportConfig) -> Path:
    if not cfg.path:
        raise ConfigError("report needs path=<run_root>/<experiment>")
    runs = load_runs(cfg.path, cfg.metric)
    if not runs:
        raise DataError(f"no run directories <task>/<method>/seed_<n> under {cfg.path}")
    used = [r for r in runs if r.done or (cfg.include_unfinished and (r.has_curve or r.metrics))]
    if not used:
        raise DataError(f"none of the {len(runs)} runs under {cfg.path} has finished (no done.json)")
    used, metric_of = select_scores(used, cfg)
    out = Path(cfg.out) if cfg.out else Path(cfg.path) / "report"
    out.mkdir(parents=True, exist_ok=True)
    rows = aggregate(used, cfg, metric_of)
    finals = final_scores(used, cfg, metric_of)
    improvement = improvement_rows(finals, cfg.baseline, metric_of, cfg.reps, cfg.confidence, cfg.seed)
    profile = profile_of(normalized_finals(finals, metric_of, cfg.success_metric), cfg.reps, cfg.confidence, cfg.seed)
    plots = _plot_curves(used, cfg, out, metric_of)
    if profile is not None:
        plots.append(plot_profile(profile, cfg.confidence, out / "performance_profile.png"))
    identical = identical_methods(used)
    counts = (len(used), len(runs) - len(used))
    atomic_write_text(out / "summary.md", markdown(rows, cfg, counts, plots, identical, improvement))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "summary.csv", buffer.getvalue())
    per_run = [
        {
            "task": r.task,
            "method": r.method,
            "seed": r.seed,
            "path": _display(r.path),
            "done": r.done,
            "metric": metric_of[r.task],
            "final": _final(r, metric_of[r.task]),
            "auc": area_under_curve(r.steps, r.values) if r.has_curve else None,
            "metrics": r.metrics,
        }
        for r in used
    ]
    settings = {k: getattr(cfg, k) for k in ReportConfig.__dataclass_fields__}
    summary = {
        "settings": settings,
        "rows": rows,
        "probability_of_improvement": improvement,
        "performance_profile": profile,
        "identical": identical,
        "runs": per_run,
    }
    write_json(out / "summary.json", summary)
    return out


def write_report(path: str | Path, **settings: Any) -> Path:
    """Aggregate the experiment folder ``path`` and write ``<path>/report/`` (or ``out``); returns that folder.

    ``settings`` are :class:`ReportConfig` fields (``metric``, ``success_metric``, ``baseline``, ``reps``,
    ``confidence``, ``seed``, ``include_unfinished``, ``max_points``, ``out``).
    """
    unknown = set(settings) - set(ReportConfig.__dataclass_fields__) - {"path"}
    if unknown:
        raise ConfigError(
            f"unknown report setting(s) {sorted(unknown)}; known: {sorted(ReportConfig.__dataclass_fields__)}"
        )
    return _report(ReportConfig(**{**settings, "path": str(path)}))


def report_main(argv: Sequence[str]) -> int:
    """``causal-priors report path=<run_root>/<experiment> [metric=...] [reps=...]`` (a bare folder works)."""
    words = [w if "=" in w else f"path={w}" for w in argv]
    cfg: ReportConfig = to_typed(load_config(ReportConfig, words))
    if cfg.path:
        check_writable(Path(cfg.out) if cfg.out else Path(cfg.path) / "report", "out" if cfg.out else "path")
    out = _report(cfg)
    print((out / "summary.md").read_text())
    print(f"report written to {out}", file=sys.stderr)
    return 0
