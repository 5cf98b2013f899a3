"""Beyond the files' radii: trained / untrained forecasters on scenes simulated at r = 0.7 ... 1.0.

The synthetic files stop at r = 0.7. This writes simulated test files for ``--radii`` into a data root of its own
(``forecast_make_radius.make_root`` without links: our ORCA's scenes only, a small domain shift of their own --
hence simulated 0.7 too, to read the others against), then scores each run's ``model.pt`` on them with the
usual evaluation (first ``eval.reference_scenes`` scenes are references, ``--scenes`` scored scenes per radius).

Usage::

    python benchmarks/forecast_far_radii.py --runs runs/forecast_synthetic/synthetic --methods orca_style orca_residual
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

from _checkout import use_this_checkout

use_this_checkout()

from forecasting.data import SceneDataset, load_synthetic  # noqa: E402
from forecasting.data.dataset import default_data_root  # noqa: E402
from forecasting.evaluate import evaluate_method  # noqa: E402
from forecasting.train import build_config, load_trained  # noqa: E402


def _make_root():
    spec = importlib.util.spec_from_file_location("make_radius", Path(__file__).with_name("forecast_make_radius.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/forecast_synthetic/synthetic"))
    parser.add_argument("--methods", nargs="+", default=["orca_style", "orca_residual"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--radii", nargs="+", type=float, default=[0.7, 0.8, 0.9, 1.0])
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--data", type=Path, default=Path("runs/data_far"), help="data root made for the radii")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/forecasting/forecast_far_radii.json"))
    args = parser.parse_args()
    if not args.data.is_dir():
        _make_root()(args.data, default_data_root(), args.radii, 64 + args.scenes, 0, link=False)
    test = {}
    for r in args.radii:
        sub = load_synthetic("test", [r], args.data).subset(slice(0, 64 + args.scenes))
        test[f"{r:g}sim"] = SceneDataset(sub.positions, sub.agent_mask, sub.domain, (f"{r:g}sim",))
    rows = []
    for method in args.methods:
        for seed in args.seeds:
            cfg = build_config(
                [
                    f"model={method}",
                    f"seed={seed}",
                    f"run_root={args.runs.parents[1]}",
                    f"experiment={args.runs.parent.name}",
                ]
            )
            model = load_trained(cfg)
            m = evaluate_method(model, test, model.domain_names, reference_scenes=64, num_samples=[], batch_size=500)
            rows.append({"method": method, "seed": seed, **{k: m[f"ade/{k}"] for k in test}})
            print(rows[-1], flush=True)
    args.out.write_text(json.dumps({"scenes": args.scenes, "simulated": True, "ade": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
