"""Pixel observations with the simulator's state alongside: ``envs.make(id, pixels=True)``.

Observation (a :class:`gymnasium.spaces.Dict`, one per step after action repeat)::

    {"pixels": (3 * frame_stack, image_size, image_size) uint8   # the last frames, oldest first, channels first
     "state":  (|S|,) float32}                                   # the simulator's flat state observation

``pixels`` is what every agent learns from. ``state`` is the **privileged** low-dimensional view: the policy
never reads it (the pixel encoder only encodes ``pixels``); CIP's causal parts fit their graph, inverse model and
local-validity dynamics model on it by default (``agent.causal.view=state``, see docs/cip.md). Keeping it in
the observation (not in ``info``) is what lets the replay buffer store it next to each frame stack, so that a
sampled transition carries both views of the same moment.

Frames are rendered with ``MUJOCO_GL=egl`` (set if unset) at ``image_size`` directly by the simulator's
renderer (no resize); dm_control ids use camera 0; gymnasium MuJoCo ids use their free camera, whose look-at point
gymnasium sets from the state at the renderer's first frame: :func:`fix_free_camera` sets it from the model's
initial state instead, so that a frame depends on the simulator's state only (not on the run's history; exact
resume needs that).
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from causal_priors.errors import EnvIdError

PIXELS_KEY = "pixels"
"""Observation key of the stacked frames."""
STATE_KEY = "state"
"""Observation key of the simulator's flat state (the privileged causal view)."""


def render_kwargs(env_id: str, image_size: int) -> dict[str, Any]:
    """Constructor arguments that make ``env_id`` render ``image_size`` square RGB frames (sets ``MUJOCO_GL``)."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    if env_id.startswith("dm_control/"):
        return {
            "render_mode": "rgb_array",
            "render_kwargs": {"width": image_size, "height": image_size, "camera_id": 0},
        }
    return {"render_mode": "rgb_array", "width": image_size, "height": image_size}


def fix_free_camera(env: gym.Env) -> None:
    """Point a gymnasium MuJoCo env's free camera at the median geom position of the model's initial state.

    Gymnasium's renderer takes that median from the *current* state when it draws its first frame, so two envs
    in the same state rendered differently if their first frames came from different states. No-op for envs
    without a gymnasium MuJoCo renderer (dm_control ids render fixed cameras).
    """
    renderer = getattr(env.unwrapped, "mujoco_renderer", None)
    if renderer is None:
        return
    viewer = renderer._get_viewer("rgb_array")  # gymnasium builds the viewer (and its camera) on first use
    model = env.unwrapped.model
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    viewer.cam.lookat[:] = np.median(data.geom_xpos, axis=0)


class PixelStateObservation(gym.Wrapper):
    """Observe ``{"pixels": the last frame_stack rendered frames, "state": the flat state}`` (module doc).

    Args:
        env: an env built with ``render_mode="rgb_array"`` at ``image_size`` (see :func:`render_kwargs`).
        image_size: side of the square frames.
        frame_stack: how many consecutive frames are stacked along the channel axis (1 = the current frame).
    """

    def __init__(self, env: gym.Env, image_size: int = 84, frame_stack: int = 3) -> None:
        super().__init__(env)
        if image_size < 8 or frame_stack < 1:
            raise EnvIdError(f"env.image_size must be >= 8 and env.frame_stack >= 1, got {image_size}, {frame_stack}")
        self.image_size, self.frame_stack = int(image_size), int(frame_stack)
        self._inner = env.observation_space
        dim = int(spaces.flatdim(self._inner))
        self._frames: deque[np.ndarray] = deque(maxlen=self.frame_stack)
        fix_free_camera(env)
        self.observation_space = spaces.Dict(
            {
                PIXELS_KEY: spaces.Box(0, 255, shape=(3 * self.frame_stack, image_size, image_size), dtype=np.uint8),
                STATE_KEY: spaces.Box(-np.inf, np.inf, shape=(dim,), dtype=np.float32),
            }
        )

    def _frame(self) -> np.ndarray:
        frame = np.asarray(self.env.render())
        if frame.shape != (self.image_size, self.image_size, 3):
            raise EnvIdError(
                f"rendered frame has shape {frame.shape}, expected ({self.image_size}, {self.image_size}, 3)"
            )
        return np.ascontiguousarray(frame.transpose(2, 0, 1))

    def _observation(self, state: Any) -> dict[str, np.ndarray]:
        return {
            PIXELS_KEY: np.concatenate(list(self._frames), axis=0),
            STATE_KEY: np.asarray(spaces.flatten(self._inner, state), dtype=np.float32),
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        state, info = self.env.reset(seed=seed, options=options)
        frame = self._frame()
        for _ in range(self.frame_stack):
            self._frames.append(frame)
        return self._observation(state), info

    def step(self, action: Any):
        state, reward, terminated, truncated, info = self.env.step(action)
        self._frames.append(self._frame())
        return self._observation(state), reward, terminated, truncated, info


def is_pixel_space(space: spaces.Space) -> bool:
    """Whether ``space`` is the observation space of :class:`PixelStateObservation`."""
    return isinstance(space, spaces.Dict) and PIXELS_KEY in space.spaces and STATE_KEY in space.spaces
