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
from agents.checkpoint import latest_checkpoint, restore_checkpoint
from agents.config import EvaluateConfig, TrainConfig
from agents.factory import build_model, load_model, make_vec_env
from causal_priors.checkpoints import CheckpointStore
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
from causal_priors.errors import DataError
from causal_priors.provenance import provenance, write_provenance
from causal_priors.results import read_done
from causal_priors.rundir import claim_run
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


#: config keys a resumed run may change (``total_steps`` extends a finished run; ``agent.causal.backend`` only picks
#: where DirectLiNGAM's order search runs, and runs saved before the key existed must still resume)
RESUME_MAY_CHANGE = ("resume", "progress", "total_steps", "device", "keep_checkpoints", "agent.causal.backend")


def run_finished(cfg: TrainConfig) -> bool:
    """Whether the run of ``cfg`` has trained ``cfg.total_steps`` steps: its ``done.json`` records at least that
    many. A run finished at a smaller ``total_steps`` is not (resuming it with the larger value extends it), so a
    sweep whose ``total_steps`` grew continues its finished runs instead of skipping them."""
    try:
        metrics = read_done(run_dir_for(cfg))
    except DataError:
        return True  # a malformed done.json: the run's own resume reports it
    if metrics is None:
        return False
    return "steps" not in metrics or metrics["steps"] >= int(cfg.total_steps)


def run(cfg: TrainConfig) -> dict[str, Any]:
    """Train (or resume) one run and return its final metrics (also written to ``done.json``).

    The run directory is claimed first (:func:`causal_priors.rundir.claim_run`): one writer at a time, no
    overwrite without ``resume=true``, no resume under a different config.
    """
    single_thread()
    path = run_dir_for(cfg)
    with claim_run(path, cfg, resume=bool(cfg.resume), what="train", ignore=RESUME_MAY_CHANGE):
        return _train(cfg, path)


def _train(cfg: TrainConfig, path: Path) -> dict[str, Any]:
    store = CheckpointStore(path, cfg.keep_checkpoints)
    ckpt = store.latest() if cfg.resume else None
    done = path / "done.json"
    if ckpt is not None and ckpt.step >= int(cfg.total_steps) and done.is_file():
        CurveWriter(path / "curves.csv", CURVE_FIELDS, resume_step=ckpt.step)  # drop rows of a killed rerun
        return json.loads(done.read_text())["metrics"]  # resuming a finished run: nothing to do
    done.unlink(missing_ok=True)  # extending a finished run (larger total_steps): not finished until it ends
    save_config(cfg, path / "config.yaml")
    write_provenance(path)

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
    if callback.last_success_rate is not None:
        metrics["eval/success_rate"] = callback.last_success_rate
    finished = time.strftime("%Y-%m-%dT%H:%M:%S")
    write_json(done, {"metrics": metrics, "finished": finished, "provenance": provenance()})
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

    Env overrides (e.g. ``env.domain_shift.mass=1.5``) evaluate the trained policy out of distribution. The result
    is printed and written to ``<run>/evaluation.json``.
    """
    overrides = [w for w in argv if w.startswith("env.")]
    args: EvaluateConfig = to_typed(load_config(EvaluateConfig, [w for w in argv if not w.startswith("env.")]))
    path = Path(args.run)
    check_writable(path, "run")
    result = evaluate_checkpoint(path, overrides, args.episodes)
    write_json(path / "evaluation.json", result)
    print(json.dumps(result))
    return 0


def evaluate_checkpoint(path: Path, env_overrides: Sequence[str] = (), episodes: int | None = None) -> dict[str, Any]:
    """Score a run's latest checkpoint with deterministic episodes on fixed seeds, optionally under env overrides
    (e.g. ``["env.domain_shift.mass=1.5"]``); writes nothing (``benchmarks/cip_shift.py`` calls it per shift)."""
    saved = path / "config.yaml"
    if not saved.is_file():
        raise ConfigError(f"{saved} not found: run= must name a run directory written by 'causal-priors train'")
    cfg: TrainConfig = to_typed(load_saved_config(TrainConfig, saved, list(env_overrides)))
    single_thread()
    with claim_run(path, None, resume=True, what="evaluate"):
        ckpt = latest_checkpoint(path)
        if ckpt is None:
            raise ConfigError(f"{path} has no checkpoint to evaluate")
        model = load_model(cfg, ckpt)
    env = envs.make_from_config(cfg.env, seed=cfg.seed + 20_000)
    n = int(episodes or cfg.eval_episodes)
    returns, lengths, successes = evaluate_policy_seeded(model.predict, env, n, cfg.seed + 20_000)
    env.close()
    success = {} if successes is None else {"success_rate": float(np.mean(successes))}
    return {
        "step": ckpt.step,
        "episodes": n,
        "mean_reward": float(np.mean(returns)),
        "std_reward": float(np.std(returns)),
        "mean_ep_length": float(np.mean(lengths)),
        **success,
        "env": to_container(cfg.env),
    }
