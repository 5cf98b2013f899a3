"""The ORCA mechanism as a forecaster: roll observed scenes forward, and infer its style from reference scenes.

Numpy, vectorised over scenes (and agents), on the project's own ORCA (``envs.orca``) and preferred-velocity
rule (``envs.crowd.preferred_velocity``). Nothing here is trained.

- **Style** (:class:`OrcaStyle`): agent radius, preferred (and maximal) speed, ORCA time horizon.
- **Style estimator** (:func:`estimate_style`), from complete trajectories of reference scenes:

  - radius = half the median, over the reference scenes with two or more agents, of the scene's closest
    approach (smallest distance between two real agents over all steps);
  - speed = median step speed over the real agents' moving steps (> ``MOVING_SPEED``);
  - time horizon = the value of ``horizons`` whose roll-out (with the two estimates above) has the lowest
    ADE on the reference scenes themselves (a small fit by simulation: observed part in, future scored;
    within ``HORIZON_TIE`` of the best, the shortest horizon).

- **Goals from observed motion only** (:func:`heading_goals`): ``goal_distance`` metres ahead of an agent's
  first observed position along its first observed step (the heading before any avoidance shows); when that
  step is shorter than ``MOVING_SPEED * DT`` the whole observed displacement gives the heading, and an agent
  that has not moved keeps its position as goal. Never the data generator's goal rule (antipode of the start).
- **Roll-out** (:func:`rollout`): position = last observation, velocity = last observed step / ``DT``, then
  ``pred_len`` steps of ``DT`` seconds, each integrated with ``substeps`` ORCA decisions (as the synthetic
  data's generator does). Padded agents are ignored (their half-planes are inactive); in crowds each agent
  avoids its ``MAX_NEIGHBOURS`` nearest agents only (two-agent synthetic scenes: no difference).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from envs.crowd import preferred_velocity
from envs.orca import orca_lines, solve_velocity

#: seconds between recorded positions (synthetic files and ETH/UCY)
DT = 0.4
#: m/s below which a step counts as standing still
MOVING_SPEED = 0.1
#: relative ADE difference under which two fitted time horizons count as tied
HORIZON_TIE = 1e-3
#: each agent avoids at most this many nearest agents (RVO2's ``maxNeighbors``; crowded ETH/UCY scenes)
MAX_NEIGHBOURS = 6


@dataclass(frozen=True)
class OrcaStyle:
    """The domain-specific parameters of the ORCA mechanism."""

    radius: float  #: agent radius (m); ORCA keeps agents about ``2 * radius`` apart
    speed: float  #: preferred and maximal speed (m/s)
    time_horizon: float  #: ORCA look-ahead (s)

    def as_list(self) -> list[float]:
        return [self.radius, self.speed, self.time_horizon]


HEADINGS = ("first", "whole", "last")


def heading_goals(
    observed: np.ndarray, agent_mask: np.ndarray, goal_distance: float, heading: str = "first"
) -> np.ndarray:
    """``(S, A, 2)`` goals ``goal_distance`` m ahead along each agent's observed heading (see module doc).

    Args:
        observed: ``(S, A, T_obs, 2)`` observed absolute positions.
        agent_mask: ``(S, A)`` real agents.
        heading: ``first`` (first observed step, from the first position; the default), ``whole`` (first to
            last observed position, from the first position) or ``last`` (last observed step, from the last
            position).
    """
    if heading not in HEADINGS:
        raise ValueError(f"heading_goals: heading must be one of {HEADINGS}, got {heading!r}")
    whole = observed[:, :, -1] - observed[:, :, 0]
    step = {"first": observed[:, :, 1] - observed[:, :, 0], "whole": whole}.get(
        heading, observed[:, :, -1] - observed[:, :, -2]
    )
    step_len = np.linalg.norm(step, axis=-1, keepdims=True)
    whole_len = np.linalg.norm(whole, axis=-1, keepdims=True)
    use_step = step_len >= MOVING_SPEED * DT
    direction = np.where(use_step, step, whole)
    length = np.where(use_step, step_len, whole_len)
    moving = (length >= MOVING_SPEED * DT) & agent_mask[..., None]
    unit = np.where(moving, direction / np.maximum(length, 1e-12), 0.0)
    base = observed[:, :, -1] if heading == "last" else observed[:, :, 0]
    start = np.where(moving, base, observed[:, :, -1])
    return start + goal_distance * unit


def _decide(
    pos: np.ndarray,
    vel: np.ndarray,
    pref: np.ndarray,
    agent_mask: np.ndarray,
    style: OrcaStyle,
    h: float,
    max_speed: np.ndarray,
    max_neighbours: int,
) -> np.ndarray:
    """One ORCA decision for every agent; half-planes w.r.t. padded agents are inactive."""
    s, a = pos.shape[:2]
    if a == 1:
        return pref.copy()
    point, direction = orca_lines(pos, vel, style.radius, style.time_horizon, h)
    off = ~np.eye(a, dtype=bool)
    point = point[:, off].reshape(s, a, a - 1, 2)
    direction = direction[:, off].reshape(s, a, a - 1, 2)
    others = np.broadcast_to(agent_mask[:, None, :], (s, a, a))[:, off].reshape(s, a, a - 1)
    if a - 1 > max_neighbours:  # only the nearest real agents constrain (RVO2's maxNeighbors)
        dist = np.linalg.norm(pos[:, None, :] - pos[:, :, None], axis=-1)[:, off].reshape(s, a, a - 1)
        near = np.argsort(np.where(others, dist, np.inf), axis=-1, kind="stable")[..., :max_neighbours]
        point = np.take_along_axis(point, near[..., None], axis=2)
        direction = np.take_along_axis(direction, near[..., None], axis=2)
        others = np.take_along_axis(others, near, axis=2)
    return solve_velocity(point, direction, others, pref, max_speed)


def rollout(
    observed: np.ndarray,
    agent_mask: np.ndarray,
    style: OrcaStyle,
    *,
    pred_len: int = 12,
    substeps: int = 10,
    goal_distance: float = 20.0,
    agent_speed: np.ndarray | None = None,
    max_neighbours: int = MAX_NEIGHBOURS,
    heading: str = "first",
    goals: np.ndarray | None = None,
) -> np.ndarray:
    """``(S, A, pred_len, 2)`` predicted absolute positions (padded agents: their last observed position).

    Args:
        observed: ``(S, A, T_obs, 2)`` float64 observed positions.
        agent_mask: ``(S, A)`` bool, real agents.
        style: the ORCA parameters.
        agent_speed: optional ``(S, A)`` per-agent preferred speeds replacing ``style.speed``.
        max_neighbours: each agent avoids at most this many nearest real agents (cost grows with its cube).
        heading: which observed heading points to the goal (:func:`heading_goals`).
        goals: ``(S, A, 2)`` goals replacing the heading rule (for probes; forecasters never know goals).
    """
    mask = agent_mask.astype(bool)
    m2 = mask[..., None]
    padded_last = observed[:, :, -1]
    observed = np.where(mask[:, :, None, None], observed, 0.0)
    pos = observed[:, :, -1].copy()
    vel = (observed[:, :, -1] - observed[:, :, -2]) / DT
    goal = heading_goals(observed, mask, goal_distance, heading) if goals is None else np.asarray(goals, float)
    speed = np.full(mask.shape, style.speed) if agent_speed is None else np.asarray(agent_speed, dtype=float)
    speed = speed[..., None]
    h = DT / substeps
    out = np.empty((*pos.shape[:2], pred_len, 2))
    for t in range(pred_len):
        for _ in range(substeps):
            pref = preferred_velocity(pos, goal, speed, h)
            vel = np.where(m2, _decide(pos, vel, pref, mask, style, h, speed, max_neighbours), 0.0)
            pos = pos + vel * h
        out[:, :, t] = pos
    return np.where(mask[:, :, None, None], out, padded_last[:, :, None])


def rollout_scenes(
    observed: np.ndarray,
    agent_mask: np.ndarray,
    style: OrcaStyle,
    *,
    observed_speed: bool = False,
    **kwargs: object,
) -> np.ndarray:
    """:func:`rollout` for scenes of any agent order and padding: scenes are grouped by their number of real
    agents and each group is rolled out trimmed to it (crowded data sets pad to their largest scene, 50+
    agents, while most scenes hold a few). ``observed_speed``: each agent walks at its own observed speed.
    Padded agents keep their last observed position.
    """
    mask = np.asarray(agent_mask, dtype=bool)
    order = np.argsort(~mask, axis=1, kind="stable")  # real agents first
    obs = np.take_along_axis(observed, order[:, :, None, None], axis=1)
    sorted_mask = np.take_along_axis(mask, order, axis=1)
    pred_len = int(kwargs.get("pred_len", 12))
    out = np.repeat(obs[:, :, -1:], pred_len, axis=2)
    counts = sorted_mask.sum(axis=1)
    for k in np.unique(counts[counts > 0]):
        sel = np.flatnonzero(counts == k)
        part = obs[sel, :k]
        speed = observed_speeds(part) if observed_speed else None
        out[sel, :k] = rollout(part, sorted_mask[sel, :k], style, agent_speed=speed, **kwargs)
    restored = np.empty_like(out)
    np.put_along_axis(restored, order[:, :, None, None], out, axis=1)
    return restored


def closest_approach(positions: np.ndarray, agent_mask: np.ndarray) -> np.ndarray:
    """``(S,)`` smallest distance between two real agents over all steps (NaN for scenes with < 2 agents)."""
    a = positions.shape[1]
    if a < 2:
        return np.full(positions.shape[0], np.nan)
    dist = np.linalg.norm(positions[:, :, None] - positions[:, None, :], axis=-1).min(axis=-1)  # (S, A, A)
    pair = agent_mask[:, :, None] & agent_mask[:, None, :] & ~np.eye(a, dtype=bool)
    dist = np.where(pair, dist, np.inf).min(axis=(1, 2))
    return np.where(np.isfinite(dist), dist, np.nan)


def step_speeds(positions: np.ndarray, agent_mask: np.ndarray) -> np.ndarray:
    """Speeds (m/s) of the real agents' moving steps, flattened."""
    speed = np.linalg.norm(np.diff(positions, axis=2), axis=-1) / DT  # (S, A, T-1)
    speed = speed[np.broadcast_to(agent_mask[..., None], speed.shape)]
    return speed[speed > MOVING_SPEED]


def observed_speeds(observed: np.ndarray) -> np.ndarray:
    """``(S, A)`` each agent's mean speed over its observed steps (m/s)."""
    return np.linalg.norm(np.diff(observed, axis=2), axis=-1).mean(axis=-1) / DT


def displacement_error(pred: np.ndarray, future: np.ndarray, agent_mask: np.ndarray) -> float:
    """ADE over the real agents of all scenes (mean of the per-scene ADEs)."""
    err = np.linalg.norm(pred - future, axis=-1).mean(axis=-1)
    return float(((err * agent_mask).sum(-1) / np.maximum(agent_mask.sum(-1), 1)).mean())


def estimate_style(
    positions: np.ndarray,
    agent_mask: np.ndarray,
    *,
    obs_len: int = 8,
    horizons: Sequence[float] = (1.0, 1.5, 2.0, 3.0, 4.0),
    substeps: int = 10,
    goal_distance: float = 20.0,
    fallback: OrcaStyle | None = None,
    heading: str = "first",
    observed_speed: bool = False,
) -> OrcaStyle:
    """The ORCA style of complete reference scenes ``(S, A, T, 2)`` (estimator in the module docstring).

    A parameter the references cannot give (no scene with two agents, no moving step) comes from
    ``fallback``; without one that is a ``ValueError``. ``heading`` and ``observed_speed`` (each agent walks
    at its own observed speed) are the roll-out's options, used in the time-horizon fit as in prediction.
    """
    positions = np.asarray(positions, dtype=np.float64)
    mask = np.asarray(agent_mask, dtype=bool)
    gaps = closest_approach(positions, mask)
    gaps = gaps[np.isfinite(gaps)]
    speeds = step_speeds(positions, mask)
    if (gaps.size == 0 or speeds.size == 0) and fallback is None:
        raise ValueError(f"estimate_style: {len(positions)} reference scenes give no closest approach or speed")
    radius = 0.5 * float(np.median(gaps)) if gaps.size else fallback.radius
    speed = float(np.median(speeds)) if speeds.size else fallback.speed
    observed, future = positions[:, :, :obs_len], positions[:, :, obs_len:]
    errors = []
    for tau in horizons:
        trial = OrcaStyle(radius, speed, float(tau))
        pred = rollout_scenes(
            observed,
            mask,
            trial,
            observed_speed=observed_speed,
            pred_len=future.shape[2],
            substeps=substeps,
            goal_distance=goal_distance,
            heading=heading,
        )
        errors.append(displacement_error(pred, future, mask))
    # near-ties (float rounding of the inputs) go to the shortest horizon, so the choice is stable
    best = min(float(t) for t, e in zip(horizons, errors, strict=True) if e <= min(errors) * (1 + HORIZON_TIE))
    return OrcaStyle(radius, speed, best)
