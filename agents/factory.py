"""Build and load the one algorithm behind every agent preset (sac, ace, cip and ablations)."""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from stable_baselines3 import SAC
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

import envs
from agents.config import AgentConfig, TrainConfig, causal_config
from causal_priors.devices import resolve_device
from causal_priors.errors import ConfigError

if TYPE_CHECKING:
    from causal_priors.checkpoints import Checkpoint


def make_vec_env(cfg: TrainConfig, seed: int) -> VecEnv:
    """One training env (Monitor for episode stats) in SB3's vectorised interface."""
    return DummyVecEnv([lambda: Monitor(envs.make_from_config(cfg.env, seed=seed))])


def algorithm_class(agent: AgentConfig, pixels: bool = False) -> type[OffPolicyAlgorithm]:
    """The algorithm class for an agent config: plain SAC when every causal part is off and observations are
    states (pixel runs always use :class:`CausalSAC`, which owns the random-shift augmentation)."""
    if pixels or causal_config(agent.causal).any_active:
        from agents.causal_sac import CausalSAC

        return CausalSAC
    return SAC


def _ent_coef(value: str) -> str | float:
    return value if value.startswith("auto") else float(value)


def algorithm_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    """SB3 constructor arguments from the config (buffer capped at the run length: SB3 allocates it)."""
    a = cfg.agent
    kwargs: dict[str, Any] = dict(
        learning_rate=a.learning_rate,
        buffer_size=int(min(a.buffer_size, max(cfg.total_steps, a.batch_size))),
        learning_starts=a.learning_starts,
        batch_size=a.batch_size,
        tau=a.tau,
        gamma=a.gamma,
        train_freq=a.train_freq,
        gradient_steps=a.gradient_steps,
        ent_coef=_ent_coef(a.ent_coef),
        policy_kwargs=_policy_kwargs(cfg),
        seed=cfg.seed,
        device=resolve_device(cfg.device),
        verbose=0,
    )
    if algorithm_class(a, cfg.env.pixels) is not SAC:
        kwargs["causal"] = causal_config(a.causal)
    if cfg.env.pixels:
        kwargs["shift_pad"] = int(a.encoder.shift_pad)
    return kwargs


def _policy_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"net_arch": list(cfg.agent.net_arch)}
    if cfg.env.pixels:
        enc = cfg.agent.encoder
        out["features_extractor_kwargs"] = {"features_dim": int(enc.features_dim), "n_filters": int(enc.n_filters)}
    return out


def _available_memory_bytes() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` (Linux), else ``None`` (the check below is skipped)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_replay_fits(buffer_size: int, env: VecEnv, budget: float = 0.8) -> None:
    """Refuse a replay buffer larger than ``budget`` of the available memory, before SB3 allocates it lazily and
    the run dies of memory hours later (pixel transitions cost ~127 KB each at 84x84x9: SB3 stores ``s`` and ``s'``).
    """
    spaces = getattr(env.observation_space, "spaces", {"obs": env.observation_space})
    obs_bytes = sum(int(np.prod(space.shape)) * np.dtype(space.dtype).itemsize for space in spaces.values())
    per_transition = 2 * obs_bytes + int(np.prod(env.action_space.shape)) * 4 + 8
    available = _available_memory_bytes()
    if available is None or buffer_size * per_transition <= budget * available:
        return
    fits = int(budget * available // per_transition)
    raise ConfigError(
        f"agent.buffer_size={buffer_size}: the replay buffer would need {buffer_size * per_transition / 1e9:.1f} GB "
        f"({per_transition / 1e3:.0f} KB per transition) but {available / 1e9:.1f} GB are available here; "
        f"set agent.buffer_size <= {fits}"
    )


def build_model(cfg: TrainConfig, env: VecEnv) -> OffPolicyAlgorithm:
    """A fresh, seeded algorithm for ``cfg`` (:class:`~agents.pixel_policy.PixelSACPolicy` for pixel observations);
    a replay buffer that cannot fit in this machine's memory is refused up front (:func:`check_replay_fits`)."""
    check_replay_fits(algorithm_kwargs(cfg)["buffer_size"], env)
    if cfg.env.pixels:
        from agents.pixel_policy import PixelSACPolicy

        return algorithm_class(cfg.agent, pixels=True)(PixelSACPolicy, env, **algorithm_kwargs(cfg))
    return algorithm_class(cfg.agent)("MlpPolicy", env, **algorithm_kwargs(cfg))


def on_this_machine(cfg: TrainConfig) -> TrainConfig:
    """``cfg``, or a copy with ``device=auto`` when its device is missing here (a run trained on a GPU, loaded on
    a laptop: checkpoints hold CPU tensors, so it loads anywhere); training itself keeps the strict check."""
    try:
        resolve_device(cfg.device)
    except ConfigError:
        warnings.warn(f"device={cfg.device} is not available here: loading on {resolve_device('auto')}", stacklevel=2)
        return dataclasses.replace(cfg, device="auto")
    return cfg


def load_model(cfg: TrainConfig, ckpt: Checkpoint, env: VecEnv | None = None) -> OffPolicyAlgorithm:
    """The algorithm of a checkpoint: rebuilt from ``cfg``, then its saved state loaded (no unpickling).

    ``env`` defaults to a fresh training env of ``cfg``; see :func:`agents.checkpoint.restore_checkpoint`.
    """
    from agents.checkpoint import restore_checkpoint

    cfg = on_this_machine(cfg)
    model = build_model(cfg, env if env is not None else make_vec_env(cfg, cfg.seed))
    restore_checkpoint(model, ckpt)
    return model
