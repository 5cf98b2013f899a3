"""The forecasting studies' published results as one summary: seed statistics per method, metric and key.

Reads every finished run's ``done.json`` of the forecasting studies (the published copies under
``benchmarks/results/forecasting/<study>/runs/``, or a study's live run folder) and aggregates it into
``{study: {method: {metric: {key: {"mean", "std", "n"}}}}}`` -- the content of
``benchmarks/results/forecasting/summary.json``. ``key`` is the test environment (synthetic: the radius, ETH/UCY:
the left-out scene, spurious protocol: ``eth@alpha=<a>``) and, for the low-shot metrics ``adapt_0.6/<metric>``,
the number of adaptation batches. ``std`` is over seeds (population std, ddof 0), ``n`` the number of seeds.

``benchmarks/forecasting_tables.py`` writes the summary and renders the results page from it;
:mod:`forecasting.results_readme` renders the top-level README's block from it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

#: test radii of the synthetic studies (the keys of their ``test/<metric>`` entries), in table order
RADII = ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7"]
#: numbers of adaptation batches of the low-shot metrics (keys of ``adapt_0.6/<metric>``)
BATCHES = [0, 1, 2, 4, 6]
#: ETH/UCY scenes (keys of the leave-one-scene-out study)
SCENES = ["eth", "hotel", "univ", "zara1", "zara2"]
#: test alphas of the spurious-channel protocol (keys ``eth@alpha=<a>``)
ALPHAS = ["1", "2", "4", "8", "16", "32", "64"]
#: re-runs of the synthetic protocol's generative methods (same config) whose samples the energy score scored
RESCORED = "forecast_synthetic_rescored"
#: the studies the summary holds (a study without finished runs is left out)
STUDIES = [
    "forecast_synthetic",
    RESCORED,
    "forecast_synthetic_dense",
    "forecast_synthetic_sim",
    "forecast_eth_ucy",
    "forecast_eth_spurious",
]
#: generative methods: their summaries carry best-of-K and the samples' spread next to the deterministic metrics
GENERATIVE = {"gcrl"}
#: metrics kept in summary.json (``test/<metric>/<env>`` and ``adapt_0.6/<metric>/b<n>``)
METRICS = ["ade", "fde", "energy", "spread", "min_ade_20", "min_fde_20", "min_ade_100", "min_fde_100"]

#: ``{"<data>/<method>": [metrics of each seed, with its "seed"]}`` of one study
Runs = dict[str, list[dict[str, float]]]
#: ``{"mean", "std", "n"}`` of one metric at one key over seeds
SeedStats = dict[str, float]
#: ``{method: {metric: {key: SeedStats}}}`` of one study
StudySummary = dict[str, dict[str, dict[str, SeedStats]]]
#: ``{study: StudySummary}``: the content of summary.json
Summary = dict[str, StudySummary]


def load_runs(folder: Path) -> Runs:
    """``{"<data>/<method>": [metrics of each seed]}`` of the finished runs under ``folder`` (a study's run
    folder, or its published copy, whose runs sit under ``runs/``); each seed's metrics carry its ``"seed"``."""
    if (folder / "runs").is_dir():
        folder = folder / "runs"
    runs: Runs = defaultdict(list)
    for done in sorted(folder.glob("*/*/seed_*/done.json")):
        metrics = json.loads(done.read_text())["metrics"]
        runs[f"{done.parts[-4]}/{done.parts[-3]}"].append({**metrics, "seed": int(done.parts[-2].split("_")[1])})
    return runs


def seed_stats(values: Iterable[float | None]) -> SeedStats | None:
    """Mean, population std and count of the finite ``values`` (missing and non-finite ones skipped);
    None when none is left."""
    vals = [float(v) for v in values if v is not None and np.isfinite(v)]
    if not vals:
        return None
    return {"mean": float(np.mean(vals)), "std": float(np.std(vals)), "n": len(vals)}


def study_summary(runs: Runs) -> StudySummary:
    """``{method: {metric: {key: {"mean", "std", "n"}}}}`` of one study (all its data folders merged:
    ETH/UCY's left-out scenes are the keys)."""
    values: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for key, seeds in runs.items():
        method = key.split("/")[1]
        for metrics in seeds:
            for name, v in metrics.items():
                parts = name.split("/")
                if parts[0] == "test" and len(parts) == 3 and parts[1] in METRICS:
                    values[method][parts[1]][parts[2]].append(v)
                elif parts[0].startswith("adapt_") and len(parts) == 3 and parts[1] in METRICS:
                    values[method][f"{parts[0]}/{parts[1]}"][parts[2].lstrip("b")].append(v)
    out: StudySummary = {}
    for method in sorted(values):
        for metric in sorted(values[method]):
            for env, vals in values[method][metric].items():
                stats = seed_stats(vals)
                if stats is not None:
                    out.setdefault(method, {}).setdefault(metric, {})[env] = stats
    return out


def build_summary(root: Path) -> tuple[Summary, dict[str, Runs]]:
    """``summary.json``'s content and the runs it came from, per study, from the study folders under ``root``."""
    runs = {study: load_runs(root / study) for study in STUDIES}
    return {study: study_summary(r) for study, r in runs.items() if r}, runs


def summary_json(summary: Summary) -> str:
    """The text of ``summary.json`` (sorted keys, one space of indent, trailing newline)."""
    return json.dumps(summary, indent=1, sort_keys=True) + "\n"


def summary_entry(summary: Summary, study: str, method: str, metric: str, key: str) -> SeedStats | None:
    """One entry of the summary; None when the study, method, metric or key is absent."""
    return summary.get(study, {}).get(method, {}).get(metric, {}).get(key)


def seed_count(summary: Summary, study: str, method: str, metric: str = "ade") -> int:
    """The most seeds behind any key of a method's metric in a study (0 when it has none)."""
    entries = summary.get(study, {}).get(method, {}).get(metric, {})
    return max((e["n"] for e in entries.values()), default=0)
