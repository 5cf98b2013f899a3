"""The forecasting results page: our seed-aggregated numbers next to the papers' reference numbers.

Reads every finished run (``done.json``) of the three forecasting studies and writes
``benchmarks/results/forecasting/README.md`` with Markdown tables (mean ± std over seeds, n = seeds):

1. synthetic protocol, ADE per test radius: deterministic for every method, plus GCRL's minADE_20 / minADE_100;
2. low-shot adaptation to r = 0.6 (0, 1, 2, 4, 6 batches); the same two tables for the labelled variants
   with more training radii (``forecast_synthetic_dense``, ``forecast_synthetic_sim``) when they have runs;
   each method's ADE minus ERM's on the same seeds at r = 0.6 / 0.7;
3. ETH/UCY leave-one-scene-out, ADE / FDE per left-out scene (and GCRL best-of-20);
4. ETH with the spurious channel, ADE per test alpha;
5. training time per run.

Usage (after the studies, or any part of them)::

    python benchmarks/forecasting_tables.py [--runs runs] [--out benchmarks/results/forecasting/README.md]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

RADII = ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7"]
BATCHES = [0, 1, 2, 4, 6]
SCENES = ["eth", "hotel", "univ", "zara1", "zara2"]
ALPHAS = ["1", "2", "4", "8", "16", "32", "64"]

REFERENCE_SYNTHETIC = [
    (
        "causal motion, invariant + modular (det., 5 seeds)",
        ["0.050", "0.056", "0.059", "0.069", "0.078", "0.106", "0.155"],
    ),
    ("GCRL, best-of-100", ["0.049", "0.048", "0.050", "0.051", "0.058", "0.103", "0.158"]),
    ("GCRL, best-of-20 (seed 1)", ["0.069", "", "", "", "0.078", "0.117", ""]),
    ("GCRL, single sample (seed 1)", ["0.231", "", "", "", "0.333", "0.396", ""]),
    ("causal-motion README: vanilla ERM (det.)", ["", "", "", "0.112", "", "0.192", ""]),
]


def load_runs(folder: Path) -> dict[str, list[dict[str, float]]]:
    """``{"<data>/<method>": [metrics of each seed]}`` of the finished runs under ``folder``."""
    runs: dict[str, list[dict[str, float]]] = defaultdict(list)
    for done in sorted(folder.glob("*/*/seed_*/done.json")):
        metrics = json.loads(done.read_text())["metrics"]
        runs[f"{done.parts[-4]}/{done.parts[-3]}"].append({**metrics, "seed": int(done.parts[-2].split("_")[1])})
    return runs


def paired_section(runs: dict[str, list[dict[str, float]]], data: str = "synthetic") -> list[str]:
    """Each method's deterministic ADE minus ERM's on the same seeds at the extrapolation radii."""
    erm = {s["seed"]: s for s in runs.get(f"{data}/erm", [])}
    rows = []
    for key in sorted(k for k in runs if k.startswith(f"{data}/") and k != f"{data}/erm"):
        pairs = [(s, erm[s["seed"]]) for s in runs[key] if s["seed"] in erm]
        if not pairs:
            continue
        row = [f"{key.split('/')[1]} (n={len(pairs)})"]
        for r in ("0.6", "0.7"):
            diff = [a[f"test/ade/{r}"] - b[f"test/ade/{r}"] for a, b in pairs]
            wins = sum(d < 0 for d in diff)
            row.append(f"{np.mean(diff):+.4f} ± {np.std(diff):.4f} (below ERM on {wins}/{len(diff)} seeds)")
        rows.append(row)
    if not rows:
        return []
    return [
        "### Against ERM on the same seeds (deterministic ADE difference, m; negative = better than ERM)",
        "",
        table(["method", "r = 0.6", "r = 0.7"], rows),
        "",
    ]


def cell(values: list[float], digits: int = 3) -> str:
    """``mean ± std`` of the seeds' values (blank when none)."""
    vals = [v for v in values if v is not None and np.isfinite(v)]
    if not vals:
        return ""
    return f"{np.mean(vals):.{digits}f} ± {np.std(vals):.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


#: labelled variants of the synthetic protocol: (study folder, run-data folder, title, note)
VARIANTS = [
    (
        "forecast_synthetic_dense",
        "synthetic_train_0.1_0.2_0.3_0.4_0.5",
        "## Variant, not the papers' protocol: train on the files' r = 0.1-0.5 "
        "(`causal-priors study forecast_synthetic_dense`)",
        "ADE (m) per test radius; 0.2 / 0.4 are in distribution here, 0.6 / 0.7 still extrapolation.",
    ),
    (
        "forecast_synthetic_sim",
        "synthetic_sim_0.2_0.4",
        "## Variant, not the papers' protocol: train r = 0.1, 0.3, 0.5 + simulated 0.2, 0.4 "
        "(`causal-priors study forecast_synthetic_sim`)",
        "ADE (m) per test radius; 0.2 / 0.4 are in distribution here (simulated by our ORCA), 0.6 / 0.7 OOD.",
    ),
]


def synthetic_section(
    runs: dict[str, list[dict[str, float]]], data: str = "synthetic", title: str = "", note: str = ""
) -> list[str]:
    """The radius table and the low-shot table of one synthetic protocol (``data``: the run-data folder;
    ``title`` / ``note`` head a variant's section, the papers' protocol has its own and the reference rows)."""
    rows, adapt_rows = [], []
    methods = sorted(k.split("/")[1] for k in runs if k.startswith(f"{data}/"))
    if not methods:
        return []
    for method in methods:
        seeds = runs[f"{data}/{method}"]
        kinds = [("ade", "det.")] + (
            [("min_ade_20", "minADE_20"), ("min_ade_100", "minADE_100")] if method == "gcrl" else []
        )
        for key, label in kinds:
            rows.append(
                [f"{method} ({label}, n={len(seeds)})"]
                + [cell([s.get(f"test/{key}/{r}") for s in seeds]) for r in RADII]
            )
        adapt_key = "min_ade_100" if method == "gcrl" else "ade"
        for key in ["ade"] + ([adapt_key] if adapt_key != "ade" else []):
            adapt_rows.append(
                [f"{method} ({'det.' if key == 'ade' else 'minADE_100'})"]
                + [cell([s.get(f"adapt_0.6/{key}/b{b}") for s in seeds]) for b in BATCHES]
            )
    if data == "synthetic":
        rows += [[f"*paper: {name}*"] + vals for name, vals in REFERENCE_SYNTHETIC]
        adapt_rows += [
            ["*paper: causal motion (their target-validation selection)*", "0.106", "", "", "", "0.092"],
            ["*paper: GCRL best-of-100*", "0.092", "", "", "", "0.056"],
        ]
        title = "## Synthetic ORCA protocol (train r = 0.1, 0.3, 0.5; `causal-priors study forecast_synthetic`)"
        note = "ADE (m) per test radius, mean ± std over seeds. 0.2 / 0.4: OOD interpolation; 0.6 / 0.7: extrapolation."
    return [
        title,
        "",
        note,
        "",
        table(["method"] + RADII, rows),
        "",
        "### Low-shot adaptation to r = 0.6 (batches of 64 scenes; fixed budget, no target validation)",
        "",
        table(["method"] + [f"{b} batches" for b in BATCHES], adapt_rows),
        "",
    ]


def eth_section(runs: dict[str, list[dict[str, float]]]) -> list[str]:
    loo = [k for k in runs if k.startswith("eth_ucy_") and not k.split("/")[0].endswith("_spurious")]
    methods = sorted({k.split("/")[1] for k in loo})
    rows = []
    for method in methods:
        for key, label in [("ade", "det."), ("min_ade_20", "best-of-20")] if method == "gcrl" else [("ade", "det.")]:
            fde = key.replace("ade", "fde")
            row = [f"{method} ({label})"]
            for scene in SCENES:
                seeds = runs.get(f"eth_ucy_{scene}/{method}", [])
                ade, fde_c = (
                    cell([s.get(f"test/{key}/{scene}") for s in seeds]),
                    cell([s.get(f"test/{fde}/{scene}") for s in seeds]),
                )
                row.append(f"{ade} / {fde_c} (n={len(seeds)})" if seeds else "")
            rows.append(row)
    rows.append(
        [
            "*paper (hotel, best-of-20): vanilla / counterfactual / invariant*",
            "",
            "0.536/1.088, 0.512/1.029, 0.457/0.918",
            "",
            "",
            "",
        ]
    )
    return [
        "## ETH/UCY leave-one-scene-out (`causal-priors study forecast_eth_ucy`)",
        "",
        "ADE / FDE (m) on the left-out scene, mean ± std over seeds.",
        "",
        table(["method"] + SCENES, rows),
        "",
    ]


def spurious_section(runs: dict[str, list[dict[str, float]]]) -> list[str]:
    rows = []
    for key in sorted(k for k in runs if k.split("/")[0].endswith("_spurious")):
        seeds = runs[key]
        rows.append(
            [f"{key.split('/')[1]} (n={len(seeds)})"]
            + [cell([s.get(f"test/ade/eth@alpha={a}") for s in seeds], 2) for a in ALPHAS]
        )
    rows.append(["*paper: ERM*", "~0.8-0.95", "", "", "~0.8-0.95", "", "", "~2.7"])
    rows.append(["*paper: IRM (lambda 3-5)*", "~0.8-0.95", "", "", "~0.8-0.95", "", "", "~1.2-1.4"])
    return [
        "## ETH with a spurious input channel (`causal-priors study forecast_eth_spurious`)",
        "",
        "Trained on hotel / univ / zara1 / zara2 with alpha = 1 / 2 / 4 / 8; ADE (m) on ETH per test alpha.",
        "An invariant model's error would stay flat as alpha grows.",
        "",
        table(["method"] + [f"alpha={a}" for a in ALPHAS], rows),
        "",
    ]


def time_section(runs: dict[str, list[dict[str, float]]]) -> list[str]:
    rows = []
    for key in sorted(runs):
        secs = [s.get("train/wall_s") for s in runs[key]]
        rows.append([key, cell(secs, 0), str(len(secs))])
    return ["## Training time per run (s, one core)", "", table(["data/method", "train wall s", "n"], rows), ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs")
    parser.add_argument("--out", default="benchmarks/results/forecasting/README.md")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {}
    for study in ("forecast_synthetic", "forecast_eth_ucy", "forecast_eth_spurious"):
        runs.update(load_runs(Path(args.runs) / study))
    variants = []
    for study, data, title, note in VARIANTS:
        variants += synthetic_section(load_runs(Path(args.runs) / study), data, title, note)
    text = [
        "# Forecasting results",
        "",
        "Generated by `python benchmarks/forecasting_tables.py` from the runs' `done.json` files (published copies",
        "in the study folders next to this page). *Italic rows* are the papers' numbers from",
        "`../shared/specs/forecasting.md`. Deterministic = one prediction (posterior mean for GCRL).",
        "",
        *synthetic_section(runs),
        *paired_section(runs),
        *variants,
        *eth_section(runs),
        *spurious_section(runs),
        *time_section(runs),
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(text))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
