"""The training workspace: builds a run from its config, owns the loop, logging, evaluation and snapshots.

``causal-priors train agent=sac env=HalfCheetah-v5 total_steps=20000 seed=1`` ends up in :func:`run`.
The run directory is ``<run_root>/<experiment>/<env>/<agent>/seed_<n>/``; ``resume=true`` continues from
its latest checkpoint exactly where the uninterrupted run would be.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

import envs
from agents.callbacks import CURVE_FIELDS, RunCallback, evaluate_policy_seeded, reset_at_boundary
from agents.checkpoint import latest_checkpoint, restore_checkpoint
from agents.config import TrainConfig
from agents.factory import build_model, load_model, make_vec_env
from causal_priors.checkpoints import CheckpointStore
from causal_priors.config import ConfigError, flatten, load_config, load_saved_config, save_config, to_container
from causal_priors.rundir import claim_run
from causal_priors.runs import CurveWriter, log_hparams, make_logger, run_dir, write_json
from causal_priors.seeding import seed_everything, single_thread

GROUPS = ("agent", "env")


def build_config(argv: Sequence[str]) -> DictConfig:
    """The typed run config from ``key=value`` words (``agent=``/``env=`` presets, ``experiment=`` files)."""
    cfg = load_config(TrainConfig, argv, groups=GROUPS, group_fallbacks={"env": "id"})
    for key in ("total_steps", "eval_episodes"):
        if cfg[key] <= 0:
            raise ConfigError(f"config key '{key}' must be positive, got {cfg[key]}")
    return cfg


def run_dir_for(cfg: DictConfig) -> Path:
    """``<run_root>/<experiment>/<env id>/<agent name>/seed_<seed>``."""
    return run_dir(cfg.run_root, cfg.experiment, cfg.env.id, cfg.agent.name, cfg.seed)


#: config keys a resumed run may change (``total_steps`` extends a finished run)
RESUME_MAY_CHANGE = ("resume", "progress", "total_steps", "device", "keep_checkpoints")


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train (or resume) one run and return its final metrics (also written to ``done.json``).

    The run directory is claimed first (:func:`causal_priors.rundir.claim_run`): one writer at a time, no
    overwrite without ``resume=true``, no resume under a different config.
    """
    single_thread()
    path = run_dir_for(cfg)
    with claim_run(path, to_container(cfg), resume=bool(cfg.resume), what="train", ignore=RESUME_MAY_CHANGE):
        return _train(cfg, path)


def _train(cfg: DictConfig, path: Path) -> dict[str, Any]:
    store = CheckpointStore(path, cfg.keep_checkpoints)
    ckpt = store.latest() if cfg.resume else None
    done = path / "done.json"
    if ckpt is not None and ckpt.step >= int(cfg.total_steps) and done.is_file():
        CurveWriter(path / "curves.csv", CURVE_FIELDS, resume_step=ckpt.step)  # drop rows of a killed rerun
        return json.loads(done.read_text())["metrics"]  # resuming a finished run: nothing to do
    save_config(cfg, path / "config.yaml")

    seed_everything(cfg.seed)
    env = make_vec_env(cfg, cfg.seed)
    eval_env = envs.make_from_config(cfg.env, seed=cfg.seed + 10_000)
    start_step, wall_offset = 0, 0.0
    model = build_model(cfg, env)
    if ckpt is not None:
        meta = restore_checkpoint(model, ckpt)
        start_step, wall_offset = ckpt.step, float(meta.get("wall_seconds", 0.0))
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
        keep_checkpoints=cfg.keep_checkpoints,
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
        callback.init_callback(model)
    final = callback.last_eval_mean if callback.last_eval_mean is not None else callback.evaluate()
    metrics = {
        "eval/mean_reward": float(final),
        "steps": int(model.num_timesteps),
        "time/wall_seconds": round(callback.wall_seconds(), 2),
    }
    write_json(done, {"metrics": metrics, "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
    env.close()
    eval_env.close()
    return metrics


def train_main(argv: Sequence[str]) -> int:
    """``causal-priors train [experiment=NAME] [agent=PRESET] [env=PRESET|ID] [key=value ...]``."""
    cfg = build_config(argv)
    metrics = run(cfg)
    print(f"run {run_dir_for(cfg)}: {json.dumps(metrics)}")
    return 0


def evaluate_main(argv: Sequence[str]) -> int:
    """``causal-priors evaluate run=<run dir> [episodes=N] [env.key=value ...]``: score the latest checkpoint.

    Env overrides (e.g. ``env.domain_shift.mass=1.5``) evaluate the trained policy out of distribution.
    """
    words = list(argv)
    run_words = [w for w in words if w.startswith("run=")]
    if not run_words:
        raise ConfigError("evaluate needs run=<run directory>")
    path = Path(run_words[0].split("=", 1)[1])
    episodes = [int(w.split("=", 1)[1]) for w in words if w.startswith("episodes=")]
    overrides = [w for w in words if w.startswith("env.")]
    saved = path / "config.yaml"
    if not saved.is_file():
        raise ConfigError(f"{saved} not found: run= must name a run directory written by 'causal-priors train'")
    cfg = load_saved_config(TrainConfig, saved, overrides)
    single_thread()
    with claim_run(path, None, resume=True, what="evaluate"):
        ckpt = latest_checkpoint(path)
        if ckpt is None:
            raise ConfigError(f"{path} has no checkpoint to evaluate")
        model = load_model(cfg, ckpt)
        env = envs.make_from_config(cfg.env, seed=cfg.seed + 20_000)
        n = episodes[0] if episodes else cfg.eval_episodes
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
