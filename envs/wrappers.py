"""Composable wrappers, one concern each: action repeat, sparse reward, distractor dims, flat float32 obs
(pixels: :mod:`envs.pixels`)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from causal_priors.errors import EnvIdError

#: Task family -> (signal, threshold): the reward is 1 when the signal reaches the threshold, else 0.
#: ``signal`` is an ``info`` key or ``"reward"`` (the dense reward itself).
SPARSE_DEFAULTS: dict[str, tuple[str, float]] = {
    "HalfCheetah": ("x_velocity", 2.0),
    "Hopper": ("x_velocity", 1.0),
    "Walker2d": ("x_velocity", 1.0),
    "Ant": ("x_velocity", 1.0),
    "Humanoid": ("x_velocity", 1.0),
    "Swimmer": ("x_velocity", 0.2),
    "Reacher": ("reward_dist", -0.05),  # distance to target below 5 cm
    "Pusher": ("reward_dist", -0.2),
    "Pendulum": ("reward", -0.5),
    "dm_control": ("reward", 0.9),  # dm_control rewards lie in [0, 1]
    "metaworld": ("success", 1.0),  # success only: info["success"] is 0.0 or 1.0
}


def sparse_default(env_id: str) -> tuple[str, float]:
    """The success signal and threshold of an env id's task family."""
    family = env_id.split("/")[0] if env_id.startswith(("dm_control/", "metaworld/")) else env_id.split("-")[0]
    if family not in SPARSE_DEFAULTS:
        raise EnvIdError(
            f"no default sparse-reward threshold for '{env_id}'; set env.sparse_threshold "
            f"(families with defaults: {sorted(SPARSE_DEFAULTS)})"
        )
    return SPARSE_DEFAULTS[family]


class ActionRepeat(gym.Wrapper):
    """Apply each action ``repeat`` times; rewards are summed, the episode stops at the first end.

    ``info["success"]``, when the env reports it, is true if any of the repeated steps succeeded.
    """

    def __init__(self, env: gym.Env, repeat: int) -> None:
        super().__init__(env)
        if repeat < 1:
            raise EnvIdError(f"env.action_repeat must be >= 1, got {repeat}")
        self.repeat = repeat

    def step(self, action: Any):
        total, success = 0.0, False
        for _ in range(self.repeat):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            success = success or bool(info.get("success", False))
            if terminated or truncated:
                break
        if "success" in info:
            info = dict(info, success=float(success))
        return obs, total, terminated, truncated, info


class SparseReward(gym.Wrapper):
    """Reward 1.0 when the success signal reaches ``threshold``, else 0.0; the dense reward stays in ``info``."""

    def __init__(self, env: gym.Env, signal: str, threshold: float) -> None:
        super().__init__(env)
        self.signal = signal
        self.threshold = float(threshold)

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        value = float(reward) if self.signal == "reward" else float(info.get(self.signal, -np.inf))
        info = dict(info, dense_reward=float(reward), success=value >= self.threshold)
        return obs, float(value >= self.threshold), terminated, truncated, info


class DistractorDims(gym.ObservationWrapper):
    """Append ``k`` state dims with their own random dynamics, independent of actions and reward.

    Each dim follows x' = a * x + sigma * eps with per-dim a in [0.8, 0.99] and Laplace noise (non-Gaussian,
    as LiNGAM assumes); parameters are fixed at construction from ``seed``, the noise comes from the
    wrapper's own generator, re-seeded by ``reset(seed=...)``. They are a controlled test bed: a causal
    method must find that these dims never matter for reward.
    """

    def __init__(self, env: gym.Env, k: int, seed: int = 0) -> None:
        super().__init__(env)
        if k < 0:
            raise EnvIdError(f"env.distractor_dims must be >= 0, got {k}")
        box = env.observation_space
        if not isinstance(box, spaces.Box) or len(box.shape) != 1:
            raise EnvIdError("distractor dims need a flat vector observation (not pixels)")
        self.k = k
        params = np.random.default_rng(seed)
        self.coef = params.uniform(0.8, 0.99, size=k)
        self.scale = params.uniform(0.1, 0.5, size=k)
        self._rng = np.random.default_rng(seed)
        self._state = np.zeros(k)
        low = np.concatenate([box.low, np.full(k, -np.inf)]).astype(np.float32)
        high = np.concatenate([box.high, np.full(k, np.inf)]).astype(np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed + 7919)
        self._state = self._rng.laplace(0.0, 1.0, size=self.k)
        return super().reset(seed=seed, options=options)

    def step(self, action: Any):
        self._state = self.coef * self._state + self.scale * self._rng.laplace(0.0, 1.0, size=self.k)
        return super().step(action)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.concatenate([observation, self._state]).astype(np.float32)


class FlatFloat32(gym.ObservationWrapper):
    """Flatten dict or multi-dim observations (dm_control) into one float32 vector."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._inner = env.observation_space
        dim = int(spaces.flatdim(self._inner))
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(dim,), dtype=np.float32)

    def observation(self, observation: Any) -> np.ndarray:
        return np.asarray(spaces.flatten(self._inner, observation), dtype=np.float32)
