"""envs.make: every id family builds and steps; unknown ids and options fail clearly."""

from __future__ import annotations

import numpy as np
import pytest

import envs
from causal_priors.errors import EnvIdError

IDS = [
    "HalfCheetah-v5",
    "Hopper-v5",
    "Walker2d-v5",
    "Ant-v5",
    "Humanoid-v5",
    "Reacher-v5",
    "Pendulum-v1",
    "dm_control/cartpole-swingup-v0",
    "dm_control/reacher-easy-v0",
    "dm_control/cheetah-run-v0",
    "CrowdCircleCrossing-v0",
]


@pytest.mark.parametrize("env_id", IDS)
def test_every_family_builds_and_steps_with_flat_float32_obs(env_id):
    env = envs.make(env_id)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs.ndim == 1
    assert env.observation_space.shape == obs.shape and env.observation_space.contains(obs)
    for _ in range(5):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert np.isfinite(reward) and obs.shape == env.observation_space.shape
    env.close()


@pytest.mark.parametrize("env_id", ["HalfCheetah-v5", "dm_control/cartpole-swingup-v0"])
def test_control_suites_end_episodes_after_1000_steps(env_id):
    env = envs.make(env_id)
    env.reset(seed=0)
    action = np.zeros(env.action_space.shape, dtype=np.float32)
    for step in range(1, 1001):  # noqa: B007 (read after the loop)
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
    assert step == 1000 and truncated and not terminated


def test_max_episode_steps_counts_agent_steps_under_action_repeat():
    env = envs.make("HalfCheetah-v5", action_repeat=3, max_episode_steps=7)
    env.reset(seed=0)
    steps = 0
    while True:
        steps += 1
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            break
    assert steps == 7


def test_same_seed_same_trajectory():
    def rollout():
        env = envs.make("Hopper-v5", distractor_dims=2, seed=3)
        obs = [env.reset(seed=11)[0]]
        env.action_space.seed(5)
        for _ in range(20):
            obs.append(env.step(env.action_space.sample())[0])
        return np.stack(obs)

    np.testing.assert_array_equal(rollout(), rollout())


def test_unknown_id_lists_close_matches():
    with pytest.raises(EnvIdError, match=r"unknown environment id 'HalfChetah-v5'.*HalfCheetah-v5"):
        envs.make("HalfChetah-v5")


def test_unknown_dm_control_task_lists_close_matches():
    with pytest.raises(EnvIdError, match=r"dm_control/cartpole-swingup-v0"):
        envs.make("dm_control/cartpole-swingupp-v0")


def test_unknown_option_lists_close_matches():
    with pytest.raises(EnvIdError, match=r"unknown env option.*distractor_dims"):
        envs.make("Hopper-v5", distractors=3)


def test_constructor_kwargs_pass_through_and_bad_ones_fail():
    env = envs.make("CrowdCircleCrossing-v0", kwargs={"radius": 0.6})
    assert env.unwrapped.radius == pytest.approx(0.6)
    with pytest.raises(EnvIdError, match="does not accept env.kwargs"):
        envs.make("Hopper-v5", kwargs={"not_an_arg": 1})


def test_make_from_config_matches_make():
    from envs.config import EnvConfig

    cfg = EnvConfig(id="Reacher-v5", distractor_dims=4)
    a, b = envs.make_from_config(cfg, seed=1), envs.make("Reacher-v5", distractor_dims=4, seed=1)
    np.testing.assert_array_equal(a.reset(seed=2)[0], b.reset(seed=2)[0])
