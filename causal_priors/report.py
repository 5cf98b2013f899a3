"""The one report: aggregate an experiment's run directories into tables and plots.

``causal-priors report path=runs/<experiment>`` (or :func:`write_report`) reads every
``<task>/<method>/seed_<n>/`` run (see :mod:`causal_priors.results`) and writes ``<path>/report/``:

* ``summary.md`` -- per task x method: IQM of the final return and of the area under the learning curve
  (mean return over training) with stratified-bootstrap 95 % intervals over seeds, the number of seeds,
  a cross-task aggregate of min-max normalised final returns, the learning-curve plots, and a table of
  every final metric of ``done.json`` (mean +- std and IQM [CI]; the only table for runs without curves,
  e.g. forecasting);
* ``summary.csv`` -- the same numbers in long form (one row per kind x task x method x metric);
* ``summary.json`` -- those rows plus the per-run scalars and the settings used;
* ``curves_<task>.png`` -- IQM learning curves with bootstrap bands, one line per method.

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
from causal_priors.config import load_config, to_typed
from causal_priors.errors import ConfigError, DataError
from causal_priors.results import RunRecord, load_runs
from causal_priors.runs import atomic_write_text, safe_name, write_json
from causal_priors.stats import area_under_curve, interval, minmax_normalize

__all__ = ["ReportConfig", "write_report", "report_main", "aggregate", "identical_methods"]

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
    if metric in run.metrics:
        return run.metrics[metric]
    return float(run.values[-1]) if run.has_curve else None


def aggregate(runs: Sequence[RunRecord], cfg: ReportConfig) -> list[dict]:
    """Rows of statistics for the selected runs (see ``FIELDS``).

    ``kind`` is ``final`` / ``auc`` (per task x method, over seeds), ``done`` (every ``done.json`` metric)
    or ``normalized_final`` (task ``all``: final returns min-max normalised per task, pooled over the
    tasks that every method ran, with a bootstrap stratified by task; only with >= 2 such tasks).
    """
    groups: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    for run in runs:
        groups[(run.task, run.method)].append(run)
    rows: list[dict] = []
    finals: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for (task, method), members in sorted(groups.items()):
        final = [f for f in (_final(r, cfg.metric) for r in members) if f is not None]
        if final:
            finals[task][method] = final
            rows.append(_row("final", task, method, cfg.metric, final, cfg))
        if members and all(r.has_curve for r in members):
            aucs = [area_under_curve(r.steps, r.values) for r in members]
            rows.append(_row("auc", task, method, cfg.metric, aucs, cfg))
        names = sorted({k for r in members for k in r.metrics})
        for name in names:
            values = [r.metrics[name] for r in members if name in r.metrics]
            rows.append(_row("done", task, method, name, values, cfg))
    methods = sorted({m for by_method in finals.values() for m in by_method})
    shared = {t: by_method for t, by_method in finals.items() if set(by_method) == set(methods)}
    if len(shared) > 1 and len(methods) > 1:  # compare methods only on the tasks they all ran
        normalized = minmax_normalize(shared)
        for method in methods:
            per_task = [normalized[t][method] for t in sorted(normalized)]
            rows.append(_row("normalized_final", "all", method, cfg.metric, per_task, cfg))
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


def _plot_curves(runs: Sequence[RunRecord], cfg: ReportConfig, out: Path) -> list[Path]:
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
        ax.set_title(f"{task}: IQM {cfg.metric}, {cfg.confidence:.0%} bootstrap CI")
        ax.set_xlabel("step")
        ax.set_ylabel(cfg.metric)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out / f"curves_{safe_name(task)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _ci(row: dict) -> str:
    return f"{_fmt(row['iqm'])} [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"


def _markdown(
    rows: list[dict], cfg: ReportConfig, n_used: int, n_left: int, plots: list[Path], identical: list[dict]
) -> str:
    pct = f"{cfg.confidence:.0%}"
    lines = [
        f"# Report: {cfg.path}",
        "",
        f"{n_used} runs aggregated ({n_left} unfinished runs left out). IQM = interquartile mean over seeds; "
        f"[{pct} CI] = stratified bootstrap percentile interval ({cfg.reps} resamples, seed {cfg.seed}).",
    ]
    keyed = {(r["kind"], r["task"], r["method"]): r for r in rows if r["kind"] in ("final", "auc")}
    pairs = sorted({(t, m) for k, t, m in keyed if k == "final"})
    if pairs:
        title = "Returns" if "reward" in cfg.metric else "Final value and area under the curve"
        lines += ["", f"## {title} (`{cfg.metric}`)", ""]
        head = f"| task | method | n seeds | final IQM [{pct} CI] | AUC IQM [{pct} CI] |"
        lines += [head + " final mean ± std |"]
        lines += ["|---|---|---:|---|---|---|"]
        for task, method in pairs:
            final = keyed[("final", task, method)]
            auc = keyed.get(("auc", task, method))
            lines.append(
                f"| {task} | {method} | {final['n']} | {_ci(final)} | {_ci(auc) if auc else '–'} | "
                f"{_fmt(final['mean'])} ± {_fmt(final['std'])} |"
            )
        lines += [
            "",
            "AUC = area under the learning curve divided by its step span (mean return over training).",
        ]
    if identical:
        lines += [
            "",
            "## Identical runs",
            "",
            "These methods produced the same learning curve, bit for bit, on "
            "every seed both ran: their difference never acted.",
            "",
        ]
        lines += ["| task | method | identical to | seeds |", "|---|---|---|---|"]
        lines += [
            f"| {r['task']} | {r['method']} | {r['same_as']} | {', '.join(map(str, r['seeds']))} |" for r in identical
        ]
    agg = [r for r in rows if r["kind"] == "normalized_final"]
    if agg:
        lines += ["", "## Aggregate over tasks (final return min-max normalised per task, all methods)", ""]
        lines += [f"| method | runs | IQM [{pct} CI] |", "|---|---:|---|"]
        lines += [f"| {r['method']} | {r['n']} | {_ci(r)} |" for r in agg]
    if plots:
        lines += ["", "## Learning curves", ""] + [f"![{p.stem}]({p.name})" for p in plots]
    done = [r for r in rows if r["kind"] == "done"]
    if done:
        lines += ["", "## Final metrics (done.json)", ""]
        lines += [
            f"| task | method | metric | n | mean ± std | IQM [{pct} CI] |",
            "|---|---|---|---:|---|---|",
        ]
        lines += [
            f"| {r['task']} | {r['method']} | `{r['metric']}` | {r['n']} "
            f"| {_fmt(r['mean'])} ± {_fmt(r['std'])} | {_ci(r)} |"
            for r in done
        ]
    return "\n".join(lines) + "\n"


def _report(cfg: ReportConfig) -> Path:
    if not cfg.path:
        raise ConfigError("report needs path=<run_root>/<experiment>")
    runs = load_runs(cfg.path, cfg.metric)
    if not runs:
        raise DataError(f"no run directories <task>/<method>/seed_<n> under {cfg.path}")
    used = [r for r in runs if r.done or (cfg.include_unfinished and (r.has_curve or r.metrics))]
    if not used:
        raise DataError(f"none of the {len(runs)} runs under {cfg.path} has finished (no done.json)")
    out = Path(cfg.path) / "report"
    out.mkdir(parents=True, exist_ok=True)
    rows = aggregate(used, cfg)
    plots = _plot_curves(used, cfg, out)
    identical = identical_methods(used)
    atomic_write_text(out / "summary.md", _markdown(rows, cfg, len(used), len(runs) - len(used), plots, identical))
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
            "path": str(r.path),
            "done": r.done,
            "final": _final(r, cfg.metric),
            "auc": area_under_curve(r.steps, r.values) if r.has_curve else None,
            "metrics": r.metrics,
        }
        for r in used
    ]
    settings = {k: getattr(cfg, k) for k in ReportConfig.__dataclass_fields__}
    write_json(out / "summary.json", {"settings": settings, "rows": rows, "identical": identical, "runs": per_run})
    return out


def write_report(path: str | Path, **settings: Any) -> Path:
    """Aggregate the experiment folder ``path`` and write ``<path>/report/``; returns that folder.

    ``settings`` are :class:`ReportConfig` fields (``metric``, ``reps``, ``confidence``, ``seed``,
    ``include_unfinished``, ``max_points``).
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
        check_writable(Path(cfg.path) / "report", "path")
    out = _report(cfg)
    print((out / "summary.md").read_text())
    print(f"report written to {out}", file=sys.stderr)
    return 0
