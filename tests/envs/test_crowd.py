"""The ORCA circle-crossing simulator and its gymnasium env."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs.crowd import ENV_ID, CrowdCircleCrossingEnv, simulate_scenes
from envs.orca import solve_velocity

N_SCENES = 300


def _closest(raw):
    return np.linalg.norm(raw[:, 0] - raw[:, 1], axis=-1).min(axis=1)


def _speed(raw):
    return np.linalg.norm(np.diff(raw, axis=2), axis=-1)


@pytest.fixture(scope="module")
def scenes():
    return {r: simulate_scenes(N_SCENES, r, seed=0) for r in (0.1, 0.4, 0.7)}


def test_format_matches_synthetic_files(scenes):
    raw = scenes[0.1]
    assert raw.shape == (N_SCENES, 2, 20, 2) and raw.dtype == np.float64 and np.isfinite(raw).all()
    starts = np.linalg.norm(raw[:, :, 0], axis=-1)
    assert 4.0 < starts.min() and starts.max() < 5.4  # the files' start radii: 4.04-5.30 m
    assert np.allclose(_speed(raw).mean(), 0.4, atol=0.01)  # 1 m/s, 0.4 s steps


def test_deterministic_for_a_seed():
    a = simulate_scenes(20, 0.3, seed=5)
    np.testing.assert_array_equal(a, simulate_scenes(20, 0.3, seed=5))
    assert not np.array_equal(a, simulate_scenes(20, 0.3, seed=6))


def test_statistics_move_with_radius(scenes):
    closest = {r: _closest(raw) for r, raw in scenes.items()}
    # ORCA keeps agents at least 2r apart (up to the time discretisation) ...
    for r, c in closest.items():
        assert c.min() > 2 * r - 0.02
    # ... so the closest approach grows with r while walking slows down for larger radii.
    assert closest[0.1].mean() < closest[0.4].mean() < closest[0.7].mean()
    speeds = [_speed(scenes[r]).mean() for r in (0.1, 0.4, 0.7)]
    assert speeds[0] > speeds[1] > speeds[2]


def test_statistics_close_to_the_files(scenes):
    from forecasting.data import load_synthetic  # the data files are the target of the simulator

    for r in (0.1, 0.7):
        raw = load_synthetic("test", [r], max_scenes=1000).positions.astype(np.float64)
        assert abs(_closest(raw).mean() - _closest(scenes[r]).mean()) < 0.03
        assert abs(_speed(raw).mean() - _speed(scenes[r]).mean()) < 0.01


def test_more_agents_keep_their_distance():
    raw = simulate_scenes(30, 0.3, n_agents=5, seed=1)
    assert raw.shape == (30, 5, 20, 2)
    d = np.linalg.norm(raw[:, :, None] - raw[:, None], axis=-1)
    d[:, np.arange(5), np.arange(5)] = np.inf
    assert d.min() > 0.55


def test_qp_solver_hand_case():
    # One half-plane x >= 0.5 (direction (0, -1) through (0.5, 0)), preferred velocity (0, 0):
    # the closest permitted velocity is (0.5, 0). Two half-planes x >= 0.5, y >= 0.5 -> (0.5, 0.5).
    pref = np.zeros((1, 1, 2))
    point = np.array([[[[0.5, 0.0], [0.0, 0.5]]]])
    direction = np.array([[[[0.0, -1.0], [1.0, 0.0]]]])
    one = solve_velocity(point[:, :, :1], direction[:, :, :1], np.ones((1, 1, 1), bool), pref, 1.0)
    np.testing.assert_allclose(one[0, 0], [0.5, 0.0], atol=1e-9)
    two = solve_velocity(point, direction, np.ones((1, 1, 2), bool), pref, 1.0)
    np.testing.assert_allclose(two[0, 0], [0.5, 0.5], atol=1e-9)
    # Speed disc binds: x >= 0.9, y >= 0.9 is infeasible with |v| <= 1 -> least violation on the circle.
    far = solve_velocity(point * 1.8, direction, np.ones((1, 1, 2), bool), pref, 1.0)
    np.testing.assert_allclose(np.linalg.norm(far[0, 0]), 1.0, atol=1e-9)


def test_gym_env_api_and_reward():
    env = gymnasium.make(ENV_ID, radius=0.4)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert obs.shape == (10,) and obs.dtype == np.float32
    total, steps, seps = 0.0, 0, []
    terminated = truncated = False
    while not (terminated or truncated):
        obs, reward, terminated, truncated, info = env.step(np.zeros(2, dtype=np.float32))
        assert reward == pytest.approx(-info["distance_to_goal"] - (1.0 if info["collision"] else 0.0))
        total, steps = total + reward, steps + 1
        seps.append(info["min_separation"])
    assert terminated and steps < 60  # reaches the goal with the zero action
    assert min(seps) > 2 * 0.4 - 0.02
    again, _ = env.reset(seed=0)
    first, _ = env.reset(seed=0)
    np.testing.assert_array_equal(again, first)


def test_action_moves_agent_zero_and_factory():
    env = CrowdCircleCrossingEnv(radius=0.2)
    env.reset(seed=3)
    obs_zero = env.step(np.zeros(2))[0]
    env.reset(seed=3)
    obs_push = env.step(np.array([1.0, -1.0]))[0]
    assert not np.allclose(obs_zero[:2], obs_push[:2])
    np.testing.assert_array_equal(obs_zero[2:4], obs_push[2:4])  # the other agent is 9 m away
    made = envs.make(ENV_ID)
    assert made.reset(seed=0)[0].shape == (10,)
