"""Sweep files: load and validate a sweep YAML into a typed :class:`SweepConfig` and expand its grid into runs.

The sweep file's format, the launchers and the run semantics are described in :mod:`causal_priors.sweep`,
which executes the :class:`~causal_priors.sweep_exec.RunSpec` list that :func:`plan_runs` returns.
"""

from __future__ import annotations

import importlib
import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from causal_priors.checks import NON_NEGATIVE, POSITIVE, in_range, one_of, validate
from causal_priors.config import flatten, merge, parse_overrides, read_yaml, to_container, to_typed
from causal_priors.errors import ConfigError, UserError
from causal_priors.sweep_exec import RunSpec
from causal_priors.sweep_slurm import SlurmConfig
from configs import CONFIG_ROOT

__all__ = ["LAUNCHERS", "RUNNABLE", "SweepConfig", "find_sweep_file", "load_sweep", "plan_runs", "read_value"]

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
    grid points that map to the same run directory are an error. A run is ``finished`` when the command's
    ``run_finished(config)`` says so (``train``: its ``done.json`` has ``total_steps`` steps, so a larger
    ``total_steps`` extends finished runs), or, for a command without one, when ``done.json`` exists.
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
            run_cfg = module.build_config(argv)
            run_dir = Path(module.run_dir_for(run_cfg)).resolve()
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
                finished=_finished(module, run_cfg, run_dir),
            )
        )
    return specs


def _finished(module: Any, run_cfg: Any, run_dir: Path) -> bool:
    """The command's own ``run_finished`` when it has one, else whether ``done.json`` exists."""
    check = getattr(module, "run_finished", None)
    return bool(check(run_cfg)) if check is not None else (run_dir / "done.json").is_file()
