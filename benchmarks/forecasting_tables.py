"""The forecasting results: ``summary.json`` (machine-readable) and the README page rendered from it.

Reads every finished run's ``done.json`` -- by default the published copies under
``benchmarks/results/forecasting/<study>/runs/`` (``--runs runs`` reads live run folders instead) -- and writes

- ``benchmarks/results/forecasting/summary.json``:
  ``{study: {method: {metric: {key: {"mean", "std", "n"}}}}}`` (built by ``forecasting.results_summary``);
  ``key`` is the test environment (synthetic: the radius, ETH/UCY: the left-out scene, spurious protocol:
  ``eth@alpha=<a>``) and, for the low-shot metrics ``adapt_0.6/<metric>``, the number of adaptation batches.
  ``std`` is over seeds (population std, ddof 0), ``n`` the number of seeds. Metrics: ``ade``, ``fde``,
  ``energy`` and ``spread`` (the proper energy score and the samples' spread, ``forecasting.scoring``; only runs
  evaluated since they exist have them), ``min_ade_20/100``, ``min_fde_20/100``, ``adapt_0.6/<metric>``;
- ``benchmarks/results/forecasting/README.md``: the tables (rendered here), every number from ``summary.json``
  except the same-seed differences and the training times (from the runs' ``done.json``) and the papers' numbers
  (*italic rows*, from ``../shared/specs/forecasting.md``);
- ``benchmarks/results/forecasting/spread_vs_error.png``: for every generative method (and ``orca_style``), the
  samples' spread next to the deterministic ADE, minADE_20 and the energy score per test radius
  (``forecasting.results_plot``);
- the top-level README's forecasting results block, between ``README_BEGIN`` and ``README_END`` (``--readme``;
  ``--readme ''`` leaves the README alone), also rendered from ``summary.json`` (``forecasting.results_readme``).

Usage::

    python benchmarks/forecasting_tables.py [--runs benchmarks/results/forecasting] [--out-dir DIR] [--readme README.md]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from _checkout import use_this_checkout

use_this_checkout()

from forecasting.results_plot import plot_spread_vs_error  # noqa: E402
from forecasting.results_readme import (  # noqa: E402
    README_BEGIN,
    README_END,
    REFERENCE_SYNTHETIC,
    cell,
    table,
    update_readme,
)
from forecasting.results_summary import (  # noqa: E402
    ALPHAS,
    BATCHES,
    GENERATIVE,
    RADII,
    RESCORED,
    SCENES,
    Runs,
    Summary,
    build_summary,
    seed_count,
    seed_stats,
    summary_entry,
    summary_json,
)


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


def synthetic_section(
    summary: Summary, study: str = "forecast_synthetic", title: str = "", note: str = ""
) -> list[str]:
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
            n = seed_count(summary, study, method, key)
            rows.append(
                [f"{method} ({label}, n={n})"] + [cell(summary_entry(summary, study, method, key, r)) for r in RADII]
            )
        for key in ["ade"] + (["min_ade_100"] if method in GENERATIVE else []):
            adapt_rows.append(
                [f"{method} ({'det.' if key == 'ade' else 'minADE_100'})"]
                + [cell(summary_entry(summary, study, method, f"adapt_0.6/{key}", str(b))) for b in BATCHES]
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


def proper_score_section(summary: Summary) -> list[str]:
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
                n = seed_count(summary, study, method, key)
                rows.append(
                    [f"{method} ({label}{tag}, n={n})"]
                    + [cell(summary_entry(summary, study, method, key, r)) for r in RADII]
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


def targets_section(summary: Summary, study: str = "forecast_synthetic") -> list[str]:
    """Issue 14's targets: ADE at r = 0.6 / 0.7 below the mechanism baseline's probe (0.079 / 0.086) and the papers'
    0.106 / 0.155, in distribution no worse than ERM + 0.005; each method's numbers from summary.json."""
    methods = [m for m in ("orca_style", "orca_residual") if m in summary.get(study, {})]
    if not methods or "erm" not in summary.get(study, {}):
        return []
    rows = []
    for method in methods + ["erm"]:
        ade = {r: summary_entry(summary, study, method, "ade", r) for r in RADII}
        gap = [
            ade[r]["mean"] - summary_entry(summary, study, "erm", "ade", r)["mean"]
            for r in ("0.1", "0.3", "0.5")
            if ade[r]
        ]
        n = seed_count(summary, study, method)
        rows.append([f"{method} (det., n={n})", cell(ade["0.6"]), cell(ade["0.7"]), f"{max(gap):+.3f}" if gap else ""])
    rows.append(["*target: issue 14 probe (ORCA, inferred radius)*", "< 0.079", "< 0.086", "<= +0.005"])
    rows.append(["*paper: causal motion / GCRL best-of-100*", "0.106 / 0.103", "0.155 / 0.158", ""])
    return [
        "### Issue 14 targets (deterministic ADE, m)",
        "",
        table(["method", "r = 0.6", "r = 0.7", "worst of r = 0.1 / 0.3 / 0.5 minus ERM"], rows),
        "",
    ]


def eth_section(summary: Summary) -> list[str]:
    """ADE / FDE per left-out scene of the ETH/UCY leave-one-scene-out study (best-of-20 for generative methods)."""
    study = "forecast_eth_ucy"
    rows = []
    for method in sorted(summary.get(study, {})):
        kinds = [("ade", "det."), ("min_ade_20", "best-of-20")] if method in GENERATIVE else [("ade", "det.")]
        for key, label in kinds:
            fde = key.replace("ade", "fde")
            row = [f"{method} ({label})"]
            for scene in SCENES:
                a, f = (
                    summary_entry(summary, study, method, key, scene),
                    summary_entry(summary, study, method, fde, scene),
                )
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


def spurious_section(summary: Summary) -> list[str]:
    """ETH ADE per test alpha of the spurious-channel protocol, next to the papers' ERM / IRM numbers."""
    study = "forecast_eth_spurious"
    rows = []
    for method in sorted(summary.get(study, {})):
        rows.append(
            [f"{method} (n={seed_count(summary, study, method)})"]
            + [cell(summary_entry(summary, study, method, "ade", f"eth@alpha={a}"), 2) for a in ALPHAS]
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
    """Training wall time per data/method of the papers' protocols (from the runs' done.json)."""
    rows = []
    merged: Runs = {}
    for study in ("forecast_synthetic", "forecast_eth_ucy", "forecast_eth_spurious"):
        merged.update(runs_by_study.get(study, {}))
    for key in sorted(merged):
        secs = [s.get("train/wall_s") for s in merged[key]]
        rows.append([key, cell(seed_stats(secs), 0), str(len(secs))])
    return ["## Training time per run (s, one core)", "", table(["data/method", "train wall s", "n"], rows), ""]


def render(summary: Summary, runs_by_study: dict[str, Runs]) -> str:
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


def main() -> None:
    """Write summary.json, the results page and the spread plot, and regenerate the README block."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="benchmarks/results/forecasting", help="folder holding the study folders")
    parser.add_argument("--out-dir", default="benchmarks/results/forecasting")
    parser.add_argument("--readme", default="README.md", help="README with the results markers ('' = leave it)")
    args = parser.parse_args()
    summary, runs_by_study = build_summary(Path(args.runs))
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(summary_json(summary))
    plot_spread_vs_error(summary, out / "spread_vs_error.png")
    (out / "README.md").write_text(render(summary, runs_by_study))
    print(f"wrote {out / 'summary.json'}, {out / 'README.md'}")
    if args.readme:
        if not update_readme(Path(args.readme), summary):
            raise SystemExit(f"{args.readme}: no '{README_BEGIN}' ... '{README_END}' block to regenerate")
        print(f"updated the forecasting block of {args.readme}")


if __name__ == "__main__":
    main()
