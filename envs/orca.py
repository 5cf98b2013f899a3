"""Optimal reciprocal collision avoidance (ORCA), vectorised over many scenes at once (numpy only).

Each agent takes, for every other agent, the ORCA half-plane of permitted velocities (van den Berg, Guy,
Lin, Manocha, "Reciprocal n-body collision avoidance", 2011: each agent takes half of the smallest change
of the relative velocity that leaves the truncated velocity obstacle) and then picks the permitted
velocity closest to its preferred one inside the speed disc.

The small quadratic program "closest point to ``v_pref`` inside the disc and the half-planes" is solved
exactly by enumerating its candidate optima (``v_pref``; its projection on each line; each pairwise line
intersection; each line/circle intersection; the radial projection on the circle) and keeping the cheapest
feasible one, which vectorises over scenes and agents. When no velocity satisfies every half-plane (the
agents already overlap), the candidate with the smallest largest violation is used, a cheap stand-in for
the reference implementation's third linear program.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-9


def _det(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def orca_lines(
    pos: np.ndarray, vel: np.ndarray, radius: np.ndarray | float, time_horizon: float, dt: float
) -> tuple[np.ndarray, np.ndarray]:
    """ORCA half-planes of every agent with respect to every other agent.

    Args:
        pos, vel: ``(S, A, 2)`` positions and current velocities.
        radius: agent radius, a scalar or ``(S,)`` (one per scene).
        time_horizon: look-ahead (s) of the velocity obstacle.
        dt: simulation step (s), used when two agents already overlap.

    Returns:
        ``point, direction``, each ``(S, A, A, 2)``: the line of agent ``i`` w.r.t. agent ``j`` sits at
        ``[:, i, j]``; permitted velocities ``v`` satisfy ``det(direction, v - point) >= 0``. The diagonal
        (``i == j``) holds meaningless values and must be masked by the caller.
    """
    r = np.broadcast_to(np.asarray(radius, dtype=float), pos.shape[:1])[:, None, None]
    rel_pos = pos[:, None, :, :] - pos[:, :, None, :]  # p_j - p_i at [i, j]
    rel_vel = vel[:, :, None, :] - vel[:, None, :, :]  # v_i - v_j at [i, j]
    dist_sq = np.sum(rel_pos**2, axis=-1)
    comb = 2.0 * r
    comb_sq = comb**2
    inv_tau = 1.0 / time_horizon

    # No collision yet: truncated cone (cut-off circle or one of the two legs).
    w = rel_vel - inv_tau * rel_pos
    w_len_sq = np.sum(w**2, axis=-1)
    dot1 = np.sum(w * rel_pos, axis=-1)
    on_circle = (dot1 < 0.0) & (dot1**2 > comb_sq * w_len_sq)
    w_len = np.sqrt(np.maximum(w_len_sq, _EPS))
    unit_w = w / w_len[..., None]
    dir_circle = np.stack([unit_w[..., 1], -unit_w[..., 0]], axis=-1)
    u_circle = ((comb * inv_tau - w_len)[..., None]) * unit_w

    safe_dist_sq = np.maximum(dist_sq, _EPS)
    leg = np.sqrt(np.maximum(dist_sq - comb_sq, 0.0))
    px, py = rel_pos[..., 0], rel_pos[..., 1]
    left = _det(rel_pos, w) > 0.0
    dir_left = np.stack([px * leg - py * comb, px * comb + py * leg], axis=-1) / safe_dist_sq[..., None]
    dir_right = -np.stack([px * leg + py * comb, -px * comb + py * leg], axis=-1) / safe_dist_sq[..., None]
    dir_leg = np.where(left[..., None], dir_left, dir_right)
    u_leg = np.sum(rel_vel * dir_leg, axis=-1)[..., None] * dir_leg - rel_vel

    # Already colliding: get out within one time step.
    w_c = rel_vel - rel_pos / dt
    w_c_len = np.sqrt(np.maximum(np.sum(w_c**2, axis=-1), _EPS))
    unit_c = w_c / w_c_len[..., None]
    dir_coll = np.stack([unit_c[..., 1], -unit_c[..., 0]], axis=-1)
    u_coll = ((comb / dt - w_c_len)[..., None]) * unit_c

    colliding = (dist_sq <= comb_sq)[..., None]
    direction = np.where(colliding, dir_coll, np.where(on_circle[..., None], dir_circle, dir_leg))
    u = np.where(colliding, u_coll, np.where(on_circle[..., None], u_circle, u_leg))
    point = vel[:, :, None, :] + 0.5 * u
    return point, direction


def solve_velocity(
    point: np.ndarray, direction: np.ndarray, active: np.ndarray, v_pref: np.ndarray, max_speed: float
) -> np.ndarray:
    """Velocity closest to ``v_pref`` satisfying every active half-plane and ``|v| <= max_speed``.

    Args:
        point, direction: ``(S, A, M, 2)`` half-planes (``det(direction, v - point) >= 0``).
        active: ``(S, A, M)`` bool, which half-planes apply.
        v_pref: ``(S, A, 2)`` preferred velocities (already within the speed disc).
        max_speed: radius of the speed disc.

    Returns:
        ``(S, A, 2)`` new velocities.
    """
    m = point.shape[2]
    cands = [v_pref[:, :, None, :]]
    # Projection of v_pref on each line.
    t = np.sum((v_pref[:, :, None, :] - point) * direction, axis=-1)
    cands.append(point + t[..., None] * direction)
    # Line / circle intersections.
    foot = point - np.sum(point * direction, axis=-1)[..., None] * direction
    h = np.sqrt(np.maximum(max_speed**2 - np.sum(foot**2, axis=-1), 0.0))[..., None]
    cands += [foot + h * direction, foot - h * direction]
    # Radial projection of v_pref on the circle.
    speed = np.linalg.norm(v_pref, axis=-1, keepdims=True)
    cands.append((v_pref * max_speed / np.maximum(speed, _EPS))[:, :, None, :])
    # Pairwise line intersections.
    if m > 1:
        ia, ib = np.triu_indices(m, k=1)
        pa, da, pb, db = point[:, :, ia], direction[:, :, ia], point[:, :, ib], direction[:, :, ib]
        denom = _det(db, da)
        ok = np.abs(denom) > _EPS
        s = _det(db, pb - pa) / np.where(ok, denom, 1.0)
        inter = pa + s[..., None] * da
        cands.append(np.where(ok[..., None], inter, v_pref[:, :, None, :]))
    cand = np.concatenate(cands, axis=2)  # (S, A, C, 2)

    # Violation of each half-plane by each candidate: max(0, det(d, p - v)).
    viol = _det(direction[:, :, None], point[:, :, None] - cand[:, :, :, None])  # (S, A, C, M)
    viol = np.where(active[:, :, None, :], viol, -np.inf).max(axis=-1, initial=-np.inf)
    over_speed = np.linalg.norm(cand, axis=-1) - max_speed
    feasible = (viol <= 1e-7) & (over_speed <= 1e-7)
    cost = np.sum((cand - v_pref[:, :, None, :]) ** 2, axis=-1)
    cost = np.where(feasible, cost, np.inf)
    best = np.argmin(cost, axis=2)
    any_feasible = np.isfinite(np.take_along_axis(cost, best[..., None], axis=2))[..., 0]
    # Infeasible programme: least worst violation among candidates inside the disc.
    fallback_score = np.where(over_speed <= 1e-7, viol, np.inf)
    fallback = np.argmin(fallback_score, axis=2)
    choice = np.where(any_feasible, best, fallback)
    return np.take_along_axis(cand, choice[..., None, None], axis=2)[:, :, 0]


def orca_step(
    pos: np.ndarray,
    vel: np.ndarray,
    pref_vel: np.ndarray,
    radius: np.ndarray | float,
    *,
    time_horizon: float,
    dt: float,
    max_speed: float,
) -> np.ndarray:
    """New velocities ``(S, A, 2)`` of all agents of all scenes after one ORCA decision."""
    n_agents = pos.shape[1]
    if n_agents == 1:
        return pref_vel.copy()
    point, direction = orca_lines(pos, vel, radius, time_horizon, dt)
    # Drop the diagonal: agent i's lines w.r.t. the other agents only -> (S, A, A-1, 2).
    off = ~np.eye(n_agents, dtype=bool)
    point = point[:, off].reshape(pos.shape[0], n_agents, n_agents - 1, 2)
    direction = direction[:, off].reshape(pos.shape[0], n_agents, n_agents - 1, 2)
    active = np.ones(point.shape[:3], dtype=bool)
    return solve_velocity(point, direction, active, pref_vel, max_speed)
