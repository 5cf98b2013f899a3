"""Executing sweep runs: one subprocess per run, on a local pool or as Ray tasks.

:func:`execute` is the unit of work on both backends: it launches
``python -m causal_priors.cli <command> key=value ... resume=true`` with one BLAS thread, sends its
output to ``<run_dir>/run.log``, and classifies the outcome (``done``, ``resumed`` or ``failed``, with
``failed.json`` written for a failure). Nothing else is scheduled by hand: the local backend is a
``concurrent.futures`` pool, the Ray backend one ``ray.remote`` task per run.

A run process dies with the process that launched it (Linux ``PR_SET_PDEATHSIG``: a ``kill -9`` of the
sweep driver kills its runs), and every run claims its run directory
(:func:`causal_priors.rundir.claim_run`), so a rerun of a sweep never starts a second writer on a run
that is still going.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from causal_priors.errors import ConfigError
from causal_priors.runs import write_json

__all__ = ["RunSpec", "checkpoint_present", "execute", "execute_local", "execute_ray", "result_row", "terminate_all"]

ERROR_TAIL_LINES = 30
_PR_SET_PDEATHSIG = 1
_THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_live: set[subprocess.Popen] = set()
_live_lock = threading.Lock()
_stopping = threading.Event()  # set by terminate_all: runs killed by the sweep are interrupted, not failed


@dataclass(frozen=True)
class RunSpec:
    """Everything needed to launch one run (picklable, so it can travel to a Ray worker)."""

    command: tuple[str, ...]  # CLI words, e.g. ("train",) or ("forecast", "train"), or ("module:<name>",)
    argv: tuple[str, ...]  # key=value overrides, without resume
    run_dir: str  # absolute run directory
    point: dict[str, Any] = field(default_factory=dict)  # the grid point (for the summary)
    timeout_s: float | None = None
    cwd: str | None = None  # working directory (used where it exists)
    finished: bool = False  # when planned, the run had already finished (skipped; see ``plan_runs``)


def checkpoint_present(run_dir: Path) -> bool:
    """Whether ``<run_dir>/checkpoints/`` holds a checkpoint folder (then the run is resumed, not restarted)."""
    from causal_priors.checkpoints import CheckpointStore

    return CheckpointStore(run_dir).exists()


def die_with_parent(parent: int) -> None:
    """``preexec_fn`` of a run process: ask Linux to SIGKILL it when its parent dies (no-op elsewhere).

    ``parent`` is the launcher's pid, taken before the fork: if it died before the request took effect,
    the child exits at once.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the run's lock still keeps a rerun from writing twice
        return
    if os.getppid() != parent:
        os._exit(1)


def launcher(command: Sequence[str]) -> list[str]:
    """What follows ``python -m`` for a run: ``causal_priors.cli <words>``, or ``<name>`` for ``module:<name>``."""
    if len(command) == 1 and command[0].startswith("module:"):
        return [command[0][len("module:") :]]
    return ["causal_priors.cli", *command]


def _tail(path: Path, lines: int = ERROR_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def result_row(
    spec: RunSpec,
    status: str,
    *,
    returncode: int | None = None,
    seconds: float = 0.0,
    error: str | None = None,
    resumed: bool = False,
) -> dict[str, Any]:
    """One row of the sweep summary."""
    return {
        "run_dir": spec.run_dir,
        "status": status,
        "returncode": returncode,
        "seconds": seconds,
        "error": error,
        "point": spec.point,
        "resumed": resumed,
    }


def execute(spec: RunSpec) -> dict[str, Any]:
    """Run one spec to completion in a subprocess; return its result row.

    The row (:func:`result_row`) holds ``status`` (``done``, ``resumed``, ``failed``, or ``interrupted``
    when the sweep itself is stopping), ``returncode``, ``seconds`` and ``error`` (the log tail of a
    failure, else None).
    """
    run_dir = Path(spec.run_dir)
    if _stopping.is_set():  # the sweep is shutting down: launch nothing new
        return result_row(spec, "interrupted")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "failed.json").unlink(missing_ok=True)
    resume = checkpoint_present(run_dir)
    # resume=true always: a run with a checkpoint continues, one without starts fresh (and a stale,
    # checkpoint-less folder of an interrupted run is not mistaken for a conflicting run)
    cmd = [sys.executable, "-m", *launcher(spec.command), *spec.argv, "resume=true"]
    env = {**os.environ, **{k: "1" for k in _THREAD_ENV}, "PYTHONUNBUFFERED": "1"}
    cwd = spec.cwd if spec.cwd and Path(spec.cwd).is_dir() else None
    log = run_dir / "run.log"
    start = time.time()
    error: str | None = None
    with open(log, "a") as fh:
        fh.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd[1:])}\n")
        fh.flush()
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=cwd, preexec_fn=partial(die_with_parent, os.getpid())
        )
        with _live_lock:
            _live.add(proc)
        try:
            returncode = proc.wait(timeout=spec.timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            returncode = proc.wait()
            error = f"timed out after {spec.timeout_s} s"
        finally:
            with _live_lock:
                _live.discard(proc)
    seconds = time.time() - start
    if returncode == 0 and not (run_dir / "done.json").is_file():
        error = "exited 0 but wrote no done.json"
    if returncode != 0 and error is None:
        error = _tail(log) or f"exit code {returncode}"
    if error is None:
        status = "resumed" if resume else "done"
    elif _stopping.is_set():  # killed by the sweep's own shutdown: not the run's fault
        status, error = "interrupted", None
    else:
        status = "failed"
    row = result_row(spec, status, returncode=returncode, seconds=seconds, error=error, resumed=resume)
    if status == "failed":
        write_json(run_dir / "failed.json", {**row, "command": cmd, "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
    return row


def terminate_all() -> None:
    """Stop every run subprocess this process started (on Ctrl-C or SIGTERM of the sweep)."""
    _stopping.set()
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


Callback = Callable[[RunSpec, dict[str, Any]], None]


def execute_local(specs: Sequence[RunSpec], max_workers: int, on_result: Callback) -> None:
    """Run ``specs`` on a pool of ``max_workers`` threads (each waits on its run's subprocess)."""
    _stopping.clear()
    pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="sweep")
    try:
        futures = {pool.submit(execute, spec): spec for spec in specs}
        for future in as_completed(futures):
            on_result(futures[future], future.result())
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        terminate_all()
        raise
    pool.shutdown(wait=True)


def execute_ray(
    specs: Sequence[RunSpec], num_cpus: float, num_gpus: float, address: str | None, on_result: Callback
) -> None:
    """Run each spec as a Ray task requesting ``num_cpus``/``num_gpus``.

    Uses the Ray instance already initialised in this process if any, else ``ray.init(address)``
    (``None``: find a local cluster or start one) and shuts down what it started.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError("Ray is not installed: pip install 'causal-priors[ray]' (or drop --ray)") from None
    started = not ray.is_initialized()
    if started:
        try:
            # dashboard options only apply to an instance started here (ray:// clients reject them)
            local = {"include_dashboard": False} if address in (None, "local") else {}
            ray.init(address=address, log_to_driver=False, **local)
        except ConnectionError as err:
            raise ConfigError(f"cannot reach the Ray cluster at ray.address={address}: {err}") from None
    task = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=0)(execute)
    pending: dict[Any, RunSpec] = {}
    try:
        pending = {task.remote(spec): spec for spec in specs}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                spec = pending.pop(ref)
                try:
                    row = ray.get(ref)
                except ray.exceptions.RayError as err:  # the worker itself died
                    row = result_row(spec, "failed", error=f"ray task failed: {err}")
                    write_json(Path(spec.run_dir) / "failed.json", row)
                on_result(spec, row)
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()
