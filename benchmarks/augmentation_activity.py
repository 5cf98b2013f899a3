"""Does CIP's counterfactual augmentation act on a task? Per refit, from every run's ``causal_graphs/``.

For each saved refit (``<run>/causal_graphs/step_<n>.json``) of the runs found under ``--runs``: the state size,
how many state dims lose their reward edge (the candidates), how many of those CoDA validity keeps (the swapped
dims: neither controlled by the action nor parents of a kept dim), and the spread of the weights w_s / w_a
(the causality-aware entropy's input). A task whose refits swap nothing gets no augmentation at all: there CIP
acts only through the weighted entropy and the empowerment bonus.

Usage (after any CIP runs; e.g. the Hopper, HalfCheetah and DMC reacher studies)::

    python benchmarks/augmentation_activity.py [--runs runs] [--out benchmarks/results/augmentation_activity.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def refit_summary(graph: dict) -> dict[str, float]:
    """Candidates, swapped dims and weight spread of one saved refit."""
    edges = np.asarray(graph["reward_state_edges"], dtype=bool)
    w_s, w_a = np.asarray(graph["w_s"], dtype=float), np.asarray(graph["w_a"], dtype=float)
    return {
        "state_dim": int(graph["state_dim"]),
        "no_reward_edge": int((~edges).sum()),
        "swapped": len(graph.get("swapped_state_dims", [])),
        "w_s_min": float(w_s.min()),
        "w_s_max": float(w_s.max()),
        "w_a_spread": float(w_a.max() - w_a.min()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs")
    parser.add_argument("--out", default="benchmarks/results/augmentation_activity.json")
    args = parser.parse_args()
    by_task: dict[str, list[dict]] = {}
    for path in sorted(Path(args.runs).glob("*/*/*/seed_*/causal_graphs/step_*.json")):
        run = path.parent.parent
        cfg_text = (run / "config.yaml").read_text() if (run / "config.yaml").is_file() else ""
        if "augment: true" not in cfg_text:
            continue  # only runs whose augmentation was switched on
        task = f"{run.parts[-4]}/{run.parts[-3]}/{run.parts[-2]}"  # experiment/env/agent
        by_task.setdefault(task, []).append(
            {"run": str(run), "step": int(path.stem.split("_")[1]), **refit_summary(json.loads(path.read_text()))}
        )
    print("| experiment/env/agent | refits | state dims | no reward edge (med.) | swapped (median, max) | w_a spread |")
    print("|---|---|---|---|---|---|")
    for task, rows in by_task.items():
        sw = [r["swapped"] for r in rows]
        print(
            f"| {task} | {len(rows)} | {rows[0]['state_dim']} | {np.median([r['no_reward_edge'] for r in rows]):g} | "
            f"{np.median(sw):g}, {max(sw)} | {np.median([r['w_a_spread'] for r in rows]):.2f} |"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(by_task, indent=1))
    print(f"rows: {args.out}")


if __name__ == "__main__":
    main()
