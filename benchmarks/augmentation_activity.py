"""Does CIP's counterfactual augmentation act on a task? Per refit, from every run's ``causal_graphs/``.

For each saved refit (``<run>/causal_graphs/step_<n>.json``) of the runs found under ``--runs``: the state size,
how many state dims the fit dropped (constant or collinear in its window; never swapped), how many lose their
reward edge, how many the swap rule keeps (global rule: the swapped dims, neither
controlled by the action nor parents of a kept dim; local rule: the candidates, each swapped only at the
transitions where it is locally free), the share of stored transitions where the candidates are locally free
(local rule), and the spread of the weights (``w_a`` max / min, the causality-aware entropy's input). From each
run's TensorBoard events: the share of augmented rows the swaps changed (``augment/changed_fraction``) and the
empowerment reward per step (``train/empowerment_reward``), each the median of a run's logged values, then the
median over runs. A task whose refits swap nothing gets no augmentation at all: there CIP acts only through the
weights and empowerment.

Usage (after any CIP runs; e.g. the Hopper, HalfCheetah and DMC reacher studies)::

    python benchmarks/augmentation_activity.py [--runs runs] [--experiments E ...] \
        [--out benchmarks/results/augmentation_activity.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def refit_summary(graph: dict) -> dict[str, float]:
    """Candidates, swapped dims, local freedom and weight spread of one saved refit (both file versions: the
    first release wrote ``swapped_state_dims``, the local rule ``swap_candidates`` and ``augment/local_*``)."""
    edges = np.asarray(graph["reward_state_edges"], dtype=bool)
    w_s, w_a = np.asarray(graph["w_s"], dtype=float), np.asarray(graph["w_a"], dtype=float)
    kept = graph.get("swap_candidates", graph.get("swapped_state_dims", []))
    validity = graph.get("validity", "global")
    local_free = graph.get("augment/local_free_fraction", 1.0 if kept else 0.0)
    return {
        "state_dim": int(graph["state_dim"]),
        "validity": validity,
        "no_reward_edge": int((~edges).sum()),
        "dropped": len(graph.get("dropped_state", [])),
        "swapped": len(kept),
        "local_free_fraction": float(local_free) if validity == "local" else (1.0 if kept else 0.0),
        "w_s_min": float(w_s.min()),
        "w_s_max": float(w_s.max()),
        "w_a_spread": float(w_a.max() - w_a.min()),
        "w_a_max_over_min": float(w_a.max() / max(w_a.min(), 1e-12)),
    }


#: TensorBoard scalars summarised per run (median of the logged values).
LOGGED = ("augment/changed_fraction", "train/empowerment_reward")


def logged_medians(run: Path) -> dict[str, float]:
    """Median of each :data:`LOGGED` scalar over a run's TensorBoard events (NaN for one the run never logged);
    the events are read once."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run), size_guidance={"scalars": 0}).Reload()
    logged = set(events.Tags()["scalars"])
    return {
        tag: float(np.median([e.value for e in events.Scalars(tag)])) if tag in logged else float("nan")
        for tag in LOGGED
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs", help="run root: <runs>/<experiment>/<env>/<agent>/seed_<n>/")
    parser.add_argument("--experiments", nargs="*", default=None, help="only these experiments (default: all)")
    parser.add_argument("--out", default="benchmarks/results/augmentation_activity.json")
    args = parser.parse_args()
    by_task: dict[str, list[dict]] = {}
    for path in sorted(Path(args.runs).glob("*/*/*/seed_*/causal_graphs/step_*.json")):
        run = path.parent.parent
        cfg_text = (run / "config.yaml").read_text() if (run / "config.yaml").is_file() else ""
        if "augment: true" not in cfg_text:
            continue  # only runs whose augmentation was switched on
        if args.experiments is not None and run.parts[-4] not in args.experiments:
            continue
        task = f"{run.parts[-4]}/{run.parts[-3]}/{run.parts[-2]}"  # experiment/env/agent
        by_task.setdefault(task, []).append(
            {"run": str(run), "step": int(path.stem.split("_")[1]), **refit_summary(json.loads(path.read_text()))}
        )
    header = (
        "experiment/env/agent | rule | refits | state dims | dropped by the fit (med.) | no reward edge (med.) | "
        "kept (median, max) | locally free (med.) | w_a max/min (med.) | rows changed (med.) | empowerment/step (med.)"
    )
    print(f"| {header} |")
    print("|---" * (header.count("|") + 1) + "|")
    for task, rows in by_task.items():
        per_run = {run: logged_medians(Path(run)) for run in {r["run"] for r in rows}}
        for row in rows:
            row.update(per_run[row["run"]])  # the run's logged medians, repeated on each of its refits
        logged = {tag: float(np.nanmedian([medians[tag] for medians in per_run.values()])) for tag in LOGGED}
        sw = [r["swapped"] for r in rows]
        print(
            f"| {task} | {rows[0]['validity']} | {len(rows)} | {rows[0]['state_dim']} | "
            f"{np.median([r['dropped'] for r in rows]):g} | "
            f"{np.median([r['no_reward_edge'] for r in rows]):g} | {np.median(sw):g}, {max(sw)} | "
            f"{np.median([r['local_free_fraction'] for r in rows]):.2f} | "
            f"{np.median([r['w_a_max_over_min'] for r in rows]):.2f} | "
            f"{logged['augment/changed_fraction']:.2f} | {logged['train/empowerment_reward']:.3f} |"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(by_task, indent=1))
    print(f"rows: {args.out}")


if __name__ == "__main__":
    main()
