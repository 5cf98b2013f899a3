"""Circle-crossing crowd simulator (ORCA) and its gymnasium env ``CrowdCircleCrossing-v0``.

Scenes follow the synthetic forecasting data (``synthetic_v4``): pedestrians start on a circle of radius
``circle_radius`` (4.65 m, jittered uniformly by +-0.5 m in x and y, which reproduces the files' start radii
4.0-5.3 m), each walks at 1 m/s (0.4 m per 0.4 s step) towards the antipode of its own start, and they
avoid each other with ORCA (time horizon 2 s) using the agent radius ``radius``: the minimum separation is
about ``2 * radius``, the behavioural *style* that defines a domain. Agents are spread evenly around the
circle plus an angular jitter (two agents: antipodal +- 0.8 rad, as in the files).

``simulate_scenes`` produces arrays in the files' ``raw`` format, ``(scenes, agents, steps, 2)`` float64,
vectorised over scenes. This module imports nothing from ``forecasting/``.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from causal_priors.errors import EnvIdError
from envs.orca import orca_step

ENV_ID = "CrowdCircleCrossing-v0"
CIRCLE_RADIUS = 4.65
START_JITTER = 0.5
ANGLE_JITTER = 0.8
SPEED = 1.0
TIME_HORIZON = 2.0
POSITION_BOUND = 100.0  # m; the registered 60-step limit keeps agents within ~30 m of the centre


def sample_circle_crossing(
    rng: np.random.Generator,
    n_scenes: int,
    n_agents: int = 2,
    *,
    circle_radius: float = CIRCLE_RADIUS,
    start_jitter: float = START_JITTER,
    angle_jitter: float = ANGLE_JITTER,
) -> tuple[np.ndarray, np.ndarray]:
    """Start positions and goals ``(n_scenes, n_agents, 2)``; each goal is the antipode of its start.

    Agent ``k`` sits at angle ``base + 2 pi k / n + U(-a, a)`` with ``a = angle_jitter * 2 / n`` on the
    circle, then moves by ``U(-start_jitter, start_jitter)`` in x and in y.
    """
    base = rng.uniform(0.0, 2.0 * np.pi, size=(n_scenes, 1))
    spread = angle_jitter * 2.0 / n_agents
    angles = base + 2.0 * np.pi * np.arange(n_agents) / n_agents
    angles = angles + rng.uniform(-spread, spread, size=(n_scenes, n_agents)) * (np.arange(n_agents) > 0)
    starts = circle_radius * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    starts = starts + rng.uniform(-start_jitter, start_jitter, size=starts.shape)
    return starts, -starts


def preferred_velocity(pos: np.ndarray, goal: np.ndarray, speed: float, dt: float) -> np.ndarray:
    """Velocity towards the goal at ``speed``, slowed so as not to overshoot it within ``dt``."""
    to_goal = goal - pos
    dist = np.linalg.norm(to_goal, axis=-1, keepdims=True)
    step_speed = np.minimum(speed, dist / dt)
    return to_goal / np.maximum(dist, 1e-9) * step_speed


def simulate_scenes(
    n_scenes: int,
    radius: float,
    *,
    n_agents: int = 2,
    seed: int,
    steps: int = 20,
    dt: float = 0.4,
    substeps: int = 10,
    speed: float = SPEED,
    time_horizon: float = TIME_HORIZON,
    circle_radius: float = CIRCLE_RADIUS,
) -> np.ndarray:
    """Simulate circle-crossing scenes with ORCA.

    Args:
        n_scenes: number of scenes (simulated together, vectorised).
        radius: ORCA agent radius (m); the minimum separation is about ``2 * radius``.
        n_agents: pedestrians per scene.
        seed: seed of the start configurations (the simulation itself is deterministic).
        steps: recorded positions per agent, the first one being the start.
        dt: recording interval (s); each interval is integrated with ``substeps`` ORCA steps.
        speed: preferred (and maximal) walking speed (m/s).
        time_horizon: ORCA look-ahead (s).
        circle_radius: radius of the start circle (m).

    Returns:
        ``(n_scenes, n_agents, steps, 2)`` float64 positions, the synthetic files' ``raw`` format.
    """
    if n_scenes < 1 or n_agents < 1 or steps < 1 or substeps < 1:
        raise ValueError(
            f"simulate_scenes: n_scenes, n_agents, steps, substeps must be >= 1, got "
            f"{n_scenes}, {n_agents}, {steps}, {substeps}"
        )
    if radius < 0:
        raise ValueError(f"simulate_scenes: radius must be >= 0, got {radius}")
    rng = np.random.default_rng(seed)
    pos, goal = sample_circle_crossing(rng, n_scenes, n_agents, circle_radius=circle_radius)
    vel = np.zeros_like(pos)
    h = dt / substeps
    out = np.empty((n_scenes, n_agents, steps, 2))
    out[:, :, 0] = pos
    for t in range(1, steps):
        for _ in range(substeps):
            pref = preferred_velocity(pos, goal, speed, h)
            vel = orca_step(pos, vel, pref, radius, time_horizon=time_horizon, dt=h, max_speed=speed)
            pos = pos + vel * h
        out[:, :, t] = pos
    return out


class CrowdCircleCrossingEnv(gymnasium.Env):
    """One circle-crossing scene; the controlled pedestrian is agent 0, the others follow ORCA.

    Observation (float32, ``4 * n_agents + 2``): positions of all agents (flattened ``(n_agents, 2)``),
    their velocities (same layout), then agent 0's goal relative to its position (positions are clipped
    to +-``POSITION_BOUND`` m only in the space's bounds, never in the simulation).
    Action (``Box(-1, 1, (2,))``): a perturbation of agent 0's preferred velocity, scaled by
    ``action_scale`` m/s; agent 0 still avoids the others with ORCA (so does everyone else). The zero action
    reproduces the simulator.
    Reward per step: ``-(distance of agent 0 to its goal)`` in metres, minus ``collision_penalty`` when
    agent 0 is closer than ``2 * radius`` to another agent.
    Termination: agent 0 within ``goal_tolerance`` of its goal. Truncation: the registered time limit
    (60 steps of 0.4 s).
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        n_agents: int = 2,
        radius: float = 0.3,
        dt: float = 0.4,
        substeps: int = 10,
        action_scale: float = 0.5,
        collision_penalty: float = 1.0,
        goal_tolerance: float = 0.2,
        speed: float = SPEED,
        time_horizon: float = TIME_HORIZON,
        circle_radius: float = CIRCLE_RADIUS,
    ) -> None:
        if n_agents < 1:
            raise EnvIdError(f"{ENV_ID}: n_agents must be >= 1, got {n_agents}")
        if radius < 0:
            raise EnvIdError(f"{ENV_ID}: radius must be >= 0, got {radius}")
        self.n_agents, self.radius, self.dt, self.substeps = n_agents, float(radius), dt, substeps
        self.action_scale, self.collision_penalty = action_scale, collision_penalty
        self.goal_tolerance, self.speed = goal_tolerance, speed
        self.time_horizon, self.circle_radius = time_horizon, circle_radius
        pos_bound, vel_bound = np.full(2 * n_agents, POSITION_BOUND), np.full(2 * n_agents, 1.01 * speed)
        high = np.concatenate([pos_bound, vel_bound, np.full(2, 2 * POSITION_BOUND)]).astype(np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._pos = np.zeros((1, n_agents, 2))
        self._vel = np.zeros((1, n_agents, 2))
        self._goal = np.zeros((1, n_agents, 2))

    def _obs(self) -> np.ndarray:
        rel_goal = self._goal[0, 0] - self._pos[0, 0]
        return np.concatenate([self._pos[0].ravel(), self._vel[0].ravel(), rel_goal]).astype(np.float32)

    def _min_separation(self) -> float:
        if self.n_agents == 1:
            return float("inf")
        return float(np.linalg.norm(self._pos[0, 1:] - self._pos[0, :1], axis=-1).min())

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._pos, self._goal = sample_circle_crossing(
            self.np_random, 1, self.n_agents, circle_radius=self.circle_radius
        )
        self._vel = np.zeros_like(self._pos)
        return self._obs(), {"min_separation": self._min_separation()}

    def step(self, action: np.ndarray):
        a = np.clip(np.asarray(action, dtype=float).reshape(2), -1.0, 1.0) * self.action_scale
        h = self.dt / self.substeps
        for _ in range(self.substeps):
            pref = preferred_velocity(self._pos, self._goal, self.speed, h)
            pref[0, 0] += a
            norm = np.linalg.norm(pref[0, 0])
            if norm > self.speed:
                pref[0, 0] *= self.speed / norm
            self._vel = orca_step(
                self._pos,
                self._vel,
                pref,
                self.radius,
                time_horizon=self.time_horizon,
                dt=h,
                max_speed=self.speed,
            )
            self._pos = self._pos + self._vel * h
        dist = float(np.linalg.norm(self._goal[0, 0] - self._pos[0, 0]))
        sep = self._min_separation()
        collision = sep < 2.0 * self.radius - 1e-6
        reward = -dist - (self.collision_penalty if collision else 0.0)
        terminated = dist <= self.goal_tolerance
        info = {"distance_to_goal": dist, "min_separation": sep, "collision": collision}
        return self._obs(), reward, terminated, False, info


if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point=CrowdCircleCrossingEnv, max_episode_steps=60)
