"""The forecasting results' figure: the samples' spread next to the error per test radius, from the summary.

``benchmarks/forecasting_tables.py`` writes it to ``benchmarks/results/forecasting/spread_vs_error.png``, next to
the results page that shows it; every number comes from ``summary.json`` (:mod:`forecasting.results_summary`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from forecasting.results_summary import GENERATIVE, RADII, RESCORED, Summary, summary_entry


def plot_spread_vs_error(summary: Summary, path: Path) -> Path | None:
    """Per test radius: deterministic ADE, minADE_20, energy score and spread of every generative method with the
    energy score (and orca_style's ADE / energy score for scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = []
    for study, tag in (("forecast_synthetic", ""), (RESCORED, " (re-run)")):
        for method in sorted(summary.get(study, {})):
            if "energy" in summary[study][method] and (method in GENERATIVE or method == "orca_style"):
                series.append((study, method, tag))
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4))
    xs = [float(r) for r in RADII]
    styles = {"ade": "-", "min_ade_20": "--", "energy": "-.", "spread": ":"}
    for i, (study, method, tag) in enumerate(series):
        for metric, style in styles.items():
            if metric in ("min_ade_20", "spread") and method not in GENERATIVE:
                continue
            ys = [(summary_entry(summary, study, method, metric, r) or {}).get("mean", np.nan) for r in RADII]
            ax.plot(xs, ys, style, marker="o", color=f"C{i}", label=f"{method}{tag} {metric}")
    ax.axvspan(0.05, 0.55, color="0.92", zorder=0)
    ax.set_xlabel("ORCA radius of the test scenes (training: 0.1, 0.3, 0.5 shaded)")
    ax.set_ylabel("m")
    ax.set_title("Sample spread vs error (mean over seeds)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
