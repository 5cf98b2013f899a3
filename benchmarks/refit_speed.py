"""CIP refit time on MuJoCo body data (Ant-v5, Humanoid-v5): cold vs warm DirectLiNGAM, and where the time goes.

::

    OMP_NUM_THREADS=1 MUJOCO_GL=egl PYTHONPATH=. python benchmarks/refit_speed.py --env Humanoid-v5 Ant-v5

Per env: ``--window + --shift`` transitions under uniform random actions (seed ``--seed``; what a run's replay
holds before ``learning_starts``), then what :class:`agents.causal_prior.CausalPrior` fits at a refit:
:func:`causal.fit_factored_graph` on ``[S | A | R]`` (+ the transition block) on window 2 (rows
``shift .. shift + window``), cold and warm (given the causal order of the fit on window 1, rows
``0 .. window``, as the next refit of a run gets it). Times are CPU seconds (``time.process_time``), split into
the order search, the reward row's adaptive-lasso pruning (every variable on its predecessors) and the
transition block (``|S|`` adaptive-lasso regressions on ``[S | A]``). ``kept``: share of the warm fit's steps
that verified the warm order's guess (:func:`agents.causal_prior.warm_steps_kept`).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np

from _checkout import use_this_checkout

use_this_checkout()

import causal.lingam as lingam_module  # noqa: E402
from agents.causal_prior import warm_steps_kept  # noqa: E402
from causal import discovery  # noqa: E402
from causal.discovery import fit_factored_graph  # noqa: E402
from envs.factory import make  # noqa: E402

WARM_TARGET_S = 5.0


def collect(env_id: str, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """``n`` transitions ``(S, A, R, S')`` of ``env_id`` under uniform random actions (resets on episode end)."""
    env = make(env_id, seed=seed)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    rows: list[tuple[np.ndarray, np.ndarray, float, np.ndarray]] = []
    for _ in range(n):
        action = env.action_space.sample()
        nxt, reward, terminated, truncated, _ = env.step(action)
        rows.append((obs, action, float(reward), nxt))
        obs = env.reset()[0] if terminated or truncated else nxt
    env.close()
    S, A, R, S2 = (np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))
    return S, A, R, S2


class _OrderClock:
    """CPU seconds spent in :func:`causal.lingam.causal_order` (wraps it for the benchmark's duration)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._inner = lingam_module.causal_order

    def __enter__(self) -> _OrderClock:
        def timed(*args, **kwargs):
            c0 = time.process_time()
            try:
                return self._inner(*args, **kwargs)
            finally:
                self.seconds += time.process_time() - c0

        lingam_module.causal_order = timed
        return self

    def __exit__(self, *exc) -> None:
        lingam_module.causal_order = self._inner


def timed_fit(data: tuple[np.ndarray, ...], warm_order: list[str] | None) -> tuple[dict[str, float], object]:
    """CPU seconds of the reward graph's parts (order search, pruning) and the graph."""
    with _OrderClock() as clock:
        c0 = time.process_time()
        graph = fit_factored_graph(*data, transition=False, warm_order=warm_order)
        reward = time.process_time() - c0
    return {"order": clock.seconds, "pruning": reward - clock.seconds}, graph


def transition_seconds(data: tuple[np.ndarray, ...]) -> float:
    """CPU seconds of the transition block (the same for a cold and a warm refit: it needs no order)."""
    S, A, R, S2 = data
    ds, da = S.shape[1], A.shape[1]
    stacked = np.concatenate([S, A, R[:, None], S2], axis=1)
    kept, _, _ = discovery._informative_columns(stacked[:, : ds + da])
    c0 = time.process_time()
    discovery._transition_block(stacked, kept, ds, da, "direct_lingam", 3.0, 1.0)
    return time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", nargs="+", default=["Humanoid-v5"], help="gymnasium ids")
    ap.add_argument("--window", type=int, default=10_000, help="transitions per fit (CIP's causal.window)")
    ap.add_argument("--shift", type=int, default=1_000, help="new transitions between the two windows")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    load = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    print(f"window {args.window}, shift {args.shift}, seed {args.seed}, one thread; {load}")
    header = f"{'env':<12} {'d':>4} {'drop':>4} {'fit':<5} {'order':>7} {'pruning':>8} {'transit':>8} {'total':>7}"
    print(header + f" {'kept':>5} {'same edges':>10}")
    print("-" * (len(header) + 17))
    for env_id in args.env:
        data = collect(env_id, args.window + args.shift, args.seed)
        w1 = tuple(x[: args.window] for x in data)
        w2 = tuple(x[args.shift :] for x in data)
        first = fit_factored_graph(*w1, transition=False)
        d = len(first.causal_order)
        dropped = len(first.dropped_state) + len(first.dropped_action)
        cold_parts, cold = timed_fit(w2, None)
        warm_parts, warm = timed_fit(w2, first.causal_order)
        transition = transition_seconds(w2)
        for parts in (cold_parts, warm_parts):
            parts["transition"] = transition
            parts["total"] = parts["order"] + parts["pruning"] + transition
        same = bool(np.array_equal(cold.reward_state_edges, warm.reward_state_edges)) and bool(
            np.array_equal(cold.reward_action_edges, warm.reward_action_edges)
        )
        kept = warm_steps_kept(first.causal_order, warm.causal_order)
        for name, parts, extra in (("cold", cold_parts, ""), ("warm", warm_parts, f" {kept:>5.2f} {same!s:>10}")):
            print(
                f"{env_id:<12} {d:>4} {dropped:>4} {name:<5} {parts['order']:>7.1f} {parts['pruning']:>8.1f}"
                f" {parts['transition']:>8.1f} {parts['total']:>7.1f}{extra}",
                flush=True,
            )
        met = warm_parts["order"] + warm_parts["pruning"] < WARM_TARGET_S
        print(f"  [{'met' if met else 'MISSED'}] {env_id} warm reward-graph fit < {WARM_TARGET_S:.0f} s (idle machine)")
    print("load average at the end {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
