"""ETH/UCY pedestrian scenes (leave-one-scene-out splits) and the spurious-channel robustness variant.

Files: ``eth_ucy/<test_scene>/<split>/*.txt``, one observation per row, ``frame ped x y`` (tab separated,
metres, 0.4 s between consecutive frames). Scenes are cut per file with a sliding window of
``obs_len + pred_len`` consecutive distinct frames (stride one frame); the agents of a scene are the
pedestrians observed in every frame of the window (ordered by id), and a window with at least
``min_agents`` of them is a scene. The domain is the source scene of the file.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from causal_priors.errors import ConfigError, DataError
from forecasting.batch import OBS_LEN, PRED_LEN
from forecasting.data.dataset import SceneDataset, default_data_root

ETH_UCY_DIR = "eth_ucy"
SCENES = ("eth", "hotel", "univ", "zara1", "zara2")
# File-name prefix -> source scene (domain).
SOURCES = {
    "biwi_eth": "eth",
    "biwi_hotel": "hotel",
    "students001": "univ",
    "students003": "univ",
    "uni_examples": "univ",
    "crowds_zara01": "zara1",
    "crowds_zara02": "zara2",
    "crowds_zara03": "zara2",
}


def source_scene(path: Path) -> str:
    """Domain of a file from its name, e.g. ``crowds_zara03_train.txt -> "zara2"``."""
    for prefix, scene in SOURCES.items():
        if path.name.startswith(prefix):
            return scene
    raise DataError(f"{path}: unknown source scene (file name must start with one of {sorted(SOURCES)})")


@functools.lru_cache(maxsize=128)
def _parse(path: str, mtime_ns: int) -> np.ndarray:
    """Rows ``(frame, ped, x, y)`` float64 of one file, validated and cached (read-only)."""
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                fields = line.split()
                try:
                    values = [float(v) for v in fields]
                except ValueError:
                    values = []
                if len(values) != 4 or not np.all(np.isfinite(values)):
                    raise DataError(
                        f"{path}:{lineno}: expected 4 tab-separated numbers 'frame ped x y', got {line.rstrip()!r}"
                    )
                rows.append(values)
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    if not rows:
        raise DataError(f"{path}: no observations")
    data = np.asarray(rows, dtype=np.float64)
    key = data[:, :2]
    if len(np.unique(key, axis=0)) != len(key):
        raise DataError(f"{path}: a pedestrian appears twice in the same frame")
    data.setflags(write=False)
    return data


def _windows(data: np.ndarray, seq_len: int, min_agents: int) -> list[np.ndarray]:
    """Scenes ``(k, seq_len, 2)`` of one file (see the module docstring)."""
    frames, frame_idx = np.unique(data[:, 0], return_inverse=True)
    peds, ped_idx = np.unique(data[:, 1], return_inverse=True)
    grid = np.zeros((len(frames), len(peds), 2))
    present = np.zeros((len(frames), len(peds)), dtype=bool)
    grid[frame_idx, ped_idx] = data[:, 2:]
    present[frame_idx, ped_idx] = True
    counts = np.concatenate([np.zeros((1, len(peds)), dtype=np.int64), np.cumsum(present, axis=0)])
    scenes = []
    for start in range(len(frames) - seq_len + 1):
        full = np.flatnonzero(counts[start + seq_len] - counts[start] == seq_len)
        if len(full) >= min_agents:
            scenes.append(grid[start : start + seq_len, full].transpose(1, 0, 2))
    return scenes


def load_eth_ucy(
    test_scene: str,
    split: str,
    root: str | Path | None = None,
    *,
    min_agents: int = 1,
    obs_len: int = OBS_LEN,
    pred_len: int = PRED_LEN,
    max_scenes: int | None = None,
) -> SceneDataset:
    """Scenes of one leave-one-out split: ``eth_ucy/<test_scene>/<split>/*.txt``.

    Args:
        test_scene: the left-out scene, one of ``eth, hotel, univ, zara1, zara2``.
        split: ``"train"``, ``"val"`` (the other scenes) or ``"test"`` (the left-out scene).
        root: data root (default :func:`default_data_root`).
        min_agents: least number of fully observed pedestrians for a window to be a scene.
        obs_len, pred_len: observed and predicted steps (window length ``obs_len + pred_len``).
        max_scenes: keep only the first ``max_scenes`` scenes of each file (fast tests).

    Returns:
        A dataset whose domain names are the source scenes present, in the order of ``SCENES``.

    Raises:
        DataError: a missing folder, an unknown file name, a malformed row (file and line number).
    """
    if test_scene not in SCENES:
        raise DataError(f"ETH/UCY test scene must be one of {SCENES}, got {test_scene!r}")
    if split not in ("train", "val", "test"):
        raise DataError(f"ETH/UCY split must be 'train', 'val' or 'test', got {split!r}")
    folder = Path(root if root is not None else default_data_root()) / ETH_UCY_DIR / test_scene / split
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise DataError(f"{folder}: no .txt files")
    seq_len = obs_len + pred_len
    per_domain: dict[str, list[np.ndarray]] = {}
    for path in files:
        scene = source_scene(path)
        data = _parse(str(path), path.stat().st_mtime_ns)
        windows = _windows(data, seq_len, min_agents)
        per_domain.setdefault(scene, []).extend(windows if max_scenes is None else windows[:max_scenes])
    names = tuple(s for s in SCENES if per_domain.get(s))
    scenes = [w for s in names for w in per_domain[s]]
    if not scenes:
        raise DataError(f"{folder}: no window of {seq_len} frames with >= {min_agents} fully observed pedestrians")
    k = max(len(w) for w in scenes)
    positions = np.zeros((len(scenes), k, seq_len, 2), dtype=np.float32)
    mask = np.zeros((len(scenes), k), dtype=bool)
    for n, w in enumerate(scenes):
        positions[n, : len(w)] = w
        mask[n, : len(w)] = True
    domain = np.concatenate([np.full(len(per_domain[s]), i, dtype=np.int64) for i, s in enumerate(names)])
    return SceneDataset(positions, mask, domain, names, obs_len=obs_len)


def spurious_channel(positions: np.ndarray, agent_mask: np.ndarray, alpha: np.ndarray, obs_len: int) -> np.ndarray:
    """``c_t = alpha * (||v_{t+obs_len} - v_t|| + 1)`` for the observed steps ``t < obs_len``.

    ``v_t = x_t - x_{t-1}`` is the displacement into step ``t`` and ``v_0 = 0`` (the relative-displacement
    convention of the reference loaders), so ``c`` reads displacements up to step ``2 * obs_len - 1``,
    inside the window. Padded agents get 0.

    Args:
        positions: ``(N, K, T, 2)`` with ``T >= 2 * obs_len``.
        agent_mask: ``(N, K)``.
        alpha: ``(N,)`` per-scene factor.

    Returns:
        ``(N, K, obs_len, 1)`` float32.
    """
    if positions.shape[2] < 2 * obs_len:
        raise DataError(f"spurious channel needs T >= 2 * obs_len = {2 * obs_len}, got T={positions.shape[2]}")
    pos = positions.astype(np.float64)
    v = np.zeros_like(pos)
    v[:, :, 1:] = pos[:, :, 1:] - pos[:, :, :-1]
    c = np.linalg.norm(v[:, :, obs_len : 2 * obs_len] - v[:, :, :obs_len], axis=-1) + 1.0
    c = c * alpha[:, None, None] * agent_mask[:, :, None]
    return c[..., None].astype(np.float32)


def add_spurious_channel(ds: SceneDataset, alpha_by_domain: Mapping[str, float] | float) -> SceneDataset:
    """The causal-motion robustness variant: append the spurious channel to ``extra`` (one more channel).

    Args:
        ds: the scenes.
        alpha_by_domain: one ``alpha`` for every scene, or a factor per domain name (every domain present
            must have one).
    """
    if isinstance(alpha_by_domain, Mapping):
        present = [ds.domain_names[i] for i in np.unique(ds.domain)]
        missing = [name for name in present if name not in alpha_by_domain]
        if missing:
            raise ConfigError(f"alpha_by_domain: no alpha for domain(s) {missing} (given: {sorted(alpha_by_domain)})")
        table = np.array([float(alpha_by_domain.get(name, 0.0)) for name in ds.domain_names])
        alpha = table[ds.domain]
    else:
        alpha = np.full(len(ds), float(alpha_by_domain))
    c = spurious_channel(ds.positions, ds.agent_mask, alpha, ds.obs_len)
    extra = c if ds.extra is None else np.concatenate([ds.extra, c], axis=-1)
    return SceneDataset(ds.positions, ds.agent_mask, ds.domain, ds.domain_names, extra=extra, obs_len=ds.obs_len)
