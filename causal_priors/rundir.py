"""The run protocol shared by every command that writes a run directory.

``train``, ``evaluate``, ``forecast train/evaluate/adapt``, ``discover`` and the sweep's children all
go through :func:`claim_run`:

* the run directory is **claimed** with an ``flock`` on ``<run>/.lock`` that dies with its process, so a
  second writer (a second ``resume=true``, a rerun of a sweep whose driver was killed) is refused with
  a one-line error naming the holder's pid, and a killed holder never leaves a stale lock behind;
* a directory that already **holds a run** (a checkpoint or ``done.json``) is not overwritten unless
  ``resume=true``;
* a run is never resumed under a **different config**: the differing keys are named. A key that the saved
  ``config.yaml`` lacks (it was written by a version without that option) is accepted at its default value,
  which by this project's rule for new options reproduces the behaviour of the versions before it.

Checkpoints themselves are :mod:`causal_priors.checkpoints`; :func:`check_finite` is the one NaN guard.
"""

from __future__ import annotations

import dataclasses
import fcntl
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from causal_priors.config import flatten, to_container
from causal_priors.errors import ConfigError, TrainingError

__all__ = [
    "LOCK_NAME",
    "check_finite",
    "check_same_config",
    "claim_run",
    "holds_run",
    "run_lock",
]

LOCK_NAME = ".lock"
#: keys never compared on resume: the flag itself, and where the run directory lives (a run may be moved)
ALWAYS_MAY_CHANGE = ("resume", "run_root")


@contextmanager
def run_lock(path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block.

    Released when the block ends or the process dies (a killed holder never leaves a stale lock). Not
    re-entrant: a command that runs another command's work on the same run calls its lock-free core.

    Raises:
        ConfigError: the lock is held (by another process, or by this one); the message names ``what``,
            the lock file and the holder's pid.
    """
    path = Path(path)
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


def holds_run(path: Path) -> bool:
    """Whether ``path`` holds results worth protecting: a checkpoint (valid or not), ``done.json``, ``model.pt``
    or a discovered ``graph.json``.

    A folder with only ``config.yaml`` (a run that failed before training) holds nothing.
    """
    ckpt = path / "checkpoints"
    if ckpt.is_dir() and any(p.name == "latest.json" or p.name.startswith("step_") for p in ckpt.iterdir()):
        return True
    return any((path / name).is_file() for name in ("done.json", "model.pt", "graph.json"))


def check_same_config(
    saved: Path, config: Mapping[str, Any], ignore: Iterable[str] = (), defaults: Mapping[str, Any] | None = None
) -> None:
    """Refuse to continue a run whose ``config.yaml`` differs from ``config`` (a plain nested dict).

    ``ignore`` lists dotted keys that may change between sessions (e.g. ``resume``, ``total_steps``).
    ``defaults`` (a nested dict of the config class's defaults): a key missing from the saved file (added to
    the config after the run started) is accepted when ``config`` holds its default there.

    Raises:
        ConfigError: naming the file and the differing keys with their old and new values.
    """
    if not saved.is_file():
        return
    from omegaconf import OmegaConf

    try:
        old = flatten(OmegaConf.to_container(OmegaConf.load(saved), resolve=True) or {})
    except Exception as err:  # noqa: BLE001 - any parse error is a bad file
        raise ConfigError(f"{saved}: not a readable config ({str(err).splitlines()[0]})") from None
    new = flatten(config)
    skip = set(ignore)
    if defaults is not None:
        default = flatten(defaults)
        skip |= {k for k, v in new.items() if k not in old and k in default and default[k] == v}
    diff = sorted(k for k in set(old) | set(new) if k not in skip and old.get(k) != new.get(k))
    if diff:
        shown = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff[:5])
        more = f" and {len(diff) - 5} more" if len(diff) > 5 else ""
        raise ConfigError(
            f"{saved} was written with a different config ({shown}{more}); "
            "use another experiment/seed, or delete the run to start over"
        )


@contextmanager
def claim_run(
    path: Path,
    config: Any,
    *,
    resume: bool,
    what: str,
    ignore: Iterable[str] = (),
) -> Iterator[Path]:
    """Lock ``path`` for one writer and check that this command may write there.

    Args:
        path: the run directory (created).
        config: the new run's config, compared with the saved ``config.yaml`` when the directory already holds
            a run: a config dataclass instance (keys newer than the saved file are then accepted at the
            class's defaults, :func:`check_same_config`) or a plain nested dict (compared strictly); ``None``
            for commands that only read a finished run's config (``evaluate``, ``forecast adapt``).
        resume: ``resume=true`` was given: continuing an existing run is allowed.
        what: the command, for the messages (``"train"``, ``"forecast train"``).
        ignore: config keys allowed to differ on resume (besides :data:`ALWAYS_MAY_CHANGE`).

    Raises:
        ConfigError: another process writes the run (its pid named); the directory holds a run and
            ``resume`` is false; or the saved config differs (keys named).
    """
    path = Path(path)
    if config is None and not path.is_dir():
        raise ConfigError(f"{path}: no such run directory ({what} needs a finished training run)")
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK):
            raise PermissionError(13, "not writable")
    except OSError as err:
        raise ConfigError(f"{path}: cannot write the run directory ({err.strerror or err}); check run_root") from None
    with run_lock(path / LOCK_NAME, f"{what} on {path}"):
        if config is not None and holds_run(path):
            if not resume:
                raise ConfigError(
                    f"{path} already holds a run; pass resume=true to continue it or change experiment/seed"
                )
            typed = dataclasses.is_dataclass(config)
            defaults = to_container(type(config)()) if typed else None
            check_same_config(path / "config.yaml", to_container(config), {*ALWAYS_MAY_CHANGE, *ignore}, defaults)
        yield path


def check_finite(metrics: Mapping[str, Any], step: int, where: str = "") -> None:
    """The one NaN guard: raise :class:`TrainingError` naming the first non-finite metric and the step.

    Non-numeric values are ignored, so a logger's whole ``name_to_value`` can be passed.
    """
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not math.isfinite(value):
            place = f" ({where})" if where else ""
            raise TrainingError(f"step {step}: non-finite training metric '{key}' = {value}{place}")
