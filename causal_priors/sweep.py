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
idempotent: ``done.json`` present -> skipped; otherwise launched with ``resume=true``, which continues
from a checkpoint when there is one (counted as ``resumed``) and starts fresh when not; a failure
writes ``<run_dir>/failed.json`` (error tail) and the sweep goes on. The summary table is printed and
written to ``<run_root>/<experiment>/sweep_summary.json``; the exit code is 1 if any run failed.
``launcher=ray`` (or ``--ray``, ``ray.address=...``) runs each run as a Ray task with the requested
CPUs/GPUs; ``launcher=slurm`` submits one SLURM job per run, as a job array, through submitit
(:mod:`causal_priors.sweep_slurm`). Every launcher runs the same unit of work, :func:`sweep_exec.execute`.
"""

from __future__ import annotations

import importlib
import itertools
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from causal_priors.checks import NON_NEGATIVE, POSITIVE, check_writable, in_range, one_of, validate
from causal_priors.config import flatten, merge, parse_overrides, read_yaml, to_container, to_typed
from causal_priors.errors import ConfigError, UserError
from causal_priors.runs import exclusive_lock, write_json
from causal_priors.sweep_exec import RunSpec, checkpoint_present, execute_local, execute_ray, result_row
from causal_priors.sweep_slurm import SlurmConfig, describe, execute_slurm
from configs import CONFIG_ROOT

__all__ = ["SweepConfig", "LAUNCHERS", "RUNNABLE", "load_sweep", "plan_runs", "run_sweep", "sweep_main"]

#: sweep ``command`` -> module exposing ``build_config(argv)``, ``run_dir_for(cfg)`` and ``run(cfg)``.
RUNNABLE: dict[str, str] = {
    "train": "agents.workspace",
    "forecast train": "forecasting.train",
}
#: prefix of a sweep ``command`` naming a module run as ``python -m <module>`` (e.g. a test fixture)
MODULE_PREFIX = "module:"


def command_module(command: str) -> str:
    """The module behind a sweep ``command`` (a RUNNABLE name or ``module:<name>``)."""
    if command.startswith(MODULE_PREFIX):
        return command[len(MODULE_PREFIX) :]
    return RUNNABLE[command]


RESERVED = ("run_root", "resume")
#: where a sweep's runs execute (the ``launcher`` key)
LAUNCHERS = ("local", "ray", "slurm")
#: the flags of ``causal-priors sweep`` (and ``study``)
FLAGS = ("--ray", "--dry-run", "--cancel-on-interrupt")


@dataclass
class Resources:
    """What one run needs (Ray task request; locally ``num_cpus`` sizes the default pool)."""

    num_cpus: float = 1.0  # CPUs per run (> 0)
    num_gpus: float = 0.0  # GPUs per run (>= 0)

    def __post_init__(self) -> None:
        validate(self, num_cpus=POSITIVE, num_gpus=NON_NEGATIVE)


@dataclass
class RayConfig:
    """Ray backend: ``address`` of an existing cluster (``auto``, ``ray://host:10001``), or null to
    let ``ray.init()`` find a local cluster or start one. Setting it (or ``--ray``) selects Ray."""

    address: str | None = None  # Ray cluster address (auto, ray://host:10001); null: ray.init() decides
    enabled: bool = False  # run on Ray (also set by --ray or an address)


@dataclass
class SweepConfig:
    """A sweep file's keys."""

    command: str = "train"  # runnable command (see RUNNABLE)
    experiment: str = ""  # experiment name (required): <run_root>/<experiment>/
    run_root: str = "runs"  # root of all run directories
    grid: dict[str, list[Any]] = field(default_factory=dict)  # key -> values; runs = cartesian product
    overrides: dict[str, Any] = field(default_factory=dict)  # key=value for every run (nested ok)
    resources: Resources = field(default_factory=Resources)  # what one run needs (Ray request; local pool size)
    max_workers: int | None = None  # local concurrent runs (default: os.cpu_count() // num_cpus)
    timeout_s: float | None = None  # wall-clock limit per run (None: no limit)
    experiment_key: str = "experiment"  # the command's config key that names the experiment
    report: bool = True  # write <run_root>/<experiment>/report/ at the end
    results_subdir: str = ""  # where `study` publishes, under benchmarks/results/ (default: <experiment>)
    launcher: str = "local"  # where runs execute: local (process pool) | ray | slurm (submitit job array)
    ray: RayConfig = field(default_factory=RayConfig)  # the Ray backend
    slurm: SlurmConfig = field(default_factory=SlurmConfig)  # the SLURM backend (launcher=slurm)

    def __post_init__(self) -> None:
        validate(self, max_workers=in_range(1), timeout_s=POSITIVE, launcher=one_of(*LAUNCHERS))


def find_sweep_file(name: str) -> Path:
    """A path, or the name of a preset in ``configs/sweep/`` (with or without ``.yaml``)."""
    path = Path(name)
    if path.is_file():
        return path
    preset = CONFIG_ROOT / "sweep" / (name if name.endswith(".yaml") else f"{name}.yaml")
    if preset.is_file():
        return preset
    raise ConfigError(f"sweep file not found: {name} (nor configs/sweep/{preset.name})")


def load_sweep(path: str | Path, argv: Sequence[str] = ()) -> SweepConfig:
    """Validate a sweep file plus ``key=value`` overrides against :class:`SweepConfig`.

    Unknown keys, wrong types and bad values raise :class:`ConfigError` naming the key and the file.
    """
    file = find_sweep_file(str(path))
    cfg: DictConfig = OmegaConf.structured(SweepConfig)
    OmegaConf.set_struct(cfg, True)
    OmegaConf.set_struct(cfg.grid, False)
    OmegaConf.set_struct(cfg.overrides, False)
    cfg = merge(cfg, read_yaml(file), str(file))
    for key, value in parse_overrides(argv):
        dotted = OmegaConf.create({})
        OmegaConf.update(dotted, key, read_value(value), force_add=True)
        cfg = merge(cfg, dotted, f"override '{key}={value}'")
    if cfg.ray.address:
        cfg.ray.enabled = True
    _resolve_launcher(cfg, file)
    _check(cfg, file)
    try:
        return to_typed(cfg)
    except ConfigError as err:
        raise ConfigError(f"{file}: {err}") from None


def _resolve_launcher(cfg: DictConfig, file: Path) -> None:
    """``launcher=ray``, ``ray.enabled``, ``ray.address`` and ``--ray`` all mean Ray; Ray with SLURM is an error."""
    if cfg.launcher == "slurm" and cfg.ray.enabled:
        raise ConfigError(f"{file}: 'launcher' is slurm but Ray is selected too (ray.enabled/ray.address/--ray)")
    if cfg.ray.enabled and cfg.launcher == "local":
        cfg.launcher = "ray"
    if cfg.launcher == "ray":
        cfg.ray.enabled = True


def read_value(text: str) -> Any:
    """A command-line value parsed as YAML (``3`` -> int, ``[0,1]`` -> list); unparsable stays text."""
    import yaml

    try:
        return yaml.safe_load(text) if text != "" else ""
    except yaml.YAMLError:
        return text


def _check(cfg: DictConfig, file: Path) -> None:
    if cfg.command not in RUNNABLE and not (cfg.command.startswith(MODULE_PREFIX) and len(cfg.command) > 7):
        raise ConfigError(
            f"{file}: 'command' must be one of {list(RUNNABLE)} or module:<python module>, got '{cfg.command}'"
        )
    if not cfg.experiment:
        raise ConfigError(f"{file}: 'experiment' is required (runs go to <run_root>/<experiment>/)")
    if not cfg.grid:
        raise ConfigError(f"{file}: 'grid' must map at least one key to a list of values")
    for key, values in cfg.grid.items():
        if len(values) == 0:
            raise ConfigError(f"{file}: grid key '{key}' has no values")
        if any(OmegaConf.is_config(v) for v in values):
            raise ConfigError(f"{file}: grid key '{key}' must list scalar values")
    for key in list(cfg.grid) + list(flatten(to_container(cfg.overrides))):
        if key in RESERVED or key == cfg.experiment_key:
            raise ConfigError(f"{file}: '{key}' is set by the sweep itself; use the top-level key instead")
    both = set(cfg.grid) & set(flatten(to_container(cfg.overrides)))
    if both:
        raise ConfigError(f"{file}: {sorted(both)} appear in both 'grid' and 'overrides'")
    if cfg.max_workers is not None and cfg.max_workers < 1:
        raise ConfigError(f"{file}: 'max_workers' must be >= 1 or null, got {cfg.max_workers}")


def _word(key: str, value: Any) -> str:
    """``key=value`` that the command's loader parses back to ``value`` (strings like ``yes`` quoted)."""
    if isinstance(value, str) and read_value(value) == value:
        return f"{key}={value}"
    return f"{key}={json.dumps(value)}"


def plan_runs(cfg: SweepConfig) -> list[RunSpec]:
    """One :class:`RunSpec` per grid point, validated by the command's own ``build_config``.

    Every run's config is built here, in the parent, so a bad key fails before anything starts; two
    grid points that map to the same run directory are an error.
    """
    try:
        module = importlib.import_module(command_module(cfg.command))
    except ModuleNotFoundError as err:
        raise ConfigError(f"command '{cfg.command}' is not available ({err})") from None
    experiment_dir = (Path(cfg.run_root) / cfg.experiment).resolve()
    base = [_word(cfg.experiment_key, cfg.experiment), _word("run_root", str(Path(cfg.run_root).resolve()))]
    base += [_word(k, v) for k, v in flatten(to_container(cfg.overrides)).items()]
    grid = to_container(cfg.grid)
    specs: list[RunSpec] = []
    seen: dict[Path, dict] = {}
    for values in itertools.product(*grid.values()):
        point = dict(zip(grid.keys(), values, strict=True))
        argv = base + [_word(k, v) for k, v in point.items()]
        try:
            run_dir = Path(module.run_dir_for(module.build_config(argv))).resolve()
        except UserError as err:
            raise ConfigError(f"sweep {cfg.experiment}, run {point}: {err}") from None
        if experiment_dir not in run_dir.parents:
            raise ConfigError(
                f"'{cfg.command}' puts run {point} in {run_dir}, outside {experiment_dir}; "
                f"check 'experiment_key' (now '{cfg.experiment_key}')"
            )
        if run_dir in seen:
            raise ConfigError(f"grid points {seen[run_dir]} and {point} both map to run directory {run_dir}")
        seen[run_dir] = point
        specs.append(
            RunSpec(
                command=(cfg.command,) if cfg.command.startswith(MODULE_PREFIX) else tuple(cfg.command.split()),
                argv=tuple(argv),
                run_dir=str(run_dir),
                point=point,
                timeout_s=cfg.timeout_s,
                cwd=os.getcwd(),
            )
        )
    return specs


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
        if (Path(spec.run_dir) / "done.json").is_file():
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
