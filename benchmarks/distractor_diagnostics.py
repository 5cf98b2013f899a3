"""Does CIP find the distractors? Per refit of the distractor study's CIP runs, from ``causal_graphs/step_<n>.json``.

For every refit: how many of the distractor dims (the last ``--distractors`` state dims) lose their reward edge and
are swapped by the counterfactual augmentation, which task dims are swapped (false irrelevance), how many
distractors keep a (spurious) reward edge, and the mean weight w_s of task vs distractor dims.

Usage (after ``causal-priors study distractor_study``)::

    python benchmarks/distractor_diagnostics.py [--runs runs/distractor_reacher/Reacher-v5/cip] [--distractors 20]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def refit_row(graph: dict, n_distractors: int) -> dict[str, float | list[int]]:
    """The diagnostics of one saved refit (a ``FactoredGraph`` JSON plus the swapped dims)."""
    d = int(graph["state_dim"])
    first = d - n_distractors
    swapped = set(graph.get("swap_candidates", graph.get("swapped_state_dims", [])))
    edges = np.asarray(graph["reward_state_edges"], dtype=bool)
    w_s = np.asarray(graph["w_s"], dtype=float)
    return {
        "distractors_swapped": sum(1 for i in swapped if i >= first),
        "task_dims_swapped": sorted(i for i in swapped if i < first),
        "distractor_reward_edges": int(edges[first:].sum()),
        "task_reward_edges": int(edges[:first].sum()),
        "w_s_task_mean": float(w_s[:first].mean()),
        "w_s_distractor_mean": float(w_s[first:].mean()),
        "fit_seconds": float(graph.get("fit_seconds", float("nan"))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/distractor_reacher/Reacher-v5/cip")
    parser.add_argument("--distractors", type=int, default=20)
    parser.add_argument("--out", default="benchmarks/results/distractor_reacher/diagnostics.json")
    args = parser.parse_args()
    rows = []
    for path in sorted(Path(args.runs).glob("seed_*/causal_graphs/step_*.json")):
        step = int(path.stem.split("_")[1])
        seed = int(path.parent.parent.name.split("_")[1])
        rows.append({"seed": seed, "step": step, **refit_row(json.loads(path.read_text()), args.distractors)})
    if not rows:
        raise SystemExit(f"no causal_graphs/step_*.json under {args.runs}")
    rows.sort(key=lambda r: (r["seed"], r["step"]))
    n = args.distractors
    print(f"| seed | step | distractors swapped (of {n}) | task dims swapped | distractor / task reward edges |")
    print("|---|---|---|---|---|")
    for r in rows:
        edges = f"{r['distractor_reward_edges']} / {r['task_reward_edges']}"
        print(f"| {r['seed']} | {r['step']} | {r['distractors_swapped']} | {r['task_dims_swapped']} | {edges} |")
    swapped = [r["distractors_swapped"] for r in rows]
    false = [len(r["task_dims_swapped"]) for r in rows]
    print(
        f"\n{len(rows)} refits over seeds {sorted({r['seed'] for r in rows})}: distractors swapped median "
        f"{np.median(swapped):.0f} of {n} (range {min(swapped)}-{max(swapped)}); task dims swapped median "
        f"{np.median(false):.0f} (max {max(false)})"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))
    print(f"rows: {args.out}")


if __name__ == "__main__":
    main()
