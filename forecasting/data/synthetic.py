"""Synthetic ORCA circle-crossing scenes: the ``synthetic_v4`` files and the project's own simulator.

Every scene has exactly two agents; the domain is the ORCA agent radius, named like ``"0.1"``.
"""

from __future__ import annotations

import functools
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from causal_priors.errors import DataError
from envs.crowd import simulate_scenes
from forecasting.data.dataset import SceneDataset, default_data_root

SYNTHETIC_DIR = "synthetic_v4"
SEQ_LEN = 20


def radius_name(radius: float) -> str:
    """Domain name of a radius as written in the file names: ``0.1 -> "0.1"``, ``0.25 -> "0.25"``."""
    r = float(radius)
    return f"{r:.1f}" if round(r, 1) == r else f"{r:g}"


@functools.lru_cache(maxsize=64)
def _read_raw(path: str, mtime_ns: int) -> np.ndarray:
    """The validated ``raw`` array of one file, cached (read-only) keyed on path and modification time."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "raw" not in npz.files:
                raise DataError(f"{path}: missing key 'raw' (keys: {sorted(npz.files)})")
            raw = np.asarray(npz["raw"], dtype=np.float64)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read as .npz ({exc})") from exc
    if raw.ndim != 4 or raw.shape[1:] != (2, SEQ_LEN, 2) or raw.shape[0] == 0:
        raise DataError(f"{path}: key 'raw' must have shape (scenes>0, 2, {SEQ_LEN}, 2), got {raw.shape}")
    if not np.all(np.isfinite(raw)):
        bad = int(np.flatnonzero(~np.isfinite(raw).reshape(raw.shape[0], -1).all(axis=1))[0])
        raise DataError(f"{path}: key 'raw' holds NaN/inf values (first in scene {bad})")
    raw.setflags(write=False)
    return raw


def synthetic_file(split: str, radius: float, root: str | Path | None = None) -> Path:
    """Path of ``synthetic_v4/<split>/orca_circle_crossing_2_ped_*_scenes_<r>_radius_2.0_horizon.npz``.

    Any radius works whose file exists (e.g. one written by ``benchmarks/forecast_make_radius.py``).

    Raises:
        DataError: no such file (or several), naming the expected path pattern and the files found.
    """
    if split not in ("val", "test"):
        raise DataError(f"synthetic split must be 'val' or 'test', got {split!r}")
    folder = Path(root if root is not None else default_data_root()) / SYNTHETIC_DIR / split
    name = radius_name(radius)
    pattern = f"orca_circle_crossing_2_ped_*_scenes_{name}_radius_2.0_horizon.npz"
    matches = sorted(folder.glob(pattern))
    if len(matches) != 1:
        have = sorted(p.name for p in folder.glob("*.npz")) if folder.is_dir() else []
        problem = "no file" if not matches else f"{len(matches)} files"
        raise DataError(f"{folder / pattern}: {problem} for radius {name} (found: {have or 'nothing'})")
    return matches[0]


def load_synthetic(
    split: str,
    radii: Sequence[float],
    root: str | Path | None = None,
    max_scenes: int | None = None,
) -> SceneDataset:
    """Scenes of the given radii from ``synthetic_v4/<split>``; the domain names are the radii (``"0.1"``).

    Args:
        split: ``"val"`` (the training pool) or ``"test"``.
        radii: ORCA radii to load, in the order of ``domain_names``.
        root: data root (default :func:`default_data_root`).
        max_scenes: keep only the first ``max_scenes`` scenes of each file.

    Raises:
        DataError: a missing file, a missing ``raw`` key, a wrong shape or non-finite values.
    """
    if not radii:
        raise DataError("load_synthetic: no radii given")
    names = [radius_name(r) for r in radii]
    if len(set(names)) != len(names):
        raise DataError(f"load_synthetic: duplicate radii {names}")
    arrays = []
    for r in radii:
        path = synthetic_file(split, r, root)
        raw = _read_raw(str(path), path.stat().st_mtime_ns)
        arrays.append(raw if max_scenes is None else raw[:max_scenes])
    return _from_raw(arrays, names)


def _from_raw(arrays: Sequence[np.ndarray], names: Sequence[str]) -> SceneDataset:
    positions = np.concatenate(arrays).astype(np.float32)
    domain = np.concatenate([np.full(len(a), i, dtype=np.int64) for i, a in enumerate(arrays)])
    return SceneDataset(
        positions=positions,
        agent_mask=np.ones(positions.shape[:2], dtype=bool),
        domain=domain,
        domain_names=tuple(names),
    )


def make_synthetic_domain(
    radius: float,
    n_scenes: int,
    *,
    seed: int,
    n_agents: int = 2,
    steps: int = SEQ_LEN,
    name: str | None = None,
) -> SceneDataset:
    """Fresh scenes of one radius from the project's ORCA simulator (:func:`envs.crowd.simulate_scenes`).

    The domain is named ``name`` or, by default, like the files (``radius_name(radius)``), so simulated
    scenes can be concatenated with loaded ones of the same radius.
    """
    raw = simulate_scenes(n_scenes, radius, n_agents=n_agents, seed=seed, steps=steps)
    return _from_raw([raw], [name or radius_name(radius)])
