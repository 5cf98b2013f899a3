"""Write synthetic test (and val) files for new ORCA radii, e.g. r = 0.8 / 0.9 / 1.0, into a data root of your own.

The files' radii stop at 0.7; ``data.test_radii`` accepts any radius whose file exists under the data root.
This script makes such a root: it links every file of an existing root's ``synthetic_v4/`` (the shared data
stays read-only and is never copied) and adds files simulated by the project's ORCA
(``forecasting.data.make_synthetic_domain``, the files' format and name pattern) for the new radii.
Simulated scenes are a small domain shift of their own (``docs/forecasting.md``, "Crowd simulator"): label
results on them as simulated.

Usage::

    python benchmarks/forecast_make_radius.py --out data_extra --radii 0.8 0.9 1.0
    causal-priors forecast train model=orca_style data.root=data_extra \\
        data.test_radii=[0.1,0.3,0.5,0.6,0.7,0.8,0.9,1.0] run_root=runs experiment=forecast_far
"""

from __future__ import annotations

import argparse
import zlib
from pathlib import Path

import numpy as np

from _checkout import use_this_checkout

use_this_checkout()

from forecasting.data import make_synthetic_domain, radius_name  # noqa: E402
from forecasting.data.dataset import default_data_root  # noqa: E402
from forecasting.data.synthetic import SYNTHETIC_DIR  # noqa: E402


def file_name(radius: float, scenes: int) -> str:
    """The synthetic files' name pattern."""
    return f"orca_circle_crossing_2_ped_{scenes}_scenes_{radius_name(radius)}_radius_2.0_horizon.npz"


def make_root(
    out: Path, source: Path, radii: list[float], test_scenes: int, val_scenes: int, link: bool = True
) -> list[Path]:
    """Link ``source``'s synthetic files into ``out`` (unless ``link`` is False) and simulate the new radii;
    returns the written files."""
    written = []
    for split in ("val", "test"):
        folder = out / SYNTHETIC_DIR / split
        folder.mkdir(parents=True, exist_ok=True)
        for src in sorted((source / SYNTHETIC_DIR / split).glob("*.npz")) if link else []:
            link = folder / src.name
            if not link.exists():
                link.symlink_to(src.resolve())
        n = test_scenes if split == "test" else val_scenes
        if n <= 0:
            continue
        for r in radii:
            existing = list(folder.glob(file_name(r, n).replace(f"_{n}_", "_*_")))
            if existing:
                raise SystemExit(f"{existing[0]}: a file for radius {radius_name(r)} exists already")
            seed = zlib.crc32(f"{split}:{radius_name(r)}".encode())
            raw = make_synthetic_domain(float(r), n, seed=seed).positions.astype(np.float64)
            path = folder / file_name(r, n)
            np.savez_compressed(path, raw=raw)
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the new data root (created)")
    parser.add_argument("--radii", type=float, nargs="+", required=True)
    parser.add_argument("--source", type=Path, default=None, help="root whose files are linked (default: shared)")
    parser.add_argument("--test-scenes", type=int, default=5000)
    parser.add_argument("--val-scenes", type=int, default=0, help="also val/ files (adaptation pools)")
    args = parser.parse_args()
    source = args.source or default_data_root()
    for path in make_root(args.out, source, args.radii, args.test_scenes, args.val_scenes):
        print(path)


if __name__ == "__main__":
    main()
