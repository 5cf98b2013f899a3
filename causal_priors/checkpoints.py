"""The one checkpoint format of agents and forecasters: verified step folders, no pickles.

Layout under ``<run>/checkpoints/``::

    step_<n>/<files>          whatever the trainer writes: tensors (``.pt``, read with ``weights_only=True``),
                              arrays (``.npz``, read with ``allow_pickle=False``), JSON
    step_<n>/manifest.json    size and sha256 of every other file, written last
    latest.json               {"step": n, "path": "step_<n>"}: a hint, written after the folder is complete

A checkpoint is written into ``.tmp_step_<n>/`` and renamed, so a folder named ``step_<n>`` is complete
unless it was damaged afterwards; :meth:`CheckpointStore.latest` verifies sizes and checksums and falls
back to the newest valid folder (with a warning) when the newest one, or ``latest.json``, is damaged or
missing. The ``keep`` newest checkpoints at or below the current step are kept (``keep >= 2``, so a
damaged newest one always has a fallback); folders above the current step (left behind by a damaged
newer checkpoint) are never pruned by a save; they are rewritten when the run reaches their step again.

Loading never runs code from a file: :func:`load_tensors` uses ``torch.load(weights_only=True)``,
:func:`load_arrays` ``np.load(allow_pickle=False)``, and every failure is a one-line :class:`DataError`.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from causal_priors.errors import ConfigError, DataError
from causal_priors.runs import atomic_file, write_json

__all__ = [
    "Checkpoint",
    "CheckpointStore",
    "load_arrays",
    "load_json",
    "load_tensors",
    "restore_global_rng",
    "save_arrays",
    "save_tensors",
    "snapshot_global_rng",
]

MANIFEST = "manifest.json"
POINTER = "latest.json"


def warn(message: str) -> None:
    """A warning line on stderr (the CLI's one channel for things the user should notice)."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


# ---------------------------------------------------------------- safe file I/O


def save_tensors(obj: Any, path: Path) -> None:
    """``torch.save`` (atomically) of tensors, state dicts, lists, dicts, numbers and strings."""
    import torch

    with atomic_file(path) as fh:
        torch.save(obj, fh)


def load_tensors(path: Path) -> Any:
    """``torch.load(weights_only=True)`` on the CPU: a crafted pickle cannot run code, it is refused.

    Raises:
        DataError: missing, truncated, or not a weights-only tensor file (one line naming the file).
    """
    import torch

    if not Path(path).is_file():
        raise DataError(f"{path}: missing")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure is a bad file
        raise DataError(f"{path}: not a weights-only tensor file ({_first_line(err)[:160]})") from None


def save_arrays(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Numeric arrays as ``.npz`` (atomically); object arrays are refused (they would need pickle)."""
    for name, value in arrays.items():
        if value.dtype == object:
            raise TypeError(f"array '{name}' has dtype object; checkpoints hold numeric arrays only")
    with atomic_file(path) as fh:
        np.savez(fh, **arrays)


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """``np.load(allow_pickle=False)`` of an ``.npz``; one-line :class:`DataError` when unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except Exception as err:  # noqa: BLE001 - any failure is a bad file
        raise DataError(f"{path}: not a readable array file ({_first_line(err)[:160]})") from None


def load_json(path: Path) -> Any:
    """Parse a JSON file; one-line :class:`DataError` when missing or garbage."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not readable JSON ({_first_line(err)[:160]})") from None


# ---------------------------------------------------------------- global RNG state as JSON + one tensor


def snapshot_global_rng() -> tuple[dict[str, Any], Any]:
    """Python and numpy global RNG states as JSON-ready data, and torch's as a tensor."""
    import torch

    version, internal, gauss = random.getstate()
    numpy_state = np.random.get_state(legacy=False)
    numpy_state["state"]["key"] = numpy_state["state"]["key"].tolist()
    return {"python": [version, list(internal), gauss], "numpy": numpy_state}, torch.get_rng_state()


def restore_global_rng(state: dict[str, Any], torch_state: Any) -> None:
    """Inverse of :func:`snapshot_global_rng`."""
    import torch

    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy_state = dict(state["numpy"])
    numpy_state["state"] = {**numpy_state["state"], "key": np.asarray(numpy_state["state"]["key"], dtype=np.uint32)}
    np.random.set_state(numpy_state)
    torch.set_rng_state(torch_state)


# ---------------------------------------------------------------- the store


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, step: int) -> None:
    """``manifest.json``: size and sha256 of every file in ``folder`` (subfolders included)."""
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        files[path.relative_to(folder).as_posix()] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    write_json(folder / MANIFEST, {"step": int(step), "files": files})


def verify(folder: Path) -> str | None:
    """``None`` when ``folder`` matches its manifest, else why not (one line)."""
    if not (folder / MANIFEST).exists() and any(folder.glob("*.pkl")) | (folder / "model.zip").exists():
        return "a pickle-based checkpoint of an older version, never loaded"
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return f"no readable {MANIFEST} ({_first_line(err)[:80]})"
    if not files:
        return "empty manifest"
    for name, info in files.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != info.get("size"):
            return f"{name} has {path.stat().st_size} bytes, the manifest says {info.get('size')}"
        if _sha256(path) != info.get("sha256"):
            return f"{name} does not match its sha256"
    return None


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint folder."""

    step: int
    path: Path

    def file(self, name: str) -> Path:
        """A file of this checkpoint."""
        return self.path / name


def _step_of(folder: Path) -> int | None:
    name = folder.name
    if not name.startswith("step_") or not folder.is_dir():
        return None
    try:
        return int(name[len("step_") :])
    except ValueError:
        return None


class CheckpointStore:
    """The ``checkpoints/`` folder of one run (the caller holds the run's lock while saving)."""

    def __init__(self, run_dir: Path, keep: int = 2) -> None:
        if int(keep) < 2:
            raise ConfigError(
                f"keep_checkpoints must be >= 2 (a damaged newest checkpoint needs a fallback), got {keep}"
            )
        self.root = Path(run_dir) / "checkpoints"
        self.keep = int(keep)

    def steps(self) -> list[int]:
        """Steps of every ``step_<n>`` folder, ascending (valid or not)."""
        if not self.root.is_dir():
            return []
        return sorted(s for s in (_step_of(p) for p in self.root.iterdir()) if s is not None)

    def exists(self) -> bool:
        """Whether any checkpoint folder or pointer is present."""
        return bool(self.steps()) or (self.root / POINTER).exists()

    def save(self, step: int, write: Callable[[Path], None]) -> Checkpoint:
        """Write checkpoint ``step``: ``write(folder)`` fills a temporary folder, then manifest, rename, pointer.

        Afterwards the checkpoints at or below ``step`` beyond the newest ``keep`` are removed; folders
        above ``step`` are left alone.
        """
        step = int(step)
        self.root.mkdir(parents=True, exist_ok=True)
        for stale in self.root.glob(".tmp_step_*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = self.root / f".tmp_step_{step}"
        tmp.mkdir()
        write(tmp)
        write_manifest(tmp, step)
        final = self.root / f"step_{step}"
        if final.exists():
            shutil.rmtree(final)
        tmp.replace(final)
        write_json(self.root / POINTER, {"step": step, "path": final.name})
        older = [s for s in self.steps() if s < step]
        for old in older[: max(0, len(older) - (self.keep - 1))]:
            shutil.rmtree(self.root / f"step_{old}", ignore_errors=True)
        return Checkpoint(step=step, path=final)

    def _pointer(self) -> tuple[int | None, str | None]:
        """The step ``latest.json`` names, or why it cannot be used."""
        path = self.root / POINTER
        if not path.exists():
            return None, f"{path} is missing"
        try:
            info = json.loads(path.read_text())
            return int(info["step"]), None
        except (OSError, ValueError, KeyError, TypeError):
            return None, f"{path} is empty or unreadable"

    def latest(self) -> Checkpoint | None:
        """The newest valid checkpoint, or ``None`` when there is no checkpoint at all.

        Damaged folders are skipped with a warning naming what is wrong; a missing or unreadable
        ``latest.json``, or one that names another step, is reported the same way.

        Raises:
            DataError: checkpoint folders exist but none is valid (never a silent restart from step 0).
        """
        steps = self.steps()
        pointed, problem = self._pointer()
        if not steps:
            if pointed is not None or (self.root / POINTER).exists():
                raise DataError(
                    f"{self.root}: {POINTER} is present but no step_<n> folder exists; "
                    "delete the checkpoints folder to start over"
                )
            return None
        reasons = []
        for step in reversed(steps):
            folder = self.root / f"step_{step}"
            why = verify(folder)
            if why is None:
                if reasons:
                    warn(f"{self.root}: skipped damaged checkpoint(s) {'; '.join(reasons)}; using step_{step}")
                elif problem is not None:
                    warn(f"{problem}; using the newest valid checkpoint step_{step}")
                elif pointed != step:
                    warn(f"{self.root / POINTER} names step {pointed}; using the newest valid checkpoint step_{step}")
                return Checkpoint(step=step, path=folder)
            reasons.append(f"step_{step} ({why})")
        raise DataError(f"{self.root}: no valid checkpoint: {'; '.join(reasons)}; delete the folder to start over")
