"""Pixel observations: stacked uint8 frames of the requested size next to the simulator's flat state."""

from __future__ import annotations

import numpy as np
import pytest

import envs
from causal_priors.errors import UserError
from envs.pixels import PIXELS_KEY, STATE_KEY, is_pixel_space


def _renderer_available() -> bool:
    try:
        env = envs.make("Reacher-v5", pixels=True, image_size=16)
        env.reset(seed=0)
        env.close()
        return True
    except Exception:
        return False


needs_renderer = pytest.mark.skipif(
    not _renderer_available(), reason="no headless OpenGL renderer (EGL/OSMesa) on this machine"
)


@needs_renderer
def test_default_pixels_are_three_stacked_84x84_frames_with_the_state():
    env = envs.make("Reacher-v5", pixels=True)
    assert is_pixel_space(env.observation_space)
    obs, _ = env.reset(seed=0)
    assert obs[PIXELS_KEY].shape == (9, 84, 84) and obs[PIXELS_KEY].dtype == np.uint8
    assert np.array_equal(obs[PIXELS_KEY][:3], obs[PIXELS_KEY][6:])  # reset fills the stack with the first frame
    obs2, *_ = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs2) and obs2[PIXELS_KEY].std() > 0
    assert np.array_equal(obs2[PIXELS_KEY][:6], obs[PIXELS_KEY][3:])  # the stack shifts by one frame
    env.close()


@needs_renderer
def test_state_channel_equals_the_state_observation_of_the_same_seed():
    pixel_env = envs.make("Reacher-v5", pixels=True, image_size=24, frame_stack=2)
    state_env = envs.make("Reacher-v5")
    obs, _ = pixel_env.reset(seed=3)
    state, _ = state_env.reset(seed=3)
    assert obs[PIXELS_KEY].shape == (6, 24, 24)
    np.testing.assert_allclose(obs[STATE_KEY], state, rtol=1e-6)
    action = np.full(pixel_env.action_space.shape, 0.3, dtype=np.float32)
    obs, r_pix, *_ = pixel_env.step(action)
    state, r_state, *_ = state_env.step(action)
    np.testing.assert_allclose(obs[STATE_KEY], state, rtol=1e-6)
    assert r_pix == pytest.approx(r_state)
    pixel_env.close()
    state_env.close()


@needs_renderer
def test_dm_control_pixels_with_action_repeat():
    env = envs.make("dm_control/reacher-easy-v0", pixels=True, image_size=32, action_repeat=2, max_episode_steps=5)
    obs, _ = env.reset(seed=0)
    assert obs[PIXELS_KEY].shape == (9, 32, 32) and obs[STATE_KEY].shape == (6,)
    steps = 0
    while True:
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        if terminated or truncated:
            break
    assert steps == 5 and obs[PIXELS_KEY].std() > 0
    env.close()


def test_bad_pixel_options_are_refused():
    with pytest.raises(UserError, match="image_size"):
        envs.make("Reacher-v5", pixels=True, image_size=0)
    with pytest.raises(UserError, match="frame_stack"):
        envs.make("Reacher-v5", pixels=True, frame_stack=0)
