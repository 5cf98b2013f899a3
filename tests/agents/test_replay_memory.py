"""A replay buffer that cannot fit in memory is refused before SB3 allocates it (it allocates lazily)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.vec_env import DummyVecEnv

from agents import factory
from causal_priors.errors import ConfigError


class _PixelLike(gym.Env):
    """A dict observation like a pixel run's: 9x84x84 uint8 frames plus the flat state."""

    observation_space = spaces.Dict(
        {
            "pixels": spaces.Box(0, 255, (9, 84, 84), np.uint8),
            "state": spaces.Box(-np.inf, np.inf, (11,), np.float32),
        }
    )
    action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}


def test_a_pixel_buffer_larger_than_memory_is_refused_with_the_size_that_fits(monkeypatch):
    env = DummyVecEnv([_PixelLike])
    monkeypatch.setattr(factory, "_available_memory_bytes", lambda: 4 * 10**9)
    per_transition = 2 * (9 * 84 * 84 + 11 * 4) + 2 * 4 + 8
    fits = int(0.8 * 4 * 10**9 // per_transition)
    with pytest.raises(ConfigError, match=rf"agent\.buffer_size=1000000: .* set agent\.buffer_size <= {fits}$"):
        factory.check_replay_fits(1_000_000, env)
    factory.check_replay_fits(fits, env)  # the size it names fits


def test_state_buffers_and_unknown_memory_pass(monkeypatch):
    env = DummyVecEnv([lambda: gym.make("Pendulum-v1")])
    monkeypatch.setattr(factory, "_available_memory_bytes", lambda: 4 * 10**9)
    factory.check_replay_fits(1_000_000, env)  # 3 floats per observation: 32 MB
    monkeypatch.setattr(factory, "_available_memory_bytes", lambda: None)
    factory.check_replay_fits(10**9, DummyVecEnv([_PixelLike]))
