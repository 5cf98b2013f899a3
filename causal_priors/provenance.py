"""Where a result came from: the code's git commit, library versions, CPU and GPU model, thread count.

Results are bit-identical only on the same machine type with the same library versions and thread count
(README, "Reproducibility"), so every run records this next to its ``config.yaml``: in ``provenance.json`` at
the start and under ``provenance`` in ``done.json``.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

#: distributions whose versions decide the numbers (import name irrelevant: looked up by distribution)
LIBRARIES = ("torch", "numpy", "gymnasium", "mujoco", "stable-baselines3", "dm-control", "causal-priors")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def gpu_model() -> str | None:
    """Name of CUDA device 0 when torch sees one (``None`` otherwise, or when torch is not imported yet)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        if torch.cuda.is_available():
            return str(torch.cuda.get_device_name(0))
    except Exception:  # noqa: BLE001 - a broken driver must not stop a run from recording the rest
        return None
    return None


def source_commit(root: Path | None = None) -> dict[str, Any] | None:
    """The git commit of the checkout this code runs from and whether tracked files differ from it
    (``{"commit": sha, "dirty": bool}``); ``None`` outside a git checkout (an installed wheel) or without git."""
    root = Path(__file__).resolve().parents[1] if root is None else Path(root)

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True)
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


@functools.cache
def running_code() -> dict[str, Any] | None:
    """:func:`source_commit` of the code this process runs, read once: the start and the end record of a run name
    the same code (edits made while it trains are not what it ran), and git runs once per process."""
    return source_commit()


def provenance() -> dict[str, Any]:
    """A JSON-ready record of the software and hardware a result was computed with."""
    torch = sys.modules.get("torch")
    code = running_code()
    return {
        "code": dict(code) if code is not None else None,  # a copy: the cached record stays as read
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpu": gpu_model(),
        "torch_threads": int(torch.get_num_threads()) if torch is not None else None,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def write_provenance(run_dir: Path) -> dict[str, Any]:
    """Write ``<run_dir>/provenance.json`` (atomically) and return the record."""
    from causal_priors.runs import write_json

    record = provenance()
    write_json(Path(run_dir) / "provenance.json", record)
    return record
