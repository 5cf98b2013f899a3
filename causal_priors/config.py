"""The one config loader: typed dataclass defaults + YAML presets + ``key=value`` overrides.

Every command builds its config the same way::

    cfg = load_config(TrainConfig, ["agent=cip", "env=HalfCheetah-v5", "seed=3"], groups=("agent", "env"))

Merge order (later wins):

1. the dataclass defaults (``schema``), which fix every key and its type;
2. group presets, ``configs/<group>/<name>.yaml``, chosen by ``group=name`` on the command line or by the
   ``defaults:`` mapping of an experiment file;
3. the body of ``configs/experiment/<name>.yaml`` when ``experiment=<name>`` names such a file (otherwise
   ``experiment`` is just the run's label);
4. the remaining ``key=value`` overrides (dotted keys, YAML-typed values).

Unknown keys and values of the wrong type raise :class:`ConfigError` with a one-line message naming the
key, the file it came from and the close matches. Each command then converts the merged config once, at its
boundary, into its dataclasses (:func:`to_typed`), whose ``__post_init__`` checks the values (ranges, known
names; see :mod:`causal_priors.checks`); code past the boundary receives typed objects.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException, ValidationError

from causal_priors.checks import InvalidValue
from causal_priors.errors import ConfigError
from configs import CONFIG_ROOT

__all__ = [
    "ConfigError",
    "flatten",
    "load_config",
    "merge",
    "read_yaml",
    "save_config",
    "to_container",
    "to_object",
    "to_typed",
]


def _all_keys(cfg: DictConfig, prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key in cfg.keys():
        full = f"{prefix}{key}"
        keys.append(full)
        value = cfg._get_node(key)
        if isinstance(value, DictConfig) and not value._is_none():
            keys.extend(_all_keys(value, full + "."))
    return keys


def _friendly(err: OmegaConfBaseException, base: DictConfig, source: str) -> ConfigError:
    key = getattr(err, "full_key", None) or getattr(err, "key", None) or "?"
    if isinstance(err, (ConfigKeyError, ConfigAttributeError)):
        close = difflib.get_close_matches(str(key), _all_keys(base), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return ConfigError(f"unknown config key '{key}' in {source}{hint}")
    if isinstance(err, ValidationError):
        msg = str(err).splitlines()[0]
        return ConfigError(f"bad value for config key '{key}' in {source}: {msg}")
    return ConfigError(f"config error at '{key}' in {source}: {str(err).splitlines()[0]}")


def merge(base: DictConfig, update: Any, source: str) -> DictConfig:
    """Merge ``update`` into ``base``; errors become :class:`ConfigError` naming ``source`` (a file or override)."""
    try:
        return OmegaConf.merge(base, update)  # type: ignore[return-value]
    except OmegaConfBaseException as err:
        raise _friendly(err, base, source) from None


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing or malformed file is a :class:`ConfigError` naming the file."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"malformed YAML in {path}: {str(err).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    return data


def available_presets(group: str, root: Path = CONFIG_ROOT) -> list[str]:
    """Names of the YAML presets in ``configs/<group>/``."""
    return sorted(p.stem for p in (root / group).glob("*.yaml"))


def _preset_path(group: str, name: str, root: Path) -> Path | None:
    path = root / group / f"{name}.yaml"
    return path if path.is_file() else None


def parse_overrides(argv: Iterable[str]) -> list[tuple[str, str]]:
    """Split ``key=value`` words; anything else is a :class:`ConfigError`."""
    pairs = []
    for word in argv:
        if "=" not in word or word.startswith("="):
            raise ConfigError(f"expected key=value, got '{word}'")
        key, value = word.split("=", 1)
        pairs.append((key.strip(), value))
    return pairs


def load_config(
    schema: type,
    argv: Sequence[str] = (),
    *,
    groups: Sequence[str] = (),
    group_fallbacks: Mapping[str, str] | None = None,
    root: Path = CONFIG_ROOT,
) -> DictConfig:
    """Build the typed config for one command.

    Args:
        schema: dataclass type holding every key with its type and default.
        argv: ``key=value`` words; ``experiment=NAME`` and ``<group>=NAME`` select YAML presets.
        groups: top-level keys that are preset groups (``configs/<group>/<name>.yaml``).
        group_fallbacks: for a group whose value names no preset, the sub-key that takes the value
            instead (e.g. ``{"env": "id"}`` turns ``env=Hopper-v5`` into ``env.id=Hopper-v5``).
        root: the configs folder.

    Returns:
        A struct-mode ``DictConfig``: reading or writing an unknown key raises.
    """
    group_fallbacks = dict(group_fallbacks or {})
    cfg: DictConfig = OmegaConf.structured(schema)
    OmegaConf.set_struct(cfg, True)
    overrides = parse_overrides(argv)

    experiment_body: dict[str, Any] = {}
    experiment_source = ""
    chosen: dict[str, str] = {}
    for key, value in overrides:
        if key == "experiment":
            path = _preset_path("experiment", value, root)
            if path is None:
                continue  # a plain label for the run directory, no preset file
            experiment_body = read_yaml(path)
            experiment_source = str(path)
            defaults = experiment_body.pop("defaults", {}) or {}
            if not isinstance(defaults, dict):
                raise ConfigError(f"{path}: 'defaults' must map group names to preset names")
            for group, name in defaults.items():
                if group not in groups:
                    raise ConfigError(f"{path}: unknown preset group '{group}' in defaults (groups: {list(groups)})")
                chosen.setdefault(group, str(name))
    for key, value in overrides:
        if key in groups:
            chosen[key] = value  # the command line beats the experiment's defaults

    for group in groups:
        if group not in chosen:
            continue
        name = chosen[group]
        path = _preset_path(group, name, root)
        if path is not None:
            cfg = merge(cfg, {group: read_yaml(path)}, str(path))
        elif group in group_fallbacks:
            cfg = merge(cfg, {group: {group_fallbacks[group]: name}}, f"'{group}={name}'")
        else:
            close = difflib.get_close_matches(name, available_presets(group, root), n=3)
            raise ConfigError(
                f"unknown {group} preset '{name}' (no configs/{group}/{name}.yaml); close matches: {close}"
            )

    if experiment_body:
        cfg = merge(cfg, experiment_body, experiment_source)
        if "experiment" in cfg and not experiment_body.get("experiment"):
            cfg.experiment = Path(experiment_source).stem

    skip = set(groups) | ({"experiment"} if experiment_body else set())
    return _apply_overrides(cfg, [(k, v) for k, v in overrides if k not in skip])


def load_saved_config(schema: type, path: Path, argv: Sequence[str] = ()) -> DictConfig:
    """The typed config a run saved (``config.yaml``), checked against ``schema``, then ``key=value`` overrides.

    Raises:
        ConfigError: the file is missing or malformed, holds a key ``schema`` does not know, or an override is bad.
    """
    cfg: DictConfig = OmegaConf.structured(schema)
    OmegaConf.set_struct(cfg, True)
    cfg = merge(cfg, read_yaml(Path(path)), str(path))
    return _apply_overrides(cfg, parse_overrides(argv))


def _apply_overrides(cfg: DictConfig, overrides: Sequence[tuple[str, str]]) -> DictConfig:
    for key, value in overrides:
        try:
            parsed = yaml.safe_load(value) if value != "" else ""
        except yaml.YAMLError:
            parsed = value
        dotted = OmegaConf.from_dotlist([])
        try:
            OmegaConf.update(dotted, key, parsed, force_add=True)
        except OmegaConfBaseException as err:
            raise ConfigError(f"bad override '{key}={value}': {str(err).splitlines()[0]}") from None
        cfg = merge(cfg, dotted, f"override '{key}={value}'")
    return cfg


def to_container(cfg: Any) -> dict[str, Any]:
    """Plain nested dict of a config -- a ``DictConfig``, a config dataclass or a mapping (for saving, hashing
    and hyperparameter logging)."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        cfg = OmegaConf.structured(cfg)
    elif not OmegaConf.is_config(cfg):
        cfg = OmegaConf.create(dict(cfg) if isinstance(cfg, Mapping) else cfg)
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def to_object(cfg: DictConfig) -> Any:
    """The config as instances of its dataclass schema (no key prefixing; see :func:`to_typed`)."""
    return OmegaConf.to_object(cfg)


def _is_structured(node: Any) -> bool:
    return isinstance(node, DictConfig) and not node._is_none() and dataclasses.is_dataclass(OmegaConf.get_type(node))


def _build(node: DictConfig, prefix: str) -> Any:
    for key in node.keys():
        child = node._get_node(key)
        if _is_structured(child):
            _build(child, f"{prefix}{key}.")  # nested configs first, so a failure is named from its own level
    try:
        return OmegaConf.to_object(node)
    except InvalidValue as err:
        raise err.with_prefix(prefix) from None


def to_typed(cfg: Any) -> Any:
    """Convert a merged config into its dataclasses once, at a command's boundary, checking every value.

    Each dataclass's ``__post_init__`` checks its own fields; a bad value raises :class:`ConfigError` naming
    the full dotted key (``agent.causal.rho``) and what was expected. A dataclass instance passes through.
    """
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return cfg
    if not _is_structured(cfg):
        raise TypeError(f"to_typed needs a structured DictConfig, got {type(cfg).__name__}")
    return _build(cfg, "")


def save_config(cfg: Any, path: Path) -> None:
    """Write the resolved config (a ``DictConfig`` or a config dataclass) as YAML (atomically)."""
    from causal_priors.runs import atomic_write_text

    atomic_write_text(path, OmegaConf.to_yaml(to_container(cfg)))


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten a nested mapping into ``{"a.b": value}``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, full + "."))
        else:
            out[full] = value
    return out
