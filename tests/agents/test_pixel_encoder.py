"""The pixel encoder and its augmentation: random shift keeps shape and is seeded; the encoder is shared by actor
and critic and trained by the critic loss only (DrQ-v2's convention)."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from gymnasium import spaces

from agents.encoder import PixelEncoder, random_shift
from agents.pixel_policy import PixelSACPolicy
from envs.pixels import PIXELS_KEY, STATE_KEY


def _images(batch=6, channels=9, size=20, seed=0):
    gen = th.Generator().manual_seed(seed)
    return th.randint(0, 256, (batch, channels, size, size), generator=gen, dtype=th.uint8)


def test_random_shift_keeps_shape_and_dtype_and_is_seeded():
    images = _images()
    a = random_shift(images, 4, th.Generator().manual_seed(1))
    b = random_shift(images, 4, th.Generator().manual_seed(1))
    c = random_shift(images, 4, th.Generator().manual_seed(2))
    assert a.shape == images.shape and a.dtype == th.uint8
    assert th.equal(a, b) and not th.equal(a, c)
    assert random_shift(images, 0) is images


def test_random_shift_is_an_integer_crop_of_the_replicate_padded_image():
    images = _images(batch=32, size=12).float()
    pad = 2
    shifted = random_shift(images, pad, th.Generator().manual_seed(0))
    padded = th.nn.functional.pad(images, (pad, pad, pad, pad), mode="replicate")
    offsets = set()
    for i in range(len(images)):
        crops = [
            (dy, dx)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            if th.equal(padded[i, :, dy : dy + 12, dx : dx + 12], shifted[i])
        ]
        assert crops, f"image {i} is not a crop"
        offsets.add(crops[0])
    assert len(offsets) > 5  # offsets differ between images of one batch


def _policy(size=16):
    th.manual_seed(0)  # the networks' initialisation: a dead unit's zero gradient must not depend on the run order
    space = spaces.Dict(
        {
            PIXELS_KEY: spaces.Box(0, 255, (9, size, size), np.uint8),
            STATE_KEY: spaces.Box(-np.inf, np.inf, (4,), np.float32),
        }
    )
    action_space = spaces.Box(-1, 1, (2,), np.float32)
    policy = PixelSACPolicy(
        space,
        action_space,
        lambda _: 1e-3,
        net_arch=[16],
        features_extractor_kwargs={"features_dim": 8, "n_filters": 4},
    )
    obs = {
        PIXELS_KEY: _images(batch=5, size=size).float() / 255.0,
        STATE_KEY: th.randn(5, 4),
    }
    return policy, obs


def test_encoder_is_shared_and_only_in_the_critic_optimizer():
    policy, _ = _policy()
    encoder = policy.encoder
    assert isinstance(encoder, PixelEncoder) and encoder.features_dim == 8
    assert policy.actor.features_extractor is encoder and policy.critic.features_extractor is encoder
    assert policy.critic_target.features_extractor is not encoder
    enc_ids = {id(p) for p in encoder.parameters()}
    actor_opt = {id(p) for group in policy.actor.optimizer.param_groups for p in group["params"]}
    critic_opt = {id(p) for group in policy.critic.optimizer.param_groups for p in group["params"]}
    assert enc_ids <= critic_opt and not enc_ids & actor_opt
    assert {id(p) for p in policy.actor.mu.parameters()} <= actor_opt


def test_critic_loss_trains_the_encoder_and_the_actor_loss_does_not():
    policy, obs = _policy()
    actions = th.rand(5, 2) * 2 - 1
    q1, q2 = policy.critic(obs, actions)
    (q1.mean() + q2.mean()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.encoder.parameters())
    policy.zero_grad(set_to_none=True)
    actions_pi, log_prob = policy.actor.action_log_prob(obs)
    with policy.critic.frozen_encoder():
        q_pi = th.cat(policy.critic(obs, actions_pi), dim=1)
    (log_prob.mean() - q_pi.mean()).backward()
    assert all(p.grad is None for p in policy.encoder.parameters())
    assert policy.actor.mu.weight.grad is not None and policy.critic.qf0[0].weight.grad is not None


def test_encoder_ignores_the_state_key():
    policy, obs = _policy()
    other = dict(obs, **{STATE_KEY: obs[STATE_KEY] + 100.0})
    assert th.equal(policy.encoder(obs), policy.encoder(other))


@pytest.mark.parametrize("size", [32, 84])
def test_encoder_output_shape(size):
    policy, obs = _policy(size)
    assert policy.encoder(obs).shape == (5, 8)
