"""Out-of-distribution control: every finished run of a study evaluated under physical domain shifts.

For each run directory under ``<run_root>/<experiment>/`` with a ``done.json``, the final checkpoint's policy
plays ``--episodes`` deterministic episodes (fixed seeds) under each shift of one physical factor at a time:
body mass and friction x0.5 ... x2, gravity x0.8 ... x1.2 (x1 is the nominal task). Returns are aggregated per
agent over seeds (IQM with a 95% stratified-bootstrap interval) and drawn as return-vs-shift curves with bands.

    python benchmarks/cip_shift.py --experiments cip2_hopper_50k cip2_halfcheetah_50k

writes ``benchmarks/results/cip2_shift/shift.json`` (every run's returns and the aggregates), ``summary.md`` and one
``shift_<experiment>.png`` per experiment. Each run's scores are cached in ``<run>/shift.json``, so an interrupted
evaluation resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from _checkout import use_this_checkout

use_this_checkout()

RESULTS = Path(__file__).parent / "results" / "cip2_shift"
SHIFTS: dict[str, list[float]] = {
    "mass": [0.5, 0.75, 1.0, 1.5, 2.0],
    "friction": [0.5, 0.75, 1.0, 1.5, 2.0],
    "gravity": [0.8, 0.9, 1.0, 1.1, 1.2],
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", nargs="+", default=["cip2_hopper_50k", "cip2_halfcheetah_50k"])
    parser.add_argument("--run-root", type=Path, default=Path("runs"))
    parser.add_argument("--episodes", type=int, default=5, help="deterministic episodes per shift and run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def shift_conditions() -> list[tuple[str, float]]:
    """``(factor, value)`` pairs; the nominal task appears once, as ``("nominal", 1.0)``."""
    out = [("nominal", 1.0)]
    out += [(name, v) for name, values in SHIFTS.items() for v in values if v != 1.0]
    return out


def evaluate_run(run: Path, episodes: int) -> dict[str, float]:
    """Mean return of the run's final checkpoint under every shift, cached in ``<run>/shift.json``."""
    from agents.workspace import evaluate_checkpoint

    cache = run / "shift.json"
    scores: dict[str, float] = json.loads(cache.read_text()) if cache.is_file() else {}
    for factor, value in shift_conditions():
        key = f"{factor}={value}"
        if key in scores:
            continue
        overrides = [] if factor == "nominal" else [f"env.domain_shift.{factor}={value}"]
        scores[key] = float(evaluate_checkpoint(run, overrides, episodes)["mean_reward"])
        cache.write_text(json.dumps(scores, indent=2, sort_keys=True))
    return scores


def finished_runs(root: Path, experiment: str) -> list[Path]:
    return sorted(p.parent for p in (root / experiment).glob("*/*/seed_*/done.json"))


def aggregate(per_run: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Per agent: for every condition, IQM and 95% interval over seeds (``per_run`` keyed ``env/agent/seed_n``)."""
    from causal_priors.stats import interval

    agents: dict[str, list[dict[str, float]]] = {}
    for key, scores in per_run.items():
        agents.setdefault(key.split("/")[1], []).append(scores)
    out: dict[str, dict[str, Any]] = {}
    for agent, runs in sorted(agents.items()):
        out[agent] = {"n_seeds": len(runs)}
        for factor, value in shift_conditions():
            cond = f"{factor}={value}"
            out[agent][cond] = interval(np.array([r[cond] for r in runs])).as_dict()
        for name, values in run_robustness(runs).items():
            out[agent][name] = interval(values).as_dict()
    return out


def run_robustness(runs: list[dict[str, float]]) -> dict[str, np.ndarray]:
    """Per run, over the 12 shifted conditions: their mean return, worst return, and mean return / nominal return."""
    shifted = [f"{f}={v}" for f, v in shift_conditions() if f != "nominal"]
    table = np.array([[r[c] for c in shifted] for r in runs])
    nominal = np.array([r["nominal=1.0"] for r in runs])
    return {
        "shifted_mean": table.mean(axis=1),
        "shifted_worst": table.min(axis=1),
        "retention": table.mean(axis=1) / np.maximum(np.abs(nominal), 1e-9),
    }


def plot(experiment: str, agg: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SHIFTS), figsize=(4.2 * len(SHIFTS), 3.4), sharey=True)
    for ax, (factor, values) in zip(axes, SHIFTS.items(), strict=True):
        for agent, stats in agg.items():
            keys = ["nominal=1.0" if v == 1.0 else f"{factor}={v}" for v in values]
            point = [stats[k]["point"] for k in keys]
            ax.plot(values, point, marker="o", label=f"{agent} (n={stats['n_seeds']})")
            ax.fill_between(values, [stats[k]["low"] for k in keys], [stats[k]["high"] for k in keys], alpha=0.15)
        ax.set_xlabel(f"{factor} factor")
        ax.axvline(1.0, color="grey", lw=0.5)
    axes[0].set_ylabel("return (IQM, 95% CI over seeds)")
    axes[-1].legend(fontsize=7)
    fig.suptitle(f"{experiment}: return under domain shift")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(results: dict[str, Any]) -> str:
    lines = ["# CIP under domain shift", "", f"`python benchmarks/cip_shift.py --experiments {' '.join(results)}`", ""]
    for experiment, data in results.items():
        agg = data["aggregate"]
        conds = [f"{f}={v}" for f, v in shift_conditions()]
        lines += [f"## {experiment}", "", "| agent | " + " | ".join(conds) + " |", "|---" * (len(conds) + 1) + "|"]
        for agent, stats in agg.items():
            cells = [f"{stats[c]['point']:.0f} [{stats[c]['low']:.0f}, {stats[c]['high']:.0f}]" for c in conds]
            lines.append(f"| {agent} (n={stats['n_seeds']}) | " + " | ".join(cells) + " |")
        lines += [
            "",
            "Per run over the 12 shifted conditions, then IQM [95% CI] over seeds: the mean and the worst shifted "
            "return, and the retention (mean shifted return / the same run's nominal return; 1 = unaffected).",
            "",
            "| agent | nominal | shifted mean | shifted worst | retention |",
            "|---|---|---|---|---|",
        ]
        for agent, stats in agg.items():
            cells = [
                f"{stats[c]['point']:.{d}f} [{stats[c]['low']:.{d}f}, {stats[c]['high']:.{d}f}]"
                for c, d in (("nominal=1.0", 0), ("shifted_mean", 0), ("shifted_worst", 0), ("retention", 2))
            ]
            lines.append(f"| {agent} (n={stats['n_seeds']}) | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    from causal_priors.quiet import quiet_known_noise
    from causal_priors.seeding import single_thread

    single_thread()
    quiet_known_noise()  # MuJoCo's settotalmass deprecation, printed at every HalfCheetah model load
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for experiment in args.experiments:
        runs = finished_runs(args.run_root, experiment)
        per_run = {}
        for run in runs:
            start = time.perf_counter()
            per_run[str(run.relative_to(args.run_root / experiment))] = evaluate_run(run, args.episodes)
            print(f"{run}: {time.perf_counter() - start:.0f}s", flush=True)
        agg = aggregate(per_run)
        results[experiment] = {"runs": per_run, "aggregate": agg, "episodes": args.episodes}
        if agg:
            plot(experiment, agg, args.out / f"shift_{experiment}.png")
    (args.out / "shift.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    (args.out / "summary.md").write_text(markdown(results) + "\n")
    print(f"-> {args.out}")
    return results


if __name__ == "__main__":
    main()
