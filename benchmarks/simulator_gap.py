"""How close is our ORCA crowd simulator to the synthetic files? Statistics and a trained model's error.

For each radius, 1,000 scenes of ``test/`` and 1,000 fresh scenes of ``envs.crowd`` (via
``forecasting.data.make_synthetic_domain``) are compared on:

- speed (m per step), the median closest approach of the two agents, the median start distance;
- ``turning``: median total absolute heading change of an agent over the 20 steps (rad), how much it swerves;
- ``ade_<method>``: deterministic ADE of models trained on the files' r = 0.1, 0.3, 0.5 (mean over seeds;
  methods that need no reference scenes: erm, vrex, irm).
  A simulator that matched the files would give the same error on its scenes as on the files'.

Usage (after ``causal-priors study forecast_synthetic``)::

    OMP_NUM_THREADS=1 python benchmarks/simulator_gap.py [--methods erm] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from _checkout import use_this_checkout

use_this_checkout()

from forecasting.data import SceneDataset, load_synthetic, make_synthetic_domain  # noqa: E402
from forecasting.train import load_trained  # noqa: E402


def scene_statistics(ds: SceneDataset) -> dict[str, float]:
    """Speed, closest approach, start distance and turning of two-agent scenes ``(N, 2, T, 2)``."""
    pos = ds.positions
    steps = np.diff(pos, axis=2)
    gap = np.linalg.norm(pos[:, 0] - pos[:, 1], axis=-1)
    heading = np.arctan2(steps[..., 1], steps[..., 0])
    turn = np.abs(np.angle(np.exp(1j * np.diff(heading, axis=-1)))).sum(-1)
    return {
        "speed": float(np.linalg.norm(steps, axis=-1).mean()),
        "closest_approach": float(np.median(gap.min(1))),
        "start_distance": float(np.median(gap[:, 0])),
        "turning": float(np.median(turn)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-root", default="runs/forecast_synthetic/synthetic")
    parser.add_argument("--methods", nargs="+", default=["erm"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--radii", nargs="+", type=float, default=[0.1, 0.3, 0.5])
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--out", default="benchmarks/results/forecasting/simulator_gap.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = {
        (m, s): load_trained(OmegaConf.load(Path(args.run_root) / m / f"seed_{s}" / "config.yaml"))
        for m in args.methods
        for s in args.seeds
    }
    rows = []
    for r in args.radii:
        sources = {
            "files": load_synthetic("test", [r]).subset(slice(0, args.scenes)),
            "simulator": make_synthetic_domain(r, args.scenes, seed=12345),
        }
        for source, ds in sources.items():
            row = {"radius": r, "source": source, **scene_statistics(ds)}
            batch, future = ds.to_batch(), ds.positions[:, :, 8:]
            for method in args.methods:
                errors = []
                for seed in args.seeds:
                    with torch.no_grad():
                        pred = models[(method, seed)].predict(batch).numpy()
                    errors.append(float(np.linalg.norm(pred - future, axis=-1).mean()))
                row[f"ade_{method}"] = float(np.mean(errors))
            rows.append(row)
    keys = [k for k in rows[0] if k not in ("radius", "source")]
    print("| r | source | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for row in rows:
        print(f"| {row['radius']:g} | {row['source']} | " + " | ".join(f"{row[k]:.3f}" for k in keys) + " |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))
    print(f"rows: {args.out}")


if __name__ == "__main__":
    main()
