"""Atomic checkpoints of a training run: model + optimizers, replay buffer, RNG states, extra agent state.

Layout under ``<run_dir>/checkpoints/``::

    step_<n>/model.zip       SB3 archive: policy, critics, targets, every optimizer, log-alpha, counters
    step_<n>/replay.pkl      the replay buffer
    step_<n>/state.pt        global RNG states, the action space's RNG, agent extras (causal state)
    latest.json              {"step": n, "path": "step_<n>"}: written last, so it only names complete folders

A kill at any moment leaves ``latest.json`` naming the previous complete checkpoint; older folders are
removed only after the pointer moved on.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

from causal_priors.runs import write_json
from causal_priors.seeding import rng_state, set_rng_state


@dataclass
class Checkpoint:
    """A complete checkpoint on disk."""

    step: int
    path: Path

    @property
    def model(self) -> Path:
        return self.path / "model.zip"

    @property
    def replay(self) -> Path:
        return self.path / "replay.pkl"

    @property
    def state(self) -> Path:
        return self.path / "state.pt"


def checkpoint_root(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def latest_checkpoint(run_dir: Path) -> Checkpoint | None:
    """The newest complete checkpoint of a run, or ``None``."""
    pointer = checkpoint_root(run_dir) / "latest.json"
    if not pointer.is_file():
        return None
    info = json.loads(pointer.read_text())
    path = checkpoint_root(run_dir) / info["path"]
    if not (path / "model.zip").is_file():
        return None
    return Checkpoint(step=int(info["step"]), path=path)


def agent_extras(model: OffPolicyAlgorithm) -> dict[str, Any]:
    """State an agent keeps outside SB3's archive (e.g. the causal graph); empty for plain SAC."""
    getter = getattr(model, "extra_state", None)
    return getter() if callable(getter) else {}


def save_checkpoint(
    model: OffPolicyAlgorithm, run_dir: Path, meta: dict[str, Any] | None = None, keep: int = 1
) -> Checkpoint:
    """Write a complete checkpoint at ``model.num_timesteps`` and move ``latest.json`` to it.

    ``meta`` holds run bookkeeping (e.g. wall-clock seconds so far) returned by :func:`restore_checkpoint_state`.
    """
    root = checkpoint_root(run_dir)
    step = int(model.num_timesteps)
    final = root / f"step_{step}"
    tmp = root / f".tmp_step_{step}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save(tmp / "model.zip")
    model.save_replay_buffer(tmp / "replay.pkl")
    torch.save(
        {
            "step": step,
            "rng": rng_state(),
            "action_space_rng": model.action_space.np_random.bit_generator.state,
            "extras": agent_extras(model),
            "meta": dict(meta or {}),
        },
        tmp / "state.pt",
    )
    shutil.rmtree(final, ignore_errors=True)
    tmp.replace(final)
    write_json(root / "latest.json", {"step": step, "path": final.name})
    steps = sorted(int(p.name.split("_")[1]) for p in root.glob("step_*") if p.is_dir())
    for old in steps[:-keep]:
        shutil.rmtree(root / f"step_{old}", ignore_errors=True)
    return Checkpoint(step=step, path=final)


def grow_replay_buffer(model: OffPolicyAlgorithm, size: int) -> None:
    """Enlarge the replay buffer to ``size`` slots, keeping its transitions in chronological order.

    Lets a finished run be extended (``total_steps`` raised on resume). A buffer that has not wrapped yet
    keeps its exact layout, so sampling continues exactly as in a run started with the larger size.
    """
    buf = model.replay_buffer
    old = buf.buffer_size
    if size <= old:
        return
    order = np.concatenate([np.arange(buf.pos, old), np.arange(0, buf.pos)]) if buf.full else None
    for name, value in list(vars(buf).items()):
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == old:
            grown = np.zeros((size, *value.shape[1:]), dtype=value.dtype)
            grown[:old] = value if order is None else value[order]
            setattr(buf, name, grown)
    if buf.full:
        buf.pos, buf.full = old, False
    buf.buffer_size = size
    model.buffer_size = size


def restore_checkpoint_state(
    model: OffPolicyAlgorithm, ckpt: Checkpoint, buffer_size: int | None = None
) -> dict[str, Any]:
    """After ``Algorithm.load``: replay buffer (grown to ``buffer_size``), RNG states and agent extras.

    Returns the checkpoint's meta dict.
    """
    model.load_replay_buffer(ckpt.replay)
    if buffer_size is not None:
        grow_replay_buffer(model, buffer_size)
    state = torch.load(ckpt.state, weights_only=False)
    set_rng_state(state["rng"])
    model.action_space.np_random.bit_generator.state = state["action_space_rng"]
    setter = getattr(model, "load_extra_state", None)
    if callable(setter):
        setter(state["extras"])
    return state.get("meta", {})
