"""``causal-priors sweep``: expand a grid into runs and execute them, locally, on Ray or on SLURM (submitit), resumably.

A sweep file (YAML, validated against :class:`SweepConfig`; see ``configs/sweep/``)::

    command: train                      # a runnable command (see RUNNABLE) or module:<python module>
    experiment: cip_vs_sac              # runs land in <run_root>/<experiment>/<task>/<method>/seed_<n>/
    run_root: runs
    grid: {agent: [sac, cip], env: [Reacher-v5], seed: [0, 1, 2, 3, 4]}   # cartesian product
    overrides: {total_steps: 30000}     # passed to every run
    resources: {num_cpus: 1, num_gpus: 0}
    max_workers: null                   # local pool size (default: cores / num_cpus)

Each run is a subprocess ``python -m causal_priors.cli <command> key=value ...`` (``OMP_NUM_THREADS=1``,
output to ``<run_dir>/run.log``), so a crash or NaN in one run cannot stop the others; it dies with the
sweep and claims its run directory (:mod:`causal_priors.rundir`), so a rerun after a killed sweep never
runs one run twice at once. ``command: module:<name>`` runs ``python -m <name> key=value ...`` instead, for
a module with the same contract (``build_config``, ``run_dir_for``, ``run`` and a ``__main__``). Runs are
idempotent: a finished run (``done.json`` present; for ``train``, with ``total_steps`` steps, so raising
``total_steps`` extends finished runs) is skipped; otherwise launched with ``resume=true``, which continues
from a checkpoint when there is one (counted as ``resumed``) and starts fresh when not; a failure
writes ``<run_dir>/failed.json`` (error tail) and the sweep goes on. The summary table is printed and
written to ``<run_root>/<experiment>/sweep_summary.json``; the exit code is 1 if any run failed.
``launcher=ray`` (or ``--ray``, ``ray.address=...``) runs each run as a Ray task with the requested
CPUs/GPUs; ``launcher=slurm`` submits one SLURM job per run, as a job array, through submitit
(:mod:`causal_priors.sweep_slurm`). Every launcher runs the same unit of work, :func:`sweep_exec.execute`.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from causal_priors.checks import check_writable
from causal_priors.config import to_container
from causal_priors.errors import ConfigError, UserError
from causal_priors.runs import exclusive_lock, write_json
from causal_priors.sweep_exec import RunSpec, checkpoint_present, execute_local, execute_ray, result_row
from causal_priors.sweep_plan import SweepConfig, load_sweep, plan_runs
from causal_priors.sweep_slurm import describe, execute_slurm

__all__ = ["run_sweep", "sweep_main"]

FLAGS = ("--ray", "--dry-run", "--cancel-on-interrupt")


def _label(run_dir: str, root: Path) -> str:
    path = Path(run_dir)
    return str(path.relative_to(root)) if root in path.parents else str(path)


def _last_line(text: str | None, width: int = 90) -> str:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1].strip()[:width] if lines else ""


def print_summary(rows: Sequence[dict], root: Path) -> None:
    """The per-run table (rich) and the counts line."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"sweep {root}")
    for col in ("run", "status", "seconds", "error"):
        table.add_column(col)
    for row in rows:
        table.add_row(_label(row["run_dir"], root), row["status"], f"{row['seconds']:.1f}", _last_line(row["error"]))
    console = Console(width=160)
    console.print(table)
    counts = Counter(row["status"] for row in rows)
    console.print(", ".join(f"{counts.get(k, 0)} {k}" for k in STATUSES))


STATUSES = ("skipped", "done", "resumed", "failed")


def _write_summary(
    cfg: SweepConfig, backend: str, specs: Sequence[RunSpec], rows: dict, started: float, root: Path
) -> dict[str, Any]:
    ordered = [rows.get(spec.run_dir) or result_row(spec, "interrupted") for spec in specs]
    counts = Counter(row["status"] for row in ordered)
    summary = {
        "experiment": cfg.experiment,
        "command": cfg.command,
        "backend": backend,
        "counts": {k: counts.get(k, 0) for k in STATUSES} | dict(counts),
        "seconds": time.time() - started,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "config": to_container(cfg),
        "runs": ordered,
    }
    root.mkdir(parents=True, exist_ok=True)
    write_json(root / "sweep_summary.json", summary)
    return summary


def run_sweep(cfg: SweepConfig, *, dry_run: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Plan and execute a sweep; return (and write) its summary.

    Finished runs are skipped, runs with a checkpoint resume, the rest start fresh; failures are
    recorded and do not stop the others.

    Returns:
        ``{"experiment", "command", "backend", "counts": {status: n}, "runs": [row, ...], ...}`` with one
        row per grid point (``run_dir``, ``status``, ``returncode``, ``seconds``, ``error``, ``point``),
        in grid order. Also written to ``<run_root>/<experiment>/sweep_summary.json`` (not for a dry run).
    """
    specs = plan_runs(cfg)
    root = (Path(cfg.run_root) / cfg.experiment).resolve()
    rows: dict[str, dict[str, Any]] = {}
    todo = []
    for spec in specs:
        if spec.finished:
            rows[spec.run_dir] = result_row(spec, "skipped", returncode=0)
            if not dry_run:  # a finished run has no failure: e.g. a rerun refused while it was still running
                (Path(spec.run_dir) / "failed.json").unlink(missing_ok=True)
        else:
            todo.append(spec)
    backend = cfg.launcher
    workers = cfg.max_workers or max(1, int((os.cpu_count() or 1) // max(cfg.resources.num_cpus, 1.0)))
    if not quiet:
        where = {
            "local": f"{workers} local workers",
            "ray": f"ray ({cfg.ray.address or 'local/auto'})",
            "slurm": describe(cfg.slurm, cfg.resources.num_cpus, cfg.resources.num_gpus, root),
        }[backend]
        print(
            f"sweep {cfg.experiment}: {len(specs)} runs, {len(specs) - len(todo)} already done, "
            f"{len(todo)} to run on {where}",
            flush=True,
        )
    if dry_run:
        for spec in specs:
            state = "done" if spec.run_dir in rows else ("resume" if checkpoint_present(Path(spec.run_dir)) else "new")
            print(f"  {state:<7} {_label(spec.run_dir, root)}  {' '.join(spec.argv)}")
        return {"experiment": cfg.experiment, "planned": [spec.run_dir for spec in specs]}
    started = time.time()

    def on_result(spec: RunSpec, row: dict[str, Any]) -> None:
        rows[spec.run_dir] = row
        if not quiet:
            print(
                f"[{len(rows)}/{len(specs)}] {row['status']:<7} {_label(spec.run_dir, root)} "
                f"({row['seconds']:.1f} s) {_last_line(row['error'])}",
                flush=True,
            )

    try:
        with exclusive_lock(root / ".sweep.lock", f"a sweep of experiment '{cfg.experiment}'"):
            if todo and backend == "ray":
                execute_ray(todo, cfg.resources.num_cpus, cfg.resources.num_gpus, cfg.ray.address, on_result)
            elif todo and backend == "slurm":
                execute_slurm(
                    todo,
                    cfg.slurm,
                    num_cpus=cfg.resources.num_cpus,
                    num_gpus=cfg.resources.num_gpus,
                    experiment_dir=root,
                    name=f"cp-{cfg.experiment}",
                    on_result=on_result,
                )
            elif todo:
                execute_local(todo, min(workers, len(todo)), on_result)
    except KeyboardInterrupt:  # Ctrl-C / SIGTERM: record what finished, then stop
        _write_summary(cfg, backend, specs, rows, started, root)
        raise
    summary = _write_summary(cfg, backend, specs, rows, started, root)
    ordered = summary["runs"]
    if not quiet:
        print_summary(ordered, root)
    if cfg.report and any(row["status"] != "failed" for row in ordered):
        from causal_priors.report import write_report

        try:
            out = write_report(root)
            if not quiet:
                print(f"report written to {out}")
        except UserError as err:
            print(f"sweep: no report: {err}", file=sys.stderr)
    return summary


def sweep_main(argv: Sequence[str]) -> int:
    """``causal-priors sweep <file.yaml | preset> [--ray] [--dry-run] [--cancel-on-interrupt] [key=value ...]``.

    ``--ray`` is ``launcher=ray``; ``--cancel-on-interrupt`` is ``slurm.cancel_on_interrupt=true`` (the
    local and Ray launchers always stop their runs when the sweep is interrupted).
    Returns 0 when every run is done (or was already), 1 when any run failed.
    """
    words = list(argv)
    flags = {w for w in words if w.startswith("--")}
    unknown = flags - set(FLAGS)
    if unknown:
        raise ConfigError(f"unknown sweep flag(s) {sorted(unknown)}; known: {', '.join(FLAGS)}")
    files = [w for w in words if not w.startswith("--") and "=" not in w]
    if len(files) != 1:
        raise ConfigError(f"usage: causal-priors sweep <sweep.yaml> [{'] ['.join(FLAGS)}] [key=value ...]")
    overrides = [w for w in words if "=" in w and not w.startswith("--")]
    overrides += ["ray.enabled=true"] if "--ray" in flags else []
    overrides += ["slurm.cancel_on_interrupt=true"] if "--cancel-on-interrupt" in flags else []
    cfg = load_sweep(files[0], overrides)
    check_writable(cfg.run_root, "run_root")
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        summary = run_sweep(cfg, dry_run="--dry-run" in flags)
    except KeyboardInterrupt:
        print("sweep interrupted; run the same command again to finish the missing runs", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 1 if summary.get("counts", {}).get("failed", 0) else 0


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
