"""The report's ``summary.md``: tables of the rows :mod:`causal_priors.report` computes, in markdown."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from causal_priors.comparisons import NORMALIZATION

if TYPE_CHECKING:
    from causal_priors.report import ReportConfig

__all__ = ["markdown"]


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _ci(row: dict) -> str:
    return f"{_fmt(row['iqm'])} [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"


def _title(metric: str) -> str:
    if "success" in metric:
        return "Success rate"
    return "Returns" if "reward" in metric else "Final value and area under the curve"


def _improvement_md(improvement: list[dict], cfg: ReportConfig) -> list[str]:
    if not improvement:
        return []
    lines = [
        "",
        f"## Probability of improvement over `{cfg.baseline}`",
        "",
        f"P(X > {cfg.baseline}): the probability that a run of X scores higher than a run of {cfg.baseline} on "
        "the same task (final score; averaged over tasks for `all`; 0.5 = no difference), with its "
        f"{cfg.confidence:.0%} stratified-bootstrap interval (rliable).",
        "",
        f"| task | method X | n X | n {cfg.baseline} | P(X > {cfg.baseline}) [{cfg.confidence:.0%} CI] |",
        "|---|---|---:|---:|---|",
    ]
    for r in improvement:
        ci = f"{r['point']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"
        lines.append(f"| {r['task']} | {r['method']} | {r['n']} | {r['n_baseline']} | {ci} |")
    return lines


def markdown(
    rows: list[dict],
    cfg: ReportConfig,
    counts: tuple[int, int],
    plots: list[Path],
    identical: list[dict],
    improvement: list[dict],
) -> str:
    """``summary.md``: tables of ``rows`` (final/AUC per score metric, aggregate, done.json metrics), the
    probability-of-improvement table, identical runs and the figures in ``plots``; ``counts`` is
    ``(runs used, unfinished runs left out)``."""
    pct = f"{cfg.confidence:.0%}"
    lines = [
        f"# Report: {cfg.path}",
        "",
        f"{counts[0]} runs aggregated ({counts[1]} unfinished runs left out). IQM = interquartile mean over seeds; "
        f"[{pct} CI] = stratified bootstrap percentile interval ({cfg.reps} resamples, seed {cfg.seed}), "
        "computed by rliable.",
    ]
    keyed = {(r["kind"], r["task"], r["method"]): r for r in rows if r["kind"] in ("final", "auc")}
    pairs = sorted({(t, m) for k, t, m in keyed if k == "final"})
    for metric in sorted({keyed[("final", t, m)]["metric"] for t, m in pairs}):
        lines += ["", f"## {_title(metric)} (`{metric}`)", ""]
        head = f"| task | method | n seeds | final IQM [{pct} CI] | AUC IQM [{pct} CI] |"
        lines += [head + " final mean ± std |"]
        lines += ["|---|---|---:|---|---|---|"]
        for task, method in pairs:
            final = keyed[("final", task, method)]
            if final["metric"] != metric:
                continue
            auc = keyed.get(("auc", task, method))
            lines.append(
                f"| {task} | {method} | {final['n']} | {_ci(final)} | {_ci(auc) if auc else '–'} | "
                f"{_fmt(final['mean'])} ± {_fmt(final['std'])} |"
            )
        lines += [
            "",
            "AUC = area under the learning curve divided by its step span (mean score over training).",
        ]
    lines += _improvement_md(improvement, cfg)
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
        lines += ["", "## Aggregate over tasks (final score normalised per task, all methods)", ""]
        lines += [f"Normalisation {NORMALIZATION}.", ""]
        lines += [f"| method | runs | IQM [{pct} CI] |", "|---|---:|---|"]
        lines += [f"| {r['method']} | {r['n']} | {_ci(r)} |" for r in agg]
    profile = [p for p in plots if p.stem == "performance_profile"]
    if profile:
        lines += ["", "## Performance profiles (rliable)", "", f"![performance_profile]({profile[0].name})"]
    curves = [p for p in plots if p.stem != "performance_profile"]
    if curves:
        lines += ["", "## Learning curves", ""] + [f"![{p.stem}]({p.name})" for p in curves]
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
