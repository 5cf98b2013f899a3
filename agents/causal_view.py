"""The low-dimensional view the causal parts of a CausalSAC work on, and the pixel-batch augmentation.

With flat state observations the view is the observation itself. With the ``{"pixels", "state"}`` observations
of :mod:`envs.pixels` (``causal.view``, docs/cip.md):

* ``state`` (default): the simulator's state stored next to each frame stack (privileged information);
* ``features``: the shared encoder's output, computed without gradient by the encoder as it is *now* (so a graph
  fitted on it describes the encoder of the last refit).

The same view feeds the causal graph and the local-validity dynamics model (numpy, at refits: :meth:`stored`)
and the inverse-dynamics model of empowerment (torch, in every update: :meth:`__call__`, on the policy device).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.type_aliases import DictReplayBufferSamples, ReplayBufferSamples

from agents.encoder import random_shift
from envs.pixels import PIXELS_KEY, STATE_KEY, is_pixel_space

PIXELS_INACTIVE_REASON = "pixels: state dims cannot be swapped inside images; no counterfactual batches"
"""Logged as ``causal/augment_inactive_reason`` when ``causal.augment`` is on with pixel observations."""

ENCODE_CHUNK = 256
"""Frames per encoder call when a refit encodes the replay window (``view=features``)."""


class CausalView:
    """Maps observations (tensors of a batch, or stored numpy rows) to the causal parts' low-dimensional view.

    Args:
        observation_space: the agent's observation space (flat ``Box`` or the pixel ``Dict``).
        name: ``state`` or ``features`` (ignored for flat observations, whose view is the observation).
        policy: the SAC policy; with ``features`` its ``encoder`` computes the view.
    """

    def __init__(self, observation_space: spaces.Space, name: str, policy: Any) -> None:
        self.pixels = is_pixel_space(observation_space)
        self.name = name if self.pixels else "observation"
        self.policy = policy
        if not self.pixels:
            self.dim = int(np.prod(observation_space.shape))
        elif name == "state":
            self.dim = int(observation_space[STATE_KEY].shape[0])
        else:
            self.dim = int(policy.encoder.features_dim)

    def __call__(self, obs: Any) -> th.Tensor:
        """``(batch, dim)`` view of a batch of observations (tensors on the policy device), no gradient to the
        encoder."""
        if not self.pixels:
            return obs
        if self.name == "state":
            return obs[STATE_KEY]
        with th.no_grad():
            return self.policy.encoder({PIXELS_KEY: obs[PIXELS_KEY].float() / 255.0})

    def stored(self, observations: Any) -> np.ndarray:
        """``(rows, dim)`` float64 view of stored observations (an array or a dict of arrays whose leading axes,
        e.g. ``(slots, n_envs)``, are flattened into rows)."""
        if not self.pixels:
            return observations.reshape(-1, self.dim).astype(np.float64)
        if self.name == "state":
            return observations[STATE_KEY].reshape(-1, self.dim).astype(np.float64)
        frames = observations[PIXELS_KEY]
        frames = frames.reshape(-1, *frames.shape[-3:])
        out = np.empty((len(frames), self.dim), dtype=np.float64)
        for start in range(0, len(frames), ENCODE_CHUNK):
            chunk = th.as_tensor(frames[start : start + ENCODE_CHUNK], device=self.policy.device)
            out[start : start + ENCODE_CHUNK] = self({PIXELS_KEY: chunk}).cpu().numpy()
        return out

    def shifted(self, data: Any, pad: int, generator: th.Generator) -> Any:
        """The batch with DrQ-v2's random shift applied to the frames of ``s`` and ``s'`` (independent offsets)."""
        if not self.pixels or pad <= 0:
            return data
        obs, next_obs = dict(data.observations), dict(data.next_observations)
        obs[PIXELS_KEY] = random_shift(obs[PIXELS_KEY], pad, generator)
        next_obs[PIXELS_KEY] = random_shift(next_obs[PIXELS_KEY], pad, generator)
        fields = data._asdict()
        fields.update(observations=obs, next_observations=next_obs)
        cls = DictReplayBufferSamples if isinstance(data, DictReplayBufferSamples) else ReplayBufferSamples
        return cls(**fields)

    @contextmanager
    def frozen_encoder(self, critic: Any) -> Iterator[None]:
        """Block in which the pixel critic computes features without gradient (a no-op for flat observations)."""
        with critic.frozen_encoder() if self.pixels else nullcontext():
            yield
