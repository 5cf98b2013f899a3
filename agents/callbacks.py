"""Training callbacks: deterministic evaluation, atomic checkpoints with episode boundaries, NaN guard.

All three act at the start of a rollout, the one point of SB3's loop where the last transition is stored,
the last gradient step is done and the counters agree. Evaluations and checkpoints follow an absolute
schedule (the first rollout start at or after each multiple of ``eval_every`` / ``checkpoint_every``), so
a resumed run evaluates at exactly the steps of the uninterrupted one and its ``curves.csv`` is the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from agents.checkpoint import save_checkpoint
from causal_priors.rundir import check_finite
from causal_priors.runs import CurveWriter

CURVE_FIELDS = [
    "step",
    "eval/mean_reward",
    "eval/std_reward",
    "eval/mean_ep_length",
    "rollout/ep_rew_mean",
    "time/wall",
    "eval/success_rate",  # empty when the env reports no info["success"] (last: older curves.csv stay readable)
]


def boundary_seed(seed: int, step: int) -> int:
    """Seed of the env reset at a checkpoint boundary (same in an uninterrupted and a resumed run)."""
    return (seed * 1_000_003 + step) % (2**31 - 1)


def next_multiple(step: int, every: int) -> int:
    """The first multiple of ``every`` after ``step`` (never, for ``every <= 0``)."""
    if every <= 0:
        return 2**62
    return (int(step) // int(every) + 1) * int(every)


def reset_at_boundary(model, seed: int) -> None:
    """End the running episode and reset the training env with a seed derived from the step.

    Checkpoint steps are episode boundaries (a time-limit truncation): the simulator's internal state need
    not be saved, and a resumed run continues exactly as the uninterrupted one.
    """
    model.env.seed(boundary_seed(seed, int(model.num_timesteps)))
    model._last_obs = model.env.reset()
    model._last_episode_starts = np.ones((model.env.num_envs,), dtype=bool)


def evaluate_policy_seeded(
    predict: Callable, env: gym.Env, episodes: int, seed: int
) -> tuple[list[float], list[int], list[bool] | None]:
    """Run ``episodes`` deterministic episodes with reset seeds ``seed, seed+1, ...``.

    Returns:
        ``(returns, lengths, successes)``: ``successes[i]`` is True when any step of episode ``i`` had a truthy
        ``info["success"]``; ``successes`` is None when the env never reports ``success`` (no success signal).
    """
    returns, lengths, successes = [], [], []
    reported = False
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        done, total, length, success = False, 0.0, 0, False
        while not done:
            action, _ = predict(obs, deterministic=True)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            length += 1
            done = terminated or truncated
            if "success" in info:
                reported = True
                success = success or bool(info["success"])
        returns.append(total)
        lengths.append(length)
        successes.append(success)
    return returns, lengths, (successes if reported else None)


class RunCallback(BaseCallback):
    """Evaluate every ``eval_every`` steps, checkpoint every ``checkpoint_every`` steps, stop on NaN losses."""

    def __init__(
        self,
        run_dir: Path,
        eval_env: gym.Env,
        seed: int,
        eval_every: int,
        eval_episodes: int,
        checkpoint_every: int,
        curves: CurveWriter,
        start_step: int = 0,
        wall_offset: float = 0.0,
        keep_checkpoints: int = 2,
    ) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.eval_env = eval_env
        self.seed = seed
        self.eval_every = eval_every
        self.eval_episodes = eval_episodes
        self.checkpoint_every = checkpoint_every
        self.curves = curves
        self.keep_checkpoints = keep_checkpoints
        self.last_eval = start_step
        self.last_checkpoint = start_step
        self.next_eval = next_multiple(start_step, eval_every)
        self.next_checkpoint = next_multiple(start_step, checkpoint_every)
        self._start_step = start_step
        self.wall_offset = wall_offset
        self._t0 = time.time()
        self.last_eval_mean: float | None = None
        self.last_success_rate: float | None = None

    def wall_seconds(self) -> float:
        return self.wall_offset + time.time() - self._t0

    def _on_step(self) -> bool:
        return True

    def _check_finite(self) -> None:
        values = self.model.logger.name_to_value
        check_finite({k: v for k, v in values.items() if k.startswith("train/")}, self.num_timesteps, str(self.run_dir))

    def evaluate(self) -> float:
        returns, lengths, successes = evaluate_policy_seeded(
            self.model.predict, self.eval_env, self.eval_episodes, self.seed + 10_000
        )
        success_rate = None if successes is None else float(np.mean(successes))
        step = self.num_timesteps
        mean = float(np.mean(returns))
        self.logger.record("eval/mean_reward", mean)
        self.logger.record("eval/std_reward", float(np.std(returns)))
        self.logger.record("eval/mean_ep_length", float(np.mean(lengths)))
        if success_rate is not None:
            self.logger.record("eval/success_rate", success_rate)
        ep_rew = [ep["r"] for ep in self.model.ep_info_buffer] if self.model.ep_info_buffer else []
        if ep_rew:
            self.logger.record("rollout/ep_rew_mean", float(np.mean(ep_rew)))
        elapsed = max(time.time() - self._t0, 1e-9)
        self.logger.record("time/fps", (step - self._start_step) / elapsed)
        self.curves.append(
            {
                "step": step,
                "eval/mean_reward": mean,
                "eval/std_reward": float(np.std(returns)),
                "eval/mean_ep_length": float(np.mean(lengths)),
                "rollout/ep_rew_mean": float(np.mean(ep_rew)) if ep_rew else "",
                "time/wall": round(self.wall_seconds(), 2),
                "eval/success_rate": "" if success_rate is None else success_rate,
            }
        )
        self.logger.dump(step)
        self.last_eval = step
        self.next_eval = next_multiple(step, self.eval_every)
        self.last_eval_mean = mean
        self.last_success_rate = success_rate
        return mean

    def checkpoint(self) -> None:
        reset_at_boundary(self.model, self.seed)
        save_checkpoint(
            self.model, self.run_dir, meta={"wall_seconds": self.wall_seconds()}, keep=self.keep_checkpoints
        )
        self.last_checkpoint = self.num_timesteps
        self.next_checkpoint = next_multiple(self.num_timesteps, self.checkpoint_every)

    def _on_rollout_start(self) -> None:
        self._check_finite()
        step = self.num_timesteps
        if self.eval_every > 0 and step >= self.next_eval:
            self.evaluate()
        if self.checkpoint_every > 0 and step >= self.next_checkpoint:
            self.checkpoint()

    def _on_training_end(self) -> None:
        self._check_finite()
        if self.num_timesteps > self.last_eval or self.last_eval_mean is None:
            self.evaluate()
        if self.num_timesteps > self.last_checkpoint:
            self.checkpoint()
