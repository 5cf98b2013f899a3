"""Why do the forecasters fail at r = 0.6 / 0.7? Error anatomy of trained synthetic-study runs.

For each method's trained runs (``runs/forecast_synthetic/synthetic/<method>/seed_<n>/model.pt``) and each test
radius, on the scored test scenes (the first ``--scenes`` after the 64 reference scenes):

- ``ade``: deterministic ADE;
- ``p90``: 90th percentile of per-scene ADE (the tail that drives the OOD mean);
- ``side``: how often the predicted lateral deviation at the last step has the sign of the true one (agents that
  really swerve by > 0.2 m): passing on the wrong side;
- ``lat_true`` / ``lat_pred``: mean |lateral deviation| from constant velocity at the last step;
- ``gap_true`` / ``gap_pred``: median closest approach of the two agents in the future;
- ``best_scale``: the ADE when the predicted deviation from constant velocity is scaled by the best of
  0.8 ... 2.0 (does "more of the same swerve" fix it?); ``scale`` is that factor.

``--style-swap`` (style-conditioned methods): the ADE of each test radius when the style is read from the
reference scenes of *another* radius -- does the method use the style, and does the style of an unseen radius
move its predictions beyond those of the nearest training style? Rows go to ``--swap-out``.
``--own-batch-style`` adds, per row, ``ade_own_batch_style``: the style of each chunk of 64 scored scenes read from
those scenes' own complete trajectories (how the causal-motion authors evaluate), to compare with ``ade``.

Usage (after ``causal-priors study forecast_synthetic``)::

    OMP_NUM_THREADS=1 python benchmarks/forecast_ood_diagnostics.py --methods erm causal_motion --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from _checkout import use_this_checkout

use_this_checkout()

from forecasting.data import load_synthetic  # noqa: E402
from forecasting.splits import split_reference  # noqa: E402
from forecasting.train import load_trained  # noqa: E402

SCALES = (0.8, 0.9, 1.0, 1.1, 1.2, 1.5, 2.0)


def constant_velocity(positions: np.ndarray, obs_len: int = 8, pred_len: int = 12) -> np.ndarray:
    """``(N, K, pred_len, 2)`` constant-velocity extrapolation of the last observed displacement."""
    last = positions[:, :, obs_len - 1 : obs_len]
    vel = positions[:, :, obs_len - 1] - positions[:, :, obs_len - 2]
    return last + vel[:, :, None] * np.arange(1, pred_len + 1)[None, None, :, None]


def anatomy(pred: np.ndarray, positions: np.ndarray) -> dict[str, float]:
    """Error anatomy of deterministic predictions ``(N, K, 12, 2)`` of two-agent scenes ``(N, K, 20, 2)``."""
    future = positions[:, :, 8:]
    cv = constant_velocity(positions)
    vel = positions[:, :, 7] - positions[:, :, 6]
    heading = vel / np.linalg.norm(vel, axis=-1, keepdims=True).clip(1e-9)
    normal = np.stack([-heading[..., 1], heading[..., 0]], axis=-1)
    lat_true = ((future - cv)[:, :, -1] * normal).sum(-1)
    lat_pred = ((pred - cv)[:, :, -1] * normal).sum(-1)
    swerves = np.abs(lat_true) > 0.2
    per_scene = np.linalg.norm(pred - future, axis=-1).mean((1, 2))
    scaled = {s: float(np.linalg.norm(cv + s * (pred - cv) - future, axis=-1).mean()) for s in SCALES}
    best = min(scaled, key=scaled.get)
    return {
        "ade": float(per_scene.mean()),
        "p90": float(np.percentile(per_scene, 90)),
        "side": float((np.sign(lat_true) == np.sign(lat_pred))[swerves].mean()),
        "lat_true": float(np.abs(lat_true).mean()),
        "lat_pred": float(np.abs(lat_pred).mean()),
        "gap_true": float(np.median(np.linalg.norm(future[:, 0] - future[:, 1], axis=-1).min(1))),
        "gap_pred": float(np.median(np.linalg.norm(pred[:, 0] - pred[:, 1], axis=-1).min(1))),
        "best_scale": scaled[best],
        "scale": best,
    }


def style_swap(model, data: dict, ref_radii: list[float]) -> list[dict[str, float]]:
    """ADE of each test radius with the style read from the references of every radius in ``ref_radii``."""
    rows = []
    for r, (_, batch) in data.items():
        future = batch.positions[:, :, 8:].numpy()
        for rr in ref_radii:
            reference = data[rr][0]
            relabelled = dataclasses.replace(reference, domain_names=batch.domain_names)
            with torch.no_grad():
                pred = model.predict(batch, reference=relabelled).numpy()
            rows.append({"radius": r, "style_from": rr, "ade": float(np.linalg.norm(pred - future, axis=-1).mean())})
    return rows


def own_batch_style_ade(model, batch, chunk: int = 64) -> float:
    """ADE when each chunk of ``chunk`` scored scenes is its own style reference (observed + future)."""
    preds = []
    for start in range(0, batch.num_scenes, chunk):
        part = batch.select(slice(start, start + chunk))
        with torch.no_grad():
            preds.append(model.predict(part, reference=part).numpy())
    future = batch.positions[:, :, 8:].numpy()
    return float(np.linalg.norm(np.concatenate(preds) - future, axis=-1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-root", default="runs/forecast_synthetic/synthetic")
    parser.add_argument("--methods", nargs="+", default=["erm", "causal_motion"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--radii", nargs="+", type=float, default=[0.3, 0.5, 0.6, 0.7])
    parser.add_argument("--scenes", type=int, default=2000, help="scored scenes per radius")
    parser.add_argument("--out", default="benchmarks/results/forecasting/forecast_ood_diagnostics.json")
    parser.add_argument("--style-swap", action="store_true", help="also score with other radii's styles")
    parser.add_argument("--own-batch-style", action="store_true", help="also score the authors' way")
    parser.add_argument("--swap-out", default="benchmarks/results/forecasting/forecast_style_swap.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = {}
    for r in args.radii:
        reference, scored = split_reference(load_synthetic("test", [r]), 64)
        data[r] = (reference.to_batch(), scored.subset(slice(0, args.scenes)).to_batch())
    rows, swaps = [], []
    for method in args.methods:
        for seed in args.seeds:
            cfg = OmegaConf.load(Path(args.run_root) / method / f"seed_{seed}" / "config.yaml")
            model = load_trained(cfg)
            for r, (reference, batch) in data.items():
                with torch.no_grad():
                    pred = model.predict(batch, reference=reference).numpy()
                rows.append({"method": method, "seed": seed, "radius": r, **anatomy(pred, batch.positions.numpy())})
                if args.own_batch_style and cfg.model.name == "causal_motion":
                    rows[-1]["ade_own_batch_style"] = own_batch_style_ade(model, batch)
            if args.style_swap and cfg.model.name == "causal_motion":
                swaps += [{"method": method, "seed": seed, **x} for x in style_swap(model, data, args.radii)]
    keys = [k for k in dict.fromkeys(k for x in rows for k in x) if k not in ("method", "seed", "radius")]
    print("| method | r | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for method in args.methods:
        for r in args.radii:
            sel = [x for x in rows if x["method"] == method and x["radius"] == r]
            cells = [[x[k] for x in sel if k in x] for k in keys]
            print(f"| {method} | {r} | " + " | ".join(f"{np.mean(c):.3f}" if c else "-" for c in cells) + " |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))
    print(f"per-run rows: {args.out}")
    if swaps:
        print_style_swap(swaps, args.radii)
        Path(args.swap_out).write_text(json.dumps(swaps, indent=1))
        print(f"style-swap rows: {args.swap_out}")


def print_style_swap(rows: list[dict], radii: list[float]) -> None:
    """Markdown table: ADE (mean over seeds) of each test radius (rows) scored with each radius' style."""
    print("\n| method | test r \\ style from | " + " | ".join(f"{r:g}" for r in radii) + " |")
    print("|---|---|" + "---|" * len(radii))
    for method in dict.fromkeys(x["method"] for x in rows):
        for r in radii:
            cells = [
                np.mean([x["ade"] for x in rows if (x["method"], x["radius"], x["style_from"]) == (method, r, rr)])
                for rr in radii
            ]
            print(f"| {method} | {r:g} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
