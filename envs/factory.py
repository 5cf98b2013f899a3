"""The one environment factory: ``envs.make(env_id, **options)``."""

from __future__ import annotations

import difflib
from dataclasses import fields
from typing import Any

import gymnasium as gym

from causal_priors.errors import EnvIdError
from envs import metaworld
from envs.config import DomainShiftConfig, EnvConfig
from envs.domain_shift import DomainShift
from envs.pixels import PixelStateObservation, render_kwargs
from envs.wrappers import (
    ActionRepeat,
    DistractorDims,
    FlatFloat32,
    SparseReward,
    sparse_default,
)

OPTION_NAMES = tuple(f.name for f in fields(EnvConfig) if f.name != "id")


def _registered_ids() -> list[str]:
    if any(k.startswith("dm_control/") for k in gym.registry) is False:
        _register_dm_control()
    return list(gym.registry.keys())


def _register_dm_control() -> None:
    try:
        import shimmy  # noqa: F401  (importing registers the dm_control/* ids)
    except ImportError as err:  # pragma: no cover - shimmy is a hard dependency
        raise EnvIdError(f"dm_control ids need shimmy[dm-control]: {err}") from None


def _check_id(env_id: str) -> None:
    if metaworld.is_metaworld_id(env_id):
        metaworld.check_id(env_id)
        return
    if env_id.startswith("dm_control/"):
        _register_dm_control()
    ids = _registered_ids()
    if env_id not in ids:
        close = difflib.get_close_matches(env_id, ids, n=4, cutoff=0.5)
        hint = f"; close matches: {', '.join(close)}" if close else ""
        raise EnvIdError(f"unknown environment id '{env_id}'{hint}")


def _base_env(env_id: str, image_size: int | None, sim_step_limit: int | None, env_kwargs: dict[str, Any]) -> gym.Env:
    kwargs: dict[str, Any] = dict(env_kwargs)
    if sim_step_limit is not None:
        kwargs["max_episode_steps"] = sim_step_limit
    if image_size is not None:
        kwargs.update(render_kwargs(env_id, image_size))
    try:
        return gym.make(env_id, **kwargs)
    except TypeError as err:
        raise EnvIdError(f"'{env_id}' does not accept env.kwargs {sorted(env_kwargs)}: {err}") from None


def make(env_id: str, seed: int = 0, **options: Any) -> gym.Env:
    """Build an environment with the project's wrappers.

    Args:
        env_id: a gymnasium id (MuJoCo ``*-v5``, ``dm_control/<domain>-<task>-v0``, classic control,
            ``CrowdCircleCrossing-v0``, ``metaworld/<task>-v3`` with the ``metaworld`` extra, see
            :mod:`envs.metaworld`).
        seed: seeds the wrappers' own randomness (distractor dynamics); pass ``seed`` to ``reset`` as usual.
        **options: fields of :class:`envs.config.EnvConfig` (``action_repeat``, ``sparse_reward``,
            ``sparse_threshold``, ``pixels``, ``image_size``, ``frame_stack``, ``distractor_dims``,
            ``domain_shift`` (dict or :class:`DomainShiftConfig`), ``kwargs`` (passed to the env's constructor),
            ``max_episode_steps``).

    Returns:
        The wrapped env: observations are one float32 vector (with ``pixels=True`` a dict of
        ``(3 * frame_stack, image_size, image_size)`` uint8 frames and the float32 state, see :mod:`envs.pixels`);
        episodes end after ``max_episode_steps`` agent steps when given, else at the
        task's own limit (1000 steps for MuJoCo and dm_control tasks, 500 for Meta-World).

    Raises:
        EnvIdError: unknown id or option (with the close matches), or an option the env cannot take.
    """
    unknown = [k for k in options if k not in OPTION_NAMES]
    if unknown:
        close = {k: difflib.get_close_matches(k, OPTION_NAMES, n=2) for k in unknown}
        raise EnvIdError(f"unknown env option(s) {unknown} for '{env_id}'; close matches: {close}")
    cfg = EnvConfig(id=env_id, **{k: v for k, v in options.items() if k != "domain_shift"})
    shift = options.get("domain_shift", DomainShiftConfig())
    if isinstance(shift, dict):
        bad = [k for k in shift if k not in DomainShift.FIELDS]
        if bad:
            raise EnvIdError(f"unknown env.domain_shift key(s) {bad}; expected {list(DomainShift.FIELDS)}")
        shift = DomainShiftConfig(**shift)
    _check_id(env_id)
    if cfg.pixels and cfg.distractor_dims:
        raise EnvIdError("env.distractor_dims needs state observations; it cannot be combined with env.pixels")

    limit = None if cfg.max_episode_steps is None else cfg.max_episode_steps * cfg.action_repeat
    env = _base_env(env_id, cfg.image_size if cfg.pixels else None, limit, dict(cfg.kwargs))
    if any(getattr(shift, name) != 1.0 for name in DomainShift.FIELDS):
        env = DomainShift(env, shift)
    if cfg.action_repeat != 1:
        env = ActionRepeat(env, cfg.action_repeat)
    if cfg.sparse_reward:
        signal, default = sparse_default(env_id)
        env = SparseReward(env, signal, default if cfg.sparse_threshold is None else cfg.sparse_threshold)
    if cfg.pixels:
        env = PixelStateObservation(env, cfg.image_size, cfg.frame_stack)
    else:
        env = FlatFloat32(env)
        if cfg.distractor_dims:
            env = DistractorDims(env, cfg.distractor_dims, seed=seed)
    return env


def make_from_config(cfg: Any, seed: int = 0) -> gym.Env:
    """``make`` from an :class:`EnvConfig` (or its DictConfig)."""
    options = {name: getattr(cfg, name) for name in OPTION_NAMES}
    shift = options["domain_shift"]
    options["domain_shift"] = {k: float(getattr(shift, k)) for k in DomainShift.FIELDS}
    options["kwargs"] = dict(options["kwargs"])
    return make(cfg.id, seed=seed, **options)
