"""A tiny, real, seeded training run for exercising sweeps and reports (a test fixture, not a product command).

Run it as ``python -m tests.core.toy_run key=value ...``, or in a sweep file as
``command: module:tests.core.toy_run``.

It fits a 1-D regression (``task`` = ``sine`` or ``linear`` target plus noise; ``method`` = ``linear``
or ``mlp`` model) with Adam on minibatches and follows the contract of every runnable command:

* ``build_config(argv)``, ``run_dir_for(cfg)``, ``run(cfg) -> metrics`` and ``main(argv)``;
* the run protocol of :mod:`causal_priors.rundir` (lock, no overwrite without ``resume=true``, no resume
  under another config) and the checkpoint format of :mod:`causal_priors.checkpoints`;
* run directory ``<run_root>/<experiment>/<task>/<method>/seed_<n>/`` with ``config.yaml``,
  ``curves.csv`` (``eval/mean_reward`` = minus the held-out mean squared error),
  ``checkpoints/step_<n>/`` (``state.npz``: parameters and Adam moments; ``state.json``: step and the
  sampler's state) and, when finished, ``done.json``;
* ``resume=true`` continues from the newest valid checkpoint bit-for-bit.

Pure numpy (hand-written backprop and Adam) so that one run costs well under a second of compute.

The command has no experiment presets: ``experiment=NAME`` only names the run directory.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from causal_priors.checkpoints import Checkpoint, CheckpointStore, load_arrays, load_json, save_arrays
from causal_priors.config import load_config, save_config, to_container
from causal_priors.errors import ConfigError, TrainingError, UserError
from causal_priors.rundir import check_finite, claim_run
from causal_priors.runs import CurveWriter, run_dir, write_json

__all__ = ["ToyConfig", "build_config", "run_dir_for", "run", "main"]

TASKS = ("sine", "linear")
METHODS = ("linear", "mlp")
CURVE_FIELDS = ["step", "eval/mean_reward", "eval/std_reward", "train/loss"]


@dataclass
class ToyConfig:
    """Settings of the toy regression run."""

    experiment: str = "toy"  # names the run directory (no presets)
    run_root: str = "runs"  # root of all run directories
    task: str = "sine"  # target function: sine | linear
    method: str = "mlp"  # model: linear | mlp
    seed: int = 0  # seeds data, initialisation and minibatch sampling
    total_steps: int = 300  # optimiser steps
    eval_every: int = 25  # steps between curve points
    checkpoint_every: int = 50  # steps between checkpoints
    lr: float = 0.02  # Adam learning rate
    batch_size: int = 32  # minibatch size
    hidden: int = 32  # MLP width
    n_train: int = 256  # training points
    n_eval: int = 256  # held-out points
    step_sleep: float = 0.0  # seconds slept per step (lets tests interrupt a run mid-way)
    keep_checkpoints: int = 2  # newest checkpoints kept
    resume: bool = False  # continue from the newest valid checkpoint if present


def build_config(argv: Sequence[str]) -> DictConfig:
    """Typed config from ``key=value`` words; ``experiment=NAME`` names the run (no preset lookup)."""
    words = list(argv)
    names = [w.split("=", 1)[1] for w in words if w.startswith("experiment=")]
    cfg = load_config(ToyConfig, [w for w in words if not w.startswith("experiment=")])
    if names:
        cfg.experiment = names[-1]
    if cfg.task not in TASKS:
        raise ConfigError(f"toy: unknown task '{cfg.task}' (expected one of {list(TASKS)})")
    if cfg.method not in METHODS:
        raise ConfigError(f"toy: unknown method '{cfg.method}' (expected one of {list(METHODS)})")
    for key in ("total_steps", "eval_every", "checkpoint_every", "batch_size", "n_train", "n_eval"):
        if cfg[key] <= 0:
            raise ConfigError(f"toy: '{key}' must be positive, got {cfg[key]}")
    return cfg


def run_dir_for(cfg: DictConfig) -> Path:
    """``<run_root>/<experiment>/<task>/<method>/seed_<seed>``."""
    return run_dir(cfg.run_root, cfg.experiment, cfg.task, cfg.method, cfg.seed)


def _data(cfg: DictConfig) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(10_000 + cfg.seed)
    x = rng.uniform(-2.0, 2.0, size=(cfg.n_train + cfg.n_eval, 1))
    clean = np.sin(2.0 * x) if cfg.task == "sine" else 1.5 * x - 0.5
    y = clean + 0.1 * rng.standard_normal(x.shape)
    return x[: cfg.n_train], y[: cfg.n_train], x[cfg.n_train :], y[cfg.n_train :]


def _init(cfg: DictConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Parameters: ``w2, b2`` read the input (linear) or a tanh hidden layer ``w1, b1`` (mlp)."""
    width = 1 if cfg.method == "linear" else cfg.hidden
    params = {"w2": rng.normal(0.0, 1.0 / math.sqrt(width), (width, 1)), "b2": np.zeros(1)}
    if cfg.method == "mlp":
        params.update(w1=rng.normal(0.0, 1.0, (1, width)), b1=np.zeros(width))
    return params


def _loss_and_grads(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple[float, dict]:
    """Mean squared error and its gradients (hand-written backprop)."""
    hidden = np.tanh(x @ params["w1"] + params["b1"]) if "w1" in params else x
    err = hidden @ params["w2"] + params["b2"] - y
    d_out = 2.0 * err / len(x)
    grads = {"w2": hidden.T @ d_out, "b2": d_out.sum(0)}
    if "w1" in params:
        d_hidden = (d_out @ params["w2"].T) * (1.0 - hidden**2)
        grads.update(w1=x.T @ d_hidden, b1=d_hidden.sum(0))
    return float(np.mean(err**2)), grads


def _evaluate(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    hidden = np.tanh(x @ params["w1"] + params["b1"]) if "w1" in params else x
    sq = ((hidden @ params["w2"] + params["b2"] - y) ** 2).reshape(-1)
    return {
        "eval/mean_reward": -float(sq.mean()),
        "eval/std_reward": float(sq.std()),
        "eval/mse": float(sq.mean()),
    }


def _save(folder: Path, state: dict[str, np.ndarray], rng: np.random.Generator, step: int) -> None:
    """Parameters and Adam moments as ``.npz``, step and the sampler's bit-generator state as JSON."""
    save_arrays(state, folder / "state.npz")
    write_json(folder / "state.json", {"step": step, "rng": rng.bit_generator.state})


def _load(ckpt: Checkpoint, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], int]:
    info = load_json(ckpt.file("state.json"))
    rng.bit_generator.state = info["rng"]
    return load_arrays(ckpt.file("state.npz")), int(info["step"])


def run(cfg: DictConfig) -> dict[str, float]:
    """Train (or resume) one toy run with Adam; write its run directory; return the final metrics."""
    out = run_dir_for(cfg)
    with claim_run(out, to_container(cfg), resume=bool(cfg.resume), what="toy", ignore=("resume", "step_sleep")):
        return _train(cfg, out)


def _train(cfg: DictConfig, out: Path) -> dict[str, float]:
    save_config(cfg, out / "config.yaml")
    x_train, y_train, x_eval, y_eval = _data(cfg)
    rng = np.random.default_rng(cfg.seed)
    params = _init(cfg, rng)
    state = {
        **{f"p_{k}": v for k, v in params.items()},
        **{f"m_{k}": np.zeros_like(v) for k, v in params.items()},
    }
    state.update({f"v_{k}": np.zeros_like(v) for k, v in params.items()})
    store = CheckpointStore(out, cfg.keep_checkpoints)
    ckpt = store.latest() if cfg.resume else None
    start = 0
    if ckpt is not None:
        state, start = _load(ckpt, rng)
    params = {k: state[f"p_{k}"] for k in params}
    curves = CurveWriter(out / "curves.csv", CURVE_FIELDS, resume_step=start if start else None)
    if start == 0:
        curves.append({"step": 0, **_evaluate(params, x_eval, y_eval), "train/loss": ""})
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(start + 1, cfg.total_steps + 1):
        idx = rng.integers(0, cfg.n_train, cfg.batch_size)
        loss, grads = _loss_and_grads(params, x_train[idx], y_train[idx])
        check_finite({"train/loss": loss}, step, "toy")
        for k, g in grads.items():  # Adam, in place on the arrays held by ``state``
            state[f"m_{k}"] *= beta1
            state[f"m_{k}"] += (1 - beta1) * g
            state[f"v_{k}"] *= beta2
            state[f"v_{k}"] += (1 - beta2) * g**2
            m_hat = state[f"m_{k}"] / (1 - beta1**step)
            v_hat = state[f"v_{k}"] / (1 - beta2**step)
            params[k] -= cfg.lr * m_hat / (np.sqrt(v_hat) + eps)
        if cfg.step_sleep > 0:
            time.sleep(cfg.step_sleep)
        if step % cfg.eval_every == 0 or step == cfg.total_steps:
            curves.append({"step": step, **_evaluate(params, x_eval, y_eval), "train/loss": loss})
        if step % cfg.checkpoint_every == 0 or step == cfg.total_steps:
            store.save(step, partial(_save, state=state, rng=rng, step=step))
    metrics = _evaluate(params, x_eval, y_eval)
    write_json(out / "done.json", {"metrics": metrics, "steps": cfg.total_steps, "resumed_from": start})
    return metrics


def main(argv: Sequence[str]) -> int:
    """``python -m tests.core.toy_run key=value ...``; bad input: one line on stderr, exit 2 (as the CLI)."""
    try:
        metrics = run(build_config(argv))
    except UserError as err:
        print(f"toy: {err}", file=sys.stderr)
        return 2
    except TrainingError as err:
        print(f"toy: training stopped: {err}", file=sys.stderr)
        return 3
    print(" ".join(f"{k}={v:.6g}" for k, v in sorted(metrics.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
