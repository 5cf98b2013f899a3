"""Load a user-given SAC policy without unpickling anything.

Accepted: an SB3 ``.zip`` (only its ``policy.pth`` is read, with ``torch.load(weights_only=True)``; the
archive's cloudpickled ``data`` is never touched), a checkpoint folder ``checkpoints/step_<n>/`` or a run
directory of ``causal-priors train`` (its newest valid checkpoint). The policy is rebuilt for the env's
spaces with the layer sizes read from the weights' shapes, and the weights are loaded strictly; anything
else is refused with a one-line :class:`UserError`.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from causal_priors.errors import ConfigError, UserError

__all__ = ["load_policy", "policy_state", "sac_policy_from_state"]


def _zip_policy_state(path: Path) -> dict[str, Any]:
    import torch

    try:
        with zipfile.ZipFile(path) as archive:
            if "policy.pth" not in archive.namelist():
                raise UserError(f"policy: '{path}' has no policy.pth (expected an SB3 SAC .zip)")
            blob = archive.read("policy.pth")
    except (zipfile.BadZipFile, OSError) as err:
        raise UserError(f"policy: '{path}' is not a readable .zip ({err})") from None
    buffer = io.BytesIO(blob)
    try:
        return torch.load(buffer, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - refused, whatever it is
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise UserError(
            f"policy: '{path}' policy.pth is not a weights-only tensor file; refused without running it ({first})"
        ) from None


def policy_state(path: str | Path) -> dict[str, Any]:
    """The policy state dict of an SB3 ``.zip``, a checkpoint folder or a run directory (weights only)."""
    from causal_priors.checkpoints import Checkpoint, CheckpointStore, load_tensors, verify

    path = Path(path)
    if path.is_file():
        return _zip_policy_state(path)
    if not path.is_dir():
        raise ConfigError(f"policy: no such file or folder '{path}' (expected 'random', an SB3 .zip or a run)")
    if (path / "model.pt").is_file() and path.name.startswith("step_"):
        why = verify(path)
        if why is not None:
            raise UserError(f"policy: checkpoint '{path}' is damaged ({why})")
        ckpt = Checkpoint(step=int(path.name[5:]), path=path)
    else:
        ckpt = CheckpointStore(path).latest()
        if ckpt is None:
            raise UserError(f"policy: '{path}' holds no checkpoint (expected a run directory of 'train')")
    tensors = load_tensors(ckpt.file("model.pt"))
    try:
        return tensors["params"]["policy"]
    except (KeyError, TypeError):
        raise UserError(f"policy: {ckpt.file('model.pt')} holds no policy parameters") from None


def _layer_sizes(state: dict[str, Any], prefix: str) -> list[int]:
    """Output sizes of ``<prefix>.<i>.weight`` linear layers, in order."""
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.weight$")
    found = sorted((int(m.group(1)), k) for k in state if (m := pattern.match(k)))
    return [int(state[k].shape[0]) for _, k in found]


def sac_policy_from_state(state: dict[str, Any], observation_space: Any, action_space: Any, source: str) -> Any:
    """An SB3 ``SACPolicy`` for these spaces holding ``state`` (layer sizes inferred from the shapes)."""
    from stable_baselines3.sac.policies import SACPolicy

    if "actor.latent_pi.0.weight" not in state or "actor.mu.weight" not in state:
        raise UserError(f"policy: {source} is not an MLP SAC policy (no actor.latent_pi / actor.mu weights)")
    obs_dim = int(np.prod(observation_space.shape))
    expects = int(state["actor.latent_pi.0.weight"].shape[1])
    if expects != obs_dim:
        raise UserError(
            f"policy {source} expects observations of shape ({expects},), the env gives {observation_space.shape}"
        )
    pi = _layer_sizes(state, "actor.latent_pi")
    n_critics = len({k.split(".")[1] for k in state if re.match(r"^critic\.qf\d+\.", k)})
    qf = _layer_sizes(state, "critic.qf0")[:-1]
    try:
        policy = SACPolicy(
            observation_space,
            action_space,
            lambda _: 0.0,
            net_arch={"pi": pi, "qf": qf},
            n_critics=max(n_critics, 1),
        )
        policy.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise UserError(f"policy: {source} does not fit a SAC policy for this env ({first})") from None
    policy.set_training_mode(False)
    return policy


def load_policy(path: str, env: Any) -> Callable[[np.ndarray], np.ndarray]:
    """Deterministic actions of a saved SAC policy (plain SAC or the project's causal SAC) for ``env``."""
    state = policy_state(path)
    policy = sac_policy_from_state(state, env.observation_space, env.action_space, f"'{path}'")
    return lambda obs: policy.predict(obs, deterministic=True)[0]
