"""The training workspace: builds a run from its config, owns the loop, logging, evaluation and snapshots.

``causal-priors train agent=sac env=HalfCheetah-v5 total_steps=20000 seed=1`` ends up in :func:`run`.
The run directory is ``<run_root>/<experiment>/<env>/<agent>/seed_<n>/``; ``resume=true`` continues from
its latest checkpoint exactly where the uninterrupted run would be.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import envs
from agents.callbacks import CURVE_FIELDS, RunCallback, evaluate_policy_seeded, reset_at_boundary
from agents.checkpoint import latest_checkpoint, restore_checkpoint_state
from agents.config import EvaluateConfig, TrainConfig
from agents.factory import algorithm_kwargs, build_model, load_model, make_vec_env
from causal_priors.checks import check_writable
from causal_priors.config import (
    ConfigError,
    flatten,
    load_config,
    load_saved_config,
    save_config,
    to_container,
    to_typed,
)
from causal_priors.provenance import provenance, write_provenance
from causal_priors.runs import CurveWriter, log_hparams, make_logger, run_dir, write_json
from causal_priors.seeding import seed_everything, single_thread

GROUPS = ("agent", "env")


def build_config(argv: Sequence[str]) -> TrainConfig:
    """The typed, checked run config from ``key=value`` words (``agent=``/``env=`` presets, ``experiment=`` files)."""
    return to_typed(load_config(TrainConfig, argv, groups=GROUPS, group_fallbacks={"env": "id"}))


def preflight(cfg: TrainConfig) -> None:
    """Checks before any run folder exists: ``run_root`` writable, the env builds; warn if nothing will be learned."""
    check_writable(cfg.run_root, "run_root")
    envs.make_from_config(cfg.env, seed=cfg.seed).close()
    if cfg.total_steps <= cfg.agent.learning_starts:
        print(
            f"WARNING: total_steps={cfg.total_steps} <= agent.learning_starts={cfg.agent.learning_starts}: the agent"
            " only takes random actions and nothing will be learned (lower agent.learning_starts,"
            " e.g. experiment=smoke)",
            file=sys.stderr,
        )


def run_dir_for(cfg: TrainConfig) -> Path:
    """``<run_root>/<experiment>/<env id>/<agent name>/seed_<seed>``."""
    return run_dir(cfg.run_root, cfg.experiment, cfg.env.id, cfg.agent.name, cfg.seed)


def _check_run_dir(path: Path, cfg: TrainConfig) -> None:
    """Refuse to mix two different configs in one run directory."""
    saved = path / "config.yaml"
    if not saved.is_file():
        return
    from omegaconf import OmegaConf

    old = flatten(OmegaConf.to_container(OmegaConf.load(saved)))
    new = flatten(to_container(cfg))
    ignore = {"resume", "progress", "total_steps", "device"}
    diff = sorted(k for k in set(old) | set(new) if k not in ignore and old.get(k) != new.get(k))
    if diff:
        raise ConfigError(
            f"{saved} was written with a different config (keys {diff[:5]}); use another experiment/seed or delete it"
        )


def run(cfg: TrainConfig) -> dict[str, Any]:
    """Train (or resume) one run and return its final metrics (also written to ``done.json``)."""
    single_thread()
    path = run_dir_for(cfg)
    ckpt = latest_checkpoint(path) if cfg.resume else None
    if not cfg.resume and (path / "checkpoints").exists():
        raise ConfigError(f"{path} already holds a run; pass resume=true to continue it or change experiment/seed")
    if latest_checkpoint(path) is not None:  # a folder without a checkpoint holds nothing worth protecting
        _check_run_dir(path, cfg)
    path.mkdir(parents=True, exist_ok=True)
    save_config(cfg, path / "config.yaml")
    write_provenance(path)

    seed_everything(cfg.seed)
    env = make_vec_env(cfg, cfg.seed)
    eval_env = envs.make_from_config(cfg.env, seed=cfg.seed + 10_000)
    start_step, wall_offset = 0, 0.0
    if ckpt is not None:
        model = load_model(cfg, ckpt.model, env)
        meta = restore_checkpoint_state(model, ckpt, buffer_size=algorithm_kwargs(cfg)["buffer_size"])
        start_step, wall_offset = ckpt.step, float(meta.get("wall_seconds", 0.0))
        reset_at_boundary(model, cfg.seed)
    else:
        model = build_model(cfg, env)
        reset_at_boundary(model, cfg.seed)
    logger = make_logger(path)
    model.set_logger(logger)
    if ckpt is None:
        log_hparams(logger, flatten(to_container(cfg)), ["eval/mean_reward", "rollout/ep_rew_mean"])

    curves = CurveWriter(path / "curves.csv", CURVE_FIELDS, resume_step=start_step if ckpt else None)
    callback = RunCallback(
        path,
        eval_env,
        seed=cfg.seed,
        eval_every=cfg.eval_every,
        eval_episodes=cfg.eval_episodes,
        checkpoint_every=cfg.checkpoint_every,
        curves=curves,
        start_step=start_step,
        wall_offset=wall_offset,
    )
    remaining = int(cfg.total_steps) - start_step
    if remaining > 0:
        model.learn(
            total_timesteps=remaining,
            callback=callback,
            log_interval=cfg.log_interval,
            reset_num_timesteps=False,
            progress_bar=bool(cfg.progress),
        )
    else:
        done = path / "done.json"
        if done.is_file():  # resuming a finished run: nothing to do
            return json.loads(done.read_text())["metrics"]
        callback.init_callback(model)
    final = callback.last_eval_mean if callback.last_eval_mean is not None else callback.evaluate()
    metrics = {
        "eval/mean_reward": float(final),
        "steps": int(model.num_timesteps),
        "time/wall_seconds": round(callback.wall_seconds(), 2),
    }
    finished = time.strftime("%Y-%m-%dT%H:%M:%S")
    write_json(path / "done.json", {"metrics": metrics, "finished": finished, "provenance": provenance()})
    env.close()
    eval_env.close()
    return metrics


def train_main(argv: Sequence[str]) -> int:
    """``causal-priors train [experiment=NAME] [agent=PRESET] [env=PRESET|ID] [key=value ...]``."""
    cfg = build_config(argv)
    preflight(cfg)
    metrics = run(cfg)
    print(f"run {run_dir_for(cfg)}: {json.dumps(metrics)}")
    return 0


def evaluate_main(argv: Sequence[str]) -> int:
    """``causal-priors evaluate run=<run dir> [episodes=N] [env.key=value ...]``: score the latest checkpoint.

    Env overrides (e.g. ``env.domain_shift.mass=1.5``) evaluate the trained policy out of distribution.
    """
    overrides = [w for w in argv if w.startswith("env.")]
    args: EvaluateConfig = to_typed(load_config(EvaluateConfig, [w for w in argv if not w.startswith("env.")]))
    path = Path(args.run)
    saved = path / "config.yaml"
    if not saved.is_file():
        raise ConfigError(f"{saved} not found: run= must name a run directory written by 'causal-priors train'")
    cfg: TrainConfig = to_typed(load_saved_config(TrainConfig, saved, overrides))
    check_writable(path, "run")
    ckpt = latest_checkpoint(path)
    if ckpt is None:
        raise ConfigError(f"{path} has no checkpoint to evaluate")
    single_thread()
    model = load_model(cfg, ckpt.model, env=None)
    env = envs.make_from_config(cfg.env, seed=cfg.seed + 20_000)
    n = args.episodes or cfg.eval_episodes
    returns, lengths = evaluate_policy_seeded(model.predict, env, n, cfg.seed + 20_000)
    result = {
        "step": ckpt.step,
        "episodes": n,
        "mean_reward": float(np.mean(returns)),
        "std_reward": float(np.std(returns)),
        "mean_ep_length": float(np.mean(lengths)),
        "env": to_container(cfg.env),
    }
    write_json(path / "evaluation.json", result)
    print(json.dumps(result))
    return 0
