"""Checkpoints of a training run in the shared, pickle-free format (:mod:`causal_priors.checkpoints`).

Files of ``<run>/checkpoints/step_<n>/``::

    model.pt      (weights only) every state dict of ``_get_torch_save_params()`` (policy, each optimizer,
                  and what an algorithm adds, e.g. CausalSAC's inverse model), its torch variables
                  (log-alpha), torch's RNG state and the agent's extras (``extra_state()``)
    replay.npz    the replay buffer's arrays (``allow_pickle=False``)
    state.json    counters (``num_timesteps``, ``_n_updates``, ``_episode_num``, ...), the episode-info
                  buffers, python/numpy/action-space RNG states, the replay buffer's scalars and
                  generators, and run bookkeeping (``meta``)
    manifest.json sizes and sha256 of the above

Restoring never unpickles: the algorithm is rebuilt from the run's config
(:func:`agents.factory.build_model`) and only parameters, optimizer states and plain data are loaded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.save_util import recursive_getattr
from stable_baselines3.common.utils import get_device

from causal_priors.checkpoints import (
    Checkpoint,
    CheckpointStore,
    load_arrays,
    load_json,
    load_tensors,
    restore_global_rng,
    save_arrays,
    save_tensors,
    snapshot_global_rng,
)
from causal_priors.errors import DataError
from causal_priors.runs import write_json

__all__ = [
    "agent_extras",
    "grow_replay_buffer",
    "latest_checkpoint",
    "restore_checkpoint",
    "save_checkpoint",
    "write_checkpoint",
]

#: algorithm attributes saved as JSON (those that exist on the model)
COUNTERS = ("num_timesteps", "_n_updates", "_episode_num", "_current_progress_remaining", "_n_calls")
_SCALARS = (int, float, bool, str, type(None))


def _plain(value: Any) -> Any:
    """Agent extras made weights-only loadable: numpy arrays become tensors, numpy scalars numbers."""
    import torch

    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _number(value: Any) -> Any:
    """Numpy scalars as Python numbers (JSON writes them exactly)."""
    return value.item() if isinstance(value, np.generic) else value


def agent_extras(model: OffPolicyAlgorithm) -> dict[str, Any]:
    """State an agent keeps outside SB3's parameters (e.g. the causal graph); empty for plain SAC."""
    getter = getattr(model, "extra_state", None)
    return _plain(getter()) if callable(getter) else {}


def _replay_parts(model: OffPolicyAlgorithm) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays and JSON-ready scalars/generator states of the replay buffer (device, spaces are rebuilt)."""
    arrays: dict[str, np.ndarray] = {}
    plain: dict[str, Any] = {"generators": {}, "none": []}
    for name, value in vars(model.replay_buffer).items():
        if isinstance(value, np.ndarray):
            arrays[name] = value
        elif _array_dict(value):  # DictReplayBuffer (pixel observations): one npz entry per key
            arrays.update({f"{name}{KEY_SEP}{key}": array for key, array in value.items()})
        elif isinstance(value, np.random.Generator):
            plain["generators"][name] = value.bit_generator.state
        elif value is None:
            plain["none"].append(name)
        elif isinstance(value, _SCALARS) and not name.startswith("__"):
            plain[name] = value
        elif isinstance(value, dict) and all(isinstance(v, _SCALARS) for v in value.values()):
            plain[name] = dict(value)
    return arrays, plain


KEY_SEP = "."
"""``replay.npz`` entry of a dict-of-arrays buffer field: ``<field>.<key>`` (e.g. ``observations.pixels``)."""


def _array_dict(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(v, np.ndarray) for v in value.values())


def _buffer_arrays(buf: Any) -> list[tuple[Any, str, np.ndarray]]:
    """Every array of a replay buffer as ``(holder, key, array)``: holder is the buffer or one of its dicts."""
    out: list[tuple[Any, str, np.ndarray]] = []
    for name, value in list(vars(buf).items()):
        if isinstance(value, np.ndarray):
            out.append((buf, name, value))
        elif _array_dict(value):
            out.extend((value, key, array) for key, array in value.items())
    return out


def write_checkpoint(model: OffPolicyAlgorithm, folder: Path, meta: Mapping[str, Any] | None = None) -> None:
    """Write the three checkpoint files of ``model`` into ``folder`` (used by :func:`save_checkpoint`)."""
    rng, torch_rng = snapshot_global_rng()
    state_dicts, variables = model._get_torch_save_params()
    tensors = {
        "params": model.get_parameters(),
        "variables": {name: recursive_getattr(model, name) for name in variables},
        "torch_rng": torch_rng,
        "extras": agent_extras(model),
    }
    save_tensors(tensors, folder / "model.pt")
    arrays, replay = _replay_parts(model)
    save_arrays(arrays, folder / "replay.npz")
    state = {
        "step": int(model.num_timesteps),
        "counters": {k: _number(getattr(model, k)) for k in COUNTERS if hasattr(model, k)},
        "ep_info_buffer": [{k: _number(v) for k, v in info.items()} for info in model.ep_info_buffer or []],
        "ep_success_buffer": [bool(x) for x in (model.ep_success_buffer or [])],
        "rng": rng,
        "action_space_rng": model.action_space.np_random.bit_generator.state,
        "replay": replay,
        "state_dicts": list(state_dicts),
        "meta": dict(meta or {}),
    }
    write_json(folder / "state.json", state)


def save_checkpoint(
    model: OffPolicyAlgorithm, run_dir: Path, meta: Mapping[str, Any] | None = None, keep: int = 2
) -> Checkpoint:
    """Write a verified checkpoint at ``model.num_timesteps``; keep the newest ``keep`` of them."""
    return CheckpointStore(run_dir, keep).save(int(model.num_timesteps), lambda d: write_checkpoint(model, d, meta))


def latest_checkpoint(run_dir: Path) -> Checkpoint | None:
    """The newest valid checkpoint of a run (see :meth:`CheckpointStore.latest`), or ``None``."""
    return CheckpointStore(run_dir).latest()


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
    for holder, name, value in _buffer_arrays(buf):
        if value.ndim >= 1 and value.shape[0] == old:
            grown = np.zeros((size, *value.shape[1:]), dtype=value.dtype)
            grown[:old] = value if order is None else value[order]
            if isinstance(holder, dict):
                holder[name] = grown
            else:
                setattr(buf, name, grown)
    if buf.full:
        buf.pos, buf.full = old, False
    buf.buffer_size = size
    model.buffer_size = size


def _restore_replay(model: OffPolicyAlgorithm, arrays: dict[str, np.ndarray], plain: dict[str, Any]) -> None:
    buf = model.replay_buffer
    size = int(buf.buffer_size)
    saved_size = int(plain.get("buffer_size", size))
    for name, value in arrays.items():
        field, _, key = name.partition(KEY_SEP)
        holder = getattr(buf, field, None) if key else None
        current = holder.get(key) if isinstance(holder, dict) else getattr(buf, name, None)
        if key and not isinstance(holder, dict):
            raise DataError(f"replay.npz: '{name}' is a dict entry, this run's buffer has no dict '{field}'")
        if isinstance(current, np.ndarray) and current.shape[1:] != value.shape[1:]:
            raise DataError(f"replay.npz: '{name}' has shape {value.shape}, this run's buffer {current.shape}")
        if key:
            holder[key] = value
        else:
            setattr(buf, name, value)
    for name, value in plain.items():
        if name not in ("generators", "none"):
            setattr(buf, name, value)
    for name in plain.get("none", []):
        setattr(buf, name, None)
    for name, state in plain.get("generators", {}).items():
        generator = getattr(buf, name, None)
        if isinstance(generator, np.random.Generator):
            generator.bit_generator.state = state
    buf.buffer_size = saved_size
    model.buffer_size = saved_size
    grow_replay_buffer(model, size)


def restore_checkpoint(model: OffPolicyAlgorithm, ckpt: Checkpoint) -> dict[str, Any]:
    """Load a checkpoint into ``model`` (freshly built from the run's config); returns its ``meta``.

    Parameters and optimizer states, torch variables, the replay buffer (grown to the model's current
    buffer size), counters, episode-info buffers, every RNG state and the agent's extras.

    Raises:
        DataError: a file is unreadable or does not fit the model (one line naming the file).
    """
    tensors = load_tensors(ckpt.file("model.pt"))
    state = load_json(ckpt.file("state.json"))
    try:
        model.set_parameters(tensors["params"], exact_match=True, device=get_device(model.device))
        for name, value in tensors["variables"].items():
            recursive_getattr(model, name).data.copy_(value.to(model.device))
        _restore_replay(model, load_arrays(ckpt.file("replay.npz")), state["replay"])
        for key, value in state["counters"].items():
            setattr(model, key, value)
        model.ep_info_buffer = deque(state["ep_info_buffer"], maxlen=model._stats_window_size)
        model.ep_success_buffer = deque(state["ep_success_buffer"], maxlen=model._stats_window_size)
        restore_global_rng(state["rng"], tensors["torch_rng"])
        model.action_space.np_random.bit_generator.state = state["action_space_rng"]
        setter = getattr(model, "load_extra_state", None)
        if callable(setter):
            setter(tensors["extras"])
    except DataError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as err:
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{ckpt.path}: checkpoint does not fit this run ({text[:200]})") from None
    return dict(state.get("meta", {}))
