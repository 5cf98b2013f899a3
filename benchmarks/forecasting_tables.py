"""The forecasting results: ``summary.json`` (machine-readable) and the README page rendered from it.

Reads every finished run's ``done.json`` -- by default the published copies under
``benchmarks/results/forecasting/<study>/runs/`` (``--runs runs`` reads live run folders instead) -- and writes

- ``benchmarks/results/forecasting/summary.json``:
  ``{study: {method: {metric: {key: {"mean", "std", "n"}}}}}``; ``key`` is the test environment (synthetic:
  the radius, ETH/UCY: the left-out scene, spurious protocol: ``eth@alpha=<a>``) and, for the low-shot metrics
  ``adapt_0.6/<metric>``, the number of adaptation batches. ``std`` is over seeds (population std, ddof 0),
  ``n`` the number of seeds. Metrics: ``ade``, ``fde``, ``energy`` and ``spread`` (the proper energy score and
  the samples' spread, ``forecasting.scoring``; only runs evaluated since they exist have them),
  ``min_ade_20/100``, ``min_fde_20/100``, ``adapt_0.6/<metric>``;
- ``benchmarks/results/forecasting/README.md``: the tables, every number from ``summary.json`` except the
  same-seed differences and the training times (from the runs' ``done.json``) and the papers' numbers
  (*italic rows*, from ``../shared/specs/forecasting.md``);
- ``benchmarks/results/forecasting/spread_vs_error.png``: for every generative method (and ``orca_style``), the
  samples' spread next to the deterministic ADE, minADE_20 and the energy score per test radius;
- the top-level README's forecasting results block, between ``README_BEGIN`` and ``README_END`` (``--readme``;
  ``--readme ''`` leaves the README alone), also rendered from ``summary.json``.

Usage::

    python benchmarks/forecasting_tables.py [--runs benchmarks/results/forecasting] [--out-dir DIR] [--readme README.md]
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
STUDIES = [
    "forecast_synthetic",
    "forecast_synthetic_rescored",
    "forecast_synthetic_dense",
    "forecast_synthetic_sim",
    "forecast_eth_ucy",
    "forecast_eth_spurious",
]
#: metrics kept in summary.json (``test/<metric>/<env>`` and ``adapt_0.6/<metric>/b<n>``)
METRICS = ["ade", "fde", "energy", "spread", "min_ade_20", "min_fde_20", "min_ade_100", "min_fde_100"]
#: generative methods: best-of-K rows next to the deterministic one
GENERATIVE = {"gcrl"}

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

Runs = dict[str, list[dict[str, float]]]


def load_runs(folder: Path) -> Runs:
    """``{"<data>/<method>": [metrics of each seed]}`` of the finished runs under ``folder`` (a study's run
    folder, or its published copy, whose runs sit under ``runs/``)."""
    if (folder / "runs").is_dir():
        folder = folder / "runs"
    runs: Runs = defaultdict(list)
    for done in sorted(folder.glob("*/*/seed_*/done.json")):
        metrics = json.loads(done.read_text())["metrics"]
        runs[f"{done.parts[-4]}/{done.parts[-3]}"].append({**metrics, "seed": int(done.parts[-2].split("_")[1])})
    return runs


def _stats(values: list[float]) -> dict[str, float] | None:
    vals = [float(v) for v in values if v is not None and np.isfinite(v)]
    if not vals:
        return None
    return {"mean": float(np.mean(vals)), "std": float(np.std(vals)), "n": len(vals)}


def study_summary(runs: Runs) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
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
    out: dict = {}
    for method in sorted(values):
        for metric in sorted(values[method]):
            for env, vals in values[method][metric].items():
                stats = _stats(vals)
                if stats is not None:
                    out.setdefault(method, {}).setdefault(metric, {})[env] = stats
    return out


def build_summary(root: Path) -> tuple[dict, dict[str, Runs]]:
    """``summary.json``'s content and the runs it came from, per study."""
    runs = {study: load_runs(root / study) for study in STUDIES}
    return {study: study_summary(r) for study, r in runs.items() if r}, runs


def cell(entry: dict[str, float] | None, digits: int = 3) -> str:
    """``mean ± std`` of a summary entry (blank when absent)."""
    if not entry:
        return ""
    return f"{entry['mean']:.{digits}f} ± {entry['std']:.{digits}f}"


def _get(summary: dict, study: str, method: str, metric: str, key: str) -> dict[str, float] | None:
    return summary.get(study, {}).get(method, {}).get(metric, {}).get(key)


def _n(summary: dict, study: str, method: str, metric: str = "ade") -> int:
    entries = summary.get(study, {}).get(method, {}).get(metric, {})
    return max((e["n"] for e in entries.values()), default=0)


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def paired_section(runs: Runs, data: str = "synthetic") -> list[str]:
    """Each method's deterministic ADE minus ERM's on the same seeds at the extrapolation radii (done.json)."""
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


#: labelled variants of the synthetic protocol: (study, title, note)
VARIANTS = [
    (
        "forecast_synthetic_dense",
        "## Variant, not the papers' protocol: train on the files' r = 0.1-0.5 "
        "(`causal-priors study forecast_synthetic_dense`)",
        "ADE (m) per test radius; 0.2 / 0.4 are in distribution here, 0.6 / 0.7 still extrapolation.",
    ),
    (
        "forecast_synthetic_sim",
        "## Variant, not the papers' protocol: train r = 0.1, 0.3, 0.5 + simulated 0.2, 0.4 "
        "(`causal-priors study forecast_synthetic_sim`)",
        "ADE (m) per test radius; 0.2 / 0.4 are in distribution here (simulated by our ORCA), 0.6 / 0.7 OOD.",
    ),
]


def synthetic_section(summary: dict, study: str = "forecast_synthetic", title: str = "", note: str = "") -> list[str]:
    """The radius table and the low-shot table of one synthetic study."""
    methods = sorted(summary.get(study, {}))
    if not methods:
        return []
    rows, adapt_rows = [], []
    for method in methods:
        kinds = [("ade", "det.")] + (
            [("min_ade_20", "minADE_20"), ("min_ade_100", "minADE_100")] if method in GENERATIVE else []
        )
        for key, label in kinds:
            n = _n(summary, study, method, key)
            rows.append([f"{method} ({label}, n={n})"] + [cell(_get(summary, study, method, key, r)) for r in RADII])
        for key in ["ade"] + (["min_ade_100"] if method in GENERATIVE else []):
            adapt_rows.append(
                [f"{method} ({'det.' if key == 'ade' else 'minADE_100'})"]
                + [cell(_get(summary, study, method, f"adapt_0.6/{key}", str(b))) for b in BATCHES]
            )
    if study == "forecast_synthetic":
        rows += [[f"*paper: {name}*"] + vals for name, vals in REFERENCE_SYNTHETIC]
        adapt_rows += [
            ["*paper: causal motion (their target-validation selection)*", "0.106", "", "", "", "0.092"],
            ["*paper: GCRL best-of-100*", "0.092", "", "", "", "0.056"],
        ]
        title = "## Synthetic ORCA protocol (train r = 0.1, 0.3, 0.5; `causal-priors study forecast_synthetic`)"
        note = (
            "ADE (m) per test radius, mean ± std over seeds. 0.2 / 0.4: OOD interpolation; 0.6 / 0.7: extrapolation.\n"
            "`orca_style` is the mechanism baseline: no training, the ORCA style inferred from the test radius' 64\n"
            "reference scenes (the ones causal motion's style encoder reads); its low-shot rows use the adaptation\n"
            "scenes as references instead."
        )
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


#: re-runs of the synthetic protocol's generative methods (same config) whose samples the energy score scored
RESCORED = "forecast_synthetic_rescored"


def proper_score_section(summary: dict) -> list[str]:
    """Energy score and spread next to best-of-K, for every method whose runs have the energy score (the
    synthetic study's, and the re-runs of methods evaluated before the score existed, labelled)."""
    rows = []
    scored = []
    for study, tag in (("forecast_synthetic", ""), (RESCORED, ", re-run")):
        for method in sorted(summary.get(study, {})):
            if "energy" not in summary[study][method]:
                continue
            scored.append(method)
            kinds = [("ade", "det. ADE"), ("energy", "energy score"), ("spread", "spread")]
            if method in GENERATIVE:
                kinds[1:1] = [("min_ade_20", "minADE_20"), ("min_ade_100", "minADE_100")]
            for key, label in kinds:
                n = _n(summary, study, method, key)
                rows.append(
                    [f"{method} ({label}{tag}, n={n})"] + [cell(_get(summary, study, method, key, r)) for r in RADII]
                )
    if not rows:
        return []
    missing = sorted(m for m in summary.get("forecast_synthetic", {}) if m not in scored)
    return [
        "### A proper score next to best-of-K (energy score over the samples; `forecasting/scoring.py`)",
        "",
        "Energy score (m; lower is better, minimised only by the true distribution of the future) and spread (mean",
        "pairwise distance of the samples, m) per test radius, over all 100 samples. Both are root-mean-square per",
        "step: a deterministic method's energy score is its RMS error (its spread 0), so the rows compare directly.",
        f"Re-run rows: the same config and seed trained again (`{RESCORED}/`; torch on CPU is not bit-reproducible",
        "across runs, so its ADE differs a little from the study's run of that seed), because the study's",
        "checkpoints were not kept. No energy score yet for: " + (", ".join(missing) or "none") + ".",
        "",
        table(["method"] + RADII, rows),
        "",
        "![spread vs error](spread_vs_error.png)",
        "",
    ]


def targets_section(summary: dict, study: str = "forecast_synthetic") -> list[str]:
    """Issue 14's targets: ADE at r = 0.6 / 0.7 below the mechanism baseline's probe (0.079 / 0.086) and the papers'
    0.106 / 0.155, in distribution no worse than ERM + 0.005; each method's numbers from summary.json."""
    methods = [m for m in ("orca_style", "orca_residual") if m in summary.get(study, {})]
    if not methods or "erm" not in summary.get(study, {}):
        return []
    rows = []
    for method in methods + ["erm"]:
        ade = {r: _get(summary, study, method, "ade", r) for r in RADII}
        gap = [ade[r]["mean"] - _get(summary, study, "erm", "ade", r)["mean"] for r in ("0.1", "0.3", "0.5") if ade[r]]
        n = _n(summary, study, method)
        rows.append([f"{method} (det., n={n})", cell(ade["0.6"]), cell(ade["0.7"]), f"{max(gap):+.3f}" if gap else ""])
    rows.append(["*target: issue 14 probe (ORCA, inferred radius)*", "< 0.079", "< 0.086", "<= +0.005"])
    rows.append(["*paper: causal motion / GCRL best-of-100*", "0.106 / 0.103", "0.155 / 0.158", ""])
    return [
        "### Issue 14 targets (deterministic ADE, m)",
        "",
        table(["method", "r = 0.6", "r = 0.7", "worst of r = 0.1 / 0.3 / 0.5 minus ERM"], rows),
        "",
    ]


def eth_section(summary: dict) -> list[str]:
    study = "forecast_eth_ucy"
    rows = []
    for method in sorted(summary.get(study, {})):
        kinds = [("ade", "det."), ("min_ade_20", "best-of-20")] if method in GENERATIVE else [("ade", "det.")]
        for key, label in kinds:
            fde = key.replace("ade", "fde")
            row = [f"{method} ({label})"]
            for scene in SCENES:
                a, f = _get(summary, study, method, key, scene), _get(summary, study, method, fde, scene)
                row.append(f"{cell(a)} / {cell(f)} (n={a['n']})" if a else "")
            rows.append(row)
    rows.append(
        [
            "*paper (hotel, best-of-20): vanilla / counterfactual / invariant*",
            "",
            "0.536/1.088, 0.512/1.029, 0.457/0.918",
        ]
        + [""] * 3
    )
    return [
        "## ETH/UCY leave-one-scene-out (`causal-priors study forecast_eth_ucy`)",
        "",
        "ADE / FDE (m) on the left-out scene, mean ± std over seeds. `orca_style` has no reference scenes here",
        "(the study scores every test window): its style is the one estimated from the four training scenes;",
        "so is `orca_residual`'s mechanism on the left-out scene (each training scene's own style in training).",
        "",
        table(["method"] + SCENES, rows),
        "",
    ]


def spurious_section(summary: dict) -> list[str]:
    study = "forecast_eth_spurious"
    rows = []
    for method in sorted(summary.get(study, {})):
        rows.append(
            [f"{method} (n={_n(summary, study, method)})"]
            + [cell(_get(summary, study, method, "ade", f"eth@alpha={a}"), 2) for a in ALPHAS]
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


def time_section(runs_by_study: dict[str, Runs]) -> list[str]:
    rows = []
    merged: Runs = {}
    for study in ("forecast_synthetic", "forecast_eth_ucy", "forecast_eth_spurious"):
        merged.update(runs_by_study.get(study, {}))
    for key in sorted(merged):
        secs = [s.get("train/wall_s") for s in merged[key]]
        rows.append([key, cell(_stats(secs), 0), str(len(secs))])
    return ["## Training time per run (s, one core)", "", table(["data/method", "train wall s", "n"], rows), ""]


def plot_spread_vs_error(summary: dict, path: Path) -> Path | None:
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
            ys = [(_get(summary, study, method, metric, r) or {}).get("mean", np.nan) for r in RADII]
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


def render(summary: dict, runs_by_study: dict[str, Runs]) -> str:
    """The README page."""
    variants = []
    for study, title, note in VARIANTS:
        variants += synthetic_section(summary, study, title, note)
    text = [
        "# Forecasting results",
        "",
        "Generated by `python benchmarks/forecasting_tables.py` from `summary.json` (next to this page; built from the",
        "runs' `done.json` files published in the study folders). Same-seed differences and training times come",
        "from the `done.json` files directly. *Italic rows* are the papers' numbers from",
        "`../shared/specs/forecasting.md`. Deterministic = one prediction (posterior mean for GCRL).",
        "",
        *synthetic_section(summary),
        *paired_section(runs_by_study.get("forecast_synthetic", {})),
        *targets_section(summary),
        *proper_score_section(summary),
        *variants,
        *eth_section(summary),
        *spurious_section(summary),
        *time_section(runs_by_study),
    ]
    return "\n".join(text)


README_BEGIN = "<!-- forecasting-results:begin (generated by benchmarks/forecasting_tables.py; do not edit) -->"
README_END = "<!-- forecasting-results:end -->"
#: the README block's rows: (study, method, metric, label)
README_ROWS = [
    ("forecast_synthetic", "erm", "ade", "ERM (det.)"),
    ("forecast_synthetic", "causal_motion", "ade", "causal motion (det.)"),
    ("forecast_synthetic", "gcrl", "ade", "GCRL (det.)"),
    ("forecast_synthetic", "gcrl", "min_ade_100", "GCRL (minADE_100)"),
    ("forecast_synthetic", "orca_style", "ade", "orca_style: ORCA, style from reference scenes, no training (det.)"),
    ("forecast_synthetic", "orca_residual", "ade", "orca_residual: ORCA + learned correction (det.)"),
]
README_RADII = ["0.1", "0.3", "0.5", "0.6", "0.7"]
#: the README's ETH/UCY rows: (method, metric, label)
README_ETH_ROWS = [
    ("erm", "ade", "det."),
    ("gcrl", "ade", "det."),
    ("gcrl", "min_ade_20", "best-of-20"),
    ("orca_style_last", "ade", "det."),
    ("orca_residual", "ade", "det."),
]


def readme_block(summary: dict) -> str:
    """The README's forecasting results: headline ADE per test radius and ETH/UCY ADE, from ``summary.json``."""
    rows = []
    for study, method, metric, label in README_ROWS:
        if method in summary.get(study, {}):
            n = _n(summary, study, method, metric)
            rows.append([f"{label}, n={n}"] + [cell(_get(summary, study, method, metric, r)) for r in README_RADII])
    for name, vals in REFERENCE_SYNTHETIC[:2]:
        by_radius = dict(zip(RADII, vals, strict=True))
        rows.append([f"*paper: {name}*"] + [by_radius[r] for r in README_RADII])
    eth_rows = []
    for method, metric, label in README_ETH_ROWS:
        values = summary.get("forecast_eth_ucy", {}).get(method, {}).get(metric)
        if values:
            eth_rows.append(
                [f"{method} ({label})"]
                + [f"{cell(values[s])} (n={values[s]['n']})" if s in values else "" for s in SCENES]
            )
    lines = [
        README_BEGIN,
        "Deterministic ADE (m), mean ± std over n seeds, synthetic protocol (train r = 0.1 / 0.3 / 0.5; 0.6 / 0.7 are",
        "extrapolation). All tables, low-shot and the energy score: "
        "[benchmarks/results/forecasting/README.md](benchmarks/results/forecasting/README.md).",
        "",
        table(["method"] + [f"r = {r}" for r in README_RADII], rows),
    ]
    if eth_rows:
        lines += [
            "",
            "ETH/UCY leave-one-scene-out, ADE (m) on the left-out scene:",
            "",
            table(["method"] + SCENES, eth_rows),
        ]
    return "\n".join([*lines, README_END])


def update_readme(path: Path, summary: dict) -> bool:
    """Replace the block between the README markers by :func:`readme_block`; False when the markers are absent."""
    text = path.read_text()
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        return False
    path.write_text(text[:start] + readme_block(summary) + text[end + len(README_END) :])
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="benchmarks/results/forecasting", help="folder holding the study folders")
    parser.add_argument("--out-dir", default="benchmarks/results/forecasting")
    parser.add_argument("--readme", default="README.md", help="README with the results markers ('' = leave it)")
    args = parser.parse_args()
    summary, runs_by_study = build_summary(Path(args.runs))
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    plot_spread_vs_error(summary, out / "spread_vs_error.png")
    (out / "README.md").write_text(render(summary, runs_by_study))
    print(f"wrote {out / 'summary.json'}, {out / 'README.md'}")
    if args.readme:
        if not update_readme(Path(args.readme), summary):
            raise SystemExit(f"{args.readme}: no '{README_BEGIN}' ... '{README_END}' block to regenerate")
        print(f"updated the forecasting block of {args.readme}")


if __name__ == "__main__":
    main()
