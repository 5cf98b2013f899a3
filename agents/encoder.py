"""The pixel encoder (DrQ-v2 style) and its random-shift augmentation.

:class:`PixelEncoder` is an SB3 features extractor for the ``{"pixels", "state"}`` observations of
:mod:`envs.pixels`: it encodes ``pixels`` only (the privileged ``state`` never reaches the policy) with DrQ-v2's
conv stack (four 3x3 convolutions of ``n_filters`` = 32 channels, the first with stride 2, ReLU) followed by a
trunk ``Linear -> LayerNorm -> tanh`` to ``features_dim`` (DrQ-v2 puts one trunk in the actor and one in the
critic; here the trunk is part of the shared extractor, as in DrQ and SAC-AE, so that ``causal.view=features``
has one feature vector to fit a graph on).

:func:`random_shift` is DrQ-v2's augmentation: pad each image by ``pad`` pixels (edge replicate) and crop it
back at an integer offset drawn per image; one gather for the whole batch, on the images' device, with the
caller's :class:`torch.Generator` (seeded, saved in checkpoints).
"""

from __future__ import annotations

import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn
from torch.nn import functional as F

from envs.pixels import PIXELS_KEY


class PixelEncoder(BaseFeaturesExtractor):
    """DrQ-v2 conv stack + trunk on ``obs["pixels"]`` (already scaled to [0, 1] by SB3's ``preprocess_obs``).

    Args:
        observation_space: the ``Dict`` space of :class:`envs.pixels.PixelStateObservation`.
        features_dim: size of the trunk's output (DrQ-v2's ``feature_dim``: 50).
        n_filters: channels of every convolution (DrQ-v2: 32).
    """

    def __init__(self, observation_space: spaces.Dict, features_dim: int = 50, n_filters: int = 32) -> None:
        super().__init__(observation_space, features_dim)
        channels, height, width = observation_space[PIXELS_KEY].shape
        self.convs = nn.Sequential(
            nn.Conv2d(channels, n_filters, 3, stride=2),
            nn.ReLU(),
            nn.Conv2d(n_filters, n_filters, 3, stride=1),
            nn.ReLU(),
            nn.Conv2d(n_filters, n_filters, 3, stride=1),
            nn.ReLU(),
            nn.Conv2d(n_filters, n_filters, 3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with th.no_grad():
            conv_dim = int(self.convs(th.zeros(1, channels, height, width)).shape[1])
        self.trunk = nn.Sequential(nn.Linear(conv_dim, features_dim), nn.LayerNorm(features_dim), nn.Tanh())

    def forward(self, observations: dict[str, th.Tensor]) -> th.Tensor:
        """``(batch, features_dim)`` features of the frames (centred to [-0.5, 0.5] as in DrQ-v2)."""
        return self.trunk(self.convs(observations[PIXELS_KEY] - 0.5))


def random_shift(images: th.Tensor, pad: int, generator: th.Generator | None = None) -> th.Tensor:
    """Each image of ``images (batch, C, H, W)`` shifted by its own integer offset in ``[-pad, pad]`` per axis.

    Edge pixels are replicated into the border, as in DrQ-v2. Same shape and dtype as the input; ``pad=0``
    returns the input unchanged. Offsets come from ``generator`` (on the images' device).
    """
    if pad <= 0:
        return images
    batch, _, height, width = images.shape
    source = images if images.is_floating_point() else images.float()
    padded = F.pad(source, (pad, pad, pad, pad), mode="replicate")
    offsets = th.randint(0, 2 * pad + 1, (2, batch), generator=generator, device=images.device)
    rows = offsets[0][:, None] + th.arange(height, device=images.device)[None, :]  # (batch, H)
    cols = offsets[1][:, None] + th.arange(width, device=images.device)[None, :]  # (batch, W)
    index = th.arange(batch, device=images.device)[:, None, None]
    shifted = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]]  # (batch, H, W, C)
    return shifted.permute(0, 3, 1, 2).to(images.dtype).contiguous()
