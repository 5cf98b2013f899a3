"""The one run-directory layout and the one logger.

Run directories: ``<root>/<experiment>/<env>/<agent>/seed_<n>/`` holding ``config.yaml``, ``checkpoints/``,
TensorBoard event files, ``curves.csv`` and (when finished) ``done.json``. Forecasting runs use the same
shape with ``<data>/<model>`` in place of ``<env>/<agent>``.

The logger is stable-baselines3's, writing TensorBoard (and optionally stdout); metric names follow SB3:
``rollout/``, ``train/``, ``eval/``, ``time/`` plus ``causal/``, ``augment/`` and ``forecast/``.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # stable-baselines3 (and torch) load only when a logger is made: ~3 s per process
    from stable_baselines3.common.logger import Logger


def safe_name(text: str) -> str:
    """A path component from an id such as ``dm_control/cartpole-swingup-v0``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "unnamed"


def run_dir(root: str | Path, experiment: str, env: str, agent: str, seed: int) -> Path:
    """``<root>/<experiment>/<env>/<agent>/seed_<seed>``."""
    return Path(root) / safe_name(experiment) / safe_name(env) / safe_name(agent) / f"seed_{seed}"


def make_logger(path: Path, stdout: bool = False) -> Logger:
    """SB3 logger writing TensorBoard event files into ``path`` (and a short table to stdout if asked)."""
    from stable_baselines3.common.logger import configure

    formats = ["tensorboard"] + (["stdout"] if stdout else [])
    return configure(str(path), formats)


def log_metrics(logger: Logger, metrics: Mapping[str, float], step: int | None = None) -> None:
    """Record a metrics dict (keys already prefixed, e.g. ``forecast/ade``) and dump at ``step``."""
    for key, value in metrics.items():
        logger.record(key, float(value))
    if step is not None:
        logger.dump(step)


def log_hparams(logger: Logger, hparams: Mapping[str, Any], metrics: Sequence[str]) -> None:
    """Record hyperparameters for TensorBoard's HParams tab (scalars and strings only)."""
    from stable_baselines3.common.logger import HParam

    clean = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in hparams.items()}
    logger.record("hparams", HParam(clean, {m: 0.0 for m in metrics}), exclude=("stdout", "log", "json", "csv"))


@contextmanager
def atomic_file(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open ``<path>.tmp`` for writing; on success it is synced and renamed over ``path``.

    A kill at any moment leaves either the old file or the complete new one, never a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, mode) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def atomic_write_text(path: Path, text: str) -> None:
    """Write a text file so that a kill never leaves it half-written."""
    with atomic_file(path, "w") as fh:
        fh.write(text)


def write_json(path: Path, data: Any) -> None:
    """Atomically write JSON."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str))


class CurveWriter:
    """Append-only CSV of learning-curve rows (``step`` first), safe across resume.

    On resume, rows past the checkpointed step are dropped so that a kill between a checkpoint and the
    next one never leaves duplicates.
    """

    def __init__(self, path: Path, fields: Sequence[str], resume_step: int | None = None) -> None:
        self.path = path
        self.fields = list(fields)
        if resume_step is None or not path.exists():
            atomic_write_text(path, ",".join(self.fields) + "\n")
        else:
            with open(path, newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if int(float(r["step"])) <= resume_step]
            lines = [",".join(self.fields)] + [",".join(str(r.get(f, "")) for f in self.fields) for r in rows]
            atomic_write_text(path, "\n".join(lines) + "\n")

    def append(self, row: Mapping[str, Any]) -> None:
        with open(self.path, "a", newline="") as fh:
            csv.DictWriter(fh, self.fields, extrasaction="ignore").writerow(row)
            fh.flush()


def read_curve(path: Path) -> list[dict[str, float]]:
    """Rows of a ``curves.csv`` as floats."""
    with open(path, newline="") as fh:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(fh)]


@contextmanager
def exclusive_lock(path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if missing) for the ``with`` block.

    The lock dies with the process (``flock``), so a killed holder never leaves a stale lock behind.

    Raises:
        ConfigError: another live process holds it; the message names ``what``, the lock file and its pid.
    """
    from causal_priors.errors import ConfigError

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise ConfigError(f"{path}: {what} is already running (pid {holder}); wait for it or stop it") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
