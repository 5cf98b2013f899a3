"""Reproduce issue 14's ORCA probe and compare it with ``orca_style``'s estimator (no training anywhere).

On the first ``--scenes`` scored test scenes of every radius (after the 64 reference scenes), deterministic ADE of:

- ``constant_velocity``: the last observed step repeated;
- ``issue_probe``: the issue's probe -- radius = half the median closest approach of the 64 reference scenes,
  speed 1.0 and time horizon 2.0 (the generator's), goal 20 m ahead of the *last* observed position along the
  first observed step's heading;
- ``orca_style``: the method's estimator (``forecasting.mechanism``): radius as above, speed = median moving step
  speed and time horizon fitted on the reference scenes, goal 20 m ahead of the *first* observed position;
- ``antipode_goal`` (not a forecaster: the data generator's own goal rule, the antipode of the start, which
  real pedestrians do not follow), with the estimated style -- how much of the error the goal guess costs.

Usage::

    python benchmarks/forecast_orca_probe.py [--scenes 1000] [--out benchmarks/results/forecasting/orca_probe.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from _checkout import use_this_checkout

use_this_checkout()

from forecasting.data import load_synthetic  # noqa: E402
from forecasting.mechanism import (  # noqa: E402
    OrcaStyle,
    closest_approach,
    displacement_error,
    estimate_style,
    heading_goals,
    rollout,
)

RADII = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def probe(radius: float, scenes: int, references: int = 64) -> dict[str, float]:
    """ADE of each variant on one test radius, plus the estimated style."""
    pos = load_synthetic("test", [radius]).positions.astype(np.float64)
    ref, scored = pos[:references], pos[references : references + scenes]
    mask_ref, mask = np.ones(ref.shape[:2], bool), np.ones(scored.shape[:2], bool)
    observed, future = scored[:, :, :8], scored[:, :, 8:]
    style = estimate_style(ref, mask_ref)
    issue = OrcaStyle(0.5 * float(np.median(closest_approach(ref, mask_ref))), 1.0, 2.0)
    first_step_goals = heading_goals(observed, mask, 20.0, "first") - observed[:, :, 0] + observed[:, :, -1]
    cv = observed[:, :, -1:] + (observed[:, :, -1:] - observed[:, :, -2:-1]) * np.arange(1, 13)[None, None, :, None]
    return {
        "constant_velocity": displacement_error(cv, future, mask),
        "issue_probe": displacement_error(rollout(observed, mask, issue, goals=first_step_goals), future, mask),
        "orca_style": displacement_error(rollout(observed, mask, style), future, mask),
        "antipode_goal": displacement_error(rollout(observed, mask, style, goals=-observed[:, :, 0]), future, mask),
        **{f"style_{k}": v for k, v in zip(("radius", "speed", "time_horizon"), style.as_list(), strict=True)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/forecasting/orca_probe.json"))
    args = parser.parse_args()
    rows = {f"{r:.1f}": probe(r, args.scenes) for r in RADII}
    args.out.write_text(json.dumps({"scenes": args.scenes, "ade": rows}, indent=1) + "\n")
    names = list(next(iter(rows.values())))
    print("| r | " + " | ".join(names) + " |")
    for r, vals in rows.items():
        print(f"| {r} | " + " | ".join(f"{vals[n]:.3f}" for n in names) + " |")


if __name__ == "__main__":
    main()
