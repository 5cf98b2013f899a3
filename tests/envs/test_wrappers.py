"""Each wrapper does what it says: action repeat, sparse reward, distractor dims, domain shift, pixels."""

from __future__ import annotations

import numpy as np
import pytest

import envs
from causal_priors.errors import EnvIdError, UserError
from envs.domain_shift import mujoco_model


def _actions(env, n, seed=0):
    env.action_space.seed(seed)
    return [env.action_space.sample() for _ in range(n)]


def test_distractor_dims_never_change_reward_or_the_task_state():
    plain, noisy = envs.make("Reacher-v5"), envs.make("Reacher-v5", distractor_dims=6, seed=1)
    o1, _ = plain.reset(seed=4)
    o2, _ = noisy.reset(seed=4)
    assert o2.shape[0] == o1.shape[0] + 6
    extra = [o2[-6:]]
    for action in _actions(plain, 40):
        s1, r1, *_ = plain.step(action)
        s2, r2, *_ = noisy.step(action)
        assert r1 == r2
        np.testing.assert_array_equal(s1, s2[:-6])
        extra.append(s2[-6:])
    extra = np.stack(extra)
    assert np.all(extra.std(axis=0) > 0), "distractor dims must move on their own"


def test_distractor_dynamics_are_seeded_by_reset():
    env = envs.make("Reacher-v5", distractor_dims=3)
    a = env.reset(seed=5)[0][-3:]
    b = env.reset(seed=5)[0][-3:]
    c = env.reset(seed=6)[0][-3:]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_sparse_reward_is_zero_below_and_one_above_threshold():
    never = envs.make("HalfCheetah-v5", sparse_reward=True, sparse_threshold=1e9)
    always = envs.make("HalfCheetah-v5", sparse_reward=True, sparse_threshold=-1e9)
    never.reset(seed=0)
    always.reset(seed=0)
    for action in _actions(never, 30):
        _, r_never, _, _, info = never.step(action)
        _, r_always, *_ = always.step(action)
        assert r_never == 0.0 and r_always == 1.0
        assert "dense_reward" in info and info["success"] is False


def test_sparse_reward_follows_the_task_signal():
    env = envs.make("Reacher-v5", sparse_reward=True)  # success: fingertip within 5 cm of the target
    env.reset(seed=0)
    for action in _actions(env, 50):
        _, reward, terminated, truncated, info = env.step(action)
        assert reward == float(info["success"])
        if terminated or truncated:
            break


def test_sparse_reward_needs_a_threshold_for_unknown_families():
    with pytest.raises(EnvIdError, match="sparse_threshold"):
        envs.make("CartPole-v1", sparse_reward=True)


def test_action_repeat_sums_the_rewards_of_the_repeated_steps():
    k = 3
    base, rep = envs.make("HalfCheetah-v5"), envs.make("HalfCheetah-v5", action_repeat=k)
    base.reset(seed=1)
    rep.reset(seed=1)
    for action in _actions(base, 10):
        expected = sum(base.step(action)[1] for _ in range(k))
        obs_rep, reward, *_ = rep.step(action)
        assert reward == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(obs_rep, base.unwrapped._get_obs(), rtol=1e-6)


def test_domain_shift_scales_the_named_model_parameters():
    nominal = mujoco_model(envs.make("Hopper-v5"))
    shift = {"mass": 1.5, "friction": 0.5, "gravity": 2.0, "actuator_gain": 0.8}
    env = envs.make("Hopper-v5", domain_shift=shift)
    model = mujoco_model(env)
    np.testing.assert_allclose(model.body_mass, nominal.body_mass * 1.5)
    np.testing.assert_allclose(model.geom_friction, nominal.geom_friction * 0.5)
    np.testing.assert_allclose(model.opt.gravity, nominal.opt.gravity * 2.0)
    np.testing.assert_allclose(model.actuator_gainprm[:, 0], nominal.actuator_gainprm[:, 0] * 0.8)
    env.reset(seed=0)
    np.testing.assert_allclose(model.body_mass, nominal.body_mass * 1.5)  # still shifted after reset


def test_domain_shift_changes_the_dynamics_and_works_for_dm_control():
    def first_obs_after_push(**options):
        env = envs.make("dm_control/cartpole-swingup-v0", **options)
        env.reset(seed=0)
        for _ in range(20):
            obs, *_ = env.step(np.ones(env.action_space.shape, dtype=np.float32))
        return obs

    nominal = first_obs_after_push()
    heavy = first_obs_after_push(domain_shift={"mass": 3.0})
    assert not np.allclose(nominal, heavy)


def test_domain_shift_rejects_bad_factors_and_keys():
    with pytest.raises(UserError, match="mass.*> 0"):
        envs.make("Hopper-v5", domain_shift={"mass": 0.0})
    with pytest.raises(EnvIdError, match="domain_shift key"):
        envs.make("Hopper-v5", domain_shift={"density": 2.0})


def test_pixels_and_distractors_cannot_combine():
    with pytest.raises(EnvIdError, match="distractor_dims needs state observations"):
        envs.make("Reacher-v5", pixels=True, distractor_dims=2)
