"""Would in-distribution validation alone have picked the mechanism's goal heading? (issue 14 leakage audit)

``orca_style`` / ``orca_residual`` use ``model.orca_heading=first``; the choice was published next to numbers at
every test radius. This script re-makes the choice the honest way: the training radii only (r = 0.1 / 0.3 /
0.5), each domain's style estimated from its first 64 *training* scenes (as ``OrcaResidual.prepare`` does),
ADE of the mechanism on the domain's *validation* split (``forecasting.splits.train_val``). Nothing of
r >= 0.6 is read.

    python benchmarks/forecast_selection_audit.py   # -> benchmarks/results/forecasting/forecast_selection_audit.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from _checkout import use_this_checkout

use_this_checkout()

from forecasting.mechanism import HEADINGS, displacement_error, estimate_style, rollout_scenes  # noqa: E402
from forecasting.splits import train_val  # noqa: E402
from forecasting.train import build_config  # noqa: E402


def heading_rows(fit_scenes: int = 64) -> list[dict[str, object]]:
    """Validation ADE of the mechanism per goal heading and training radius."""
    cfg = build_config(["data=synthetic"])
    train, val = train_val(cfg)
    assert max(float(r) for r in cfg.data.train_radii) < 0.6
    val_by_domain = val.by_domain()
    rows = []
    for heading in HEADINGS:
        per_domain = {}
        for name, tr in train.by_domain().items():
            ref = tr.subset(slice(0, fit_scenes))
            style = estimate_style(ref.positions.astype(np.float64), ref.agent_mask, heading=heading)
            v = val_by_domain[name]
            pos = v.positions.astype(np.float64)
            pred = rollout_scenes(pos[:, :, : v.obs_len], v.agent_mask, style, heading=heading)
            per_domain[name] = displacement_error(pred, pos[:, :, v.obs_len :], v.agent_mask)
        rows.append({"heading": heading, "val_ade": per_domain, "mean": float(np.mean(list(per_domain.values())))})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/forecasting/forecast_selection_audit.json")
    args = parser.parse_args()
    rows = heading_rows()
    best = min(rows, key=lambda r: r["mean"])["heading"]
    out = {"selected_on_training_radii": best, "rows": rows}
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    for r in rows:
        print(r["heading"], {k: round(v, 4) for k, v in r["val_ade"].items()}, round(r["mean"], 4))
    print("selected:", best)


if __name__ == "__main__":
    main()
