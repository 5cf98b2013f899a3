"""The one run-directory layout and the one logger.

Run directories: ``<root>/<experiment>/<env>/<agent>/seed_<n>/`` holding ``config.yaml``, ``checkpoints/``,
TensorBoard event files, ``curves.csv`` and (when finished) ``done.json``. Forecasting runs use the same
shape with ``<data>/<model>`` in place of ``<env>/<agent>``.

Agents log through stable-baselines3's logger (:func:`make_logger`, TensorBoard and optionally stdout);
forecasting, which has no SB3 model, through torch's ``SummaryWriter`` (:func:`scalar_writer`). Metric
names follow SB3: ``rollout/``, ``train/``, ``eval/``, ``time/`` plus ``causal/``, ``augment/`` and
``forecast/``. The run protocol (locks, checkpoints) is :mod:`causal_priors.rundir`.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # stable-baselines3 (and torch) load only when a logger is made: ~3 s per process
    from stable_baselines3.common.logger import Logger
    from torch.utils.tensorboard import SummaryWriter


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


def scalar_writer(path: Path) -> SummaryWriter:
    """torch's TensorBoard ``SummaryWriter`` writing event files into ``path``."""
    from torch.utils.tensorboard import SummaryWriter

    Path(path).mkdir(parents=True, exist_ok=True)
    return SummaryWriter(log_dir=str(path))


def write_scalars(writer: SummaryWriter, metrics: Mapping[str, float], step: int) -> None:
    """Add every value of a metrics dict (keys already prefixed, e.g. ``forecast/val/ade/all``) at ``step``."""
    for key, value in metrics.items():
        writer.add_scalar(key, float(value), int(step))


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


def exclusive_lock(path: Path, what: str):
    """Hold an exclusive advisory lock on ``path`` (see :func:`causal_priors.rundir.run_lock`)."""
    from causal_priors.rundir import run_lock

    return run_lock(path, what)
