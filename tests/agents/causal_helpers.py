"""Small builders shared by the CausalSAC tests: tiny Reacher models with every random draw seeded, and a run
trained straight next to the same run interrupted and resumed."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from stable_baselines3 import SAC
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

import envs
from agents.causal_sac import CausalSAC
from agents.checkpoint import latest_checkpoint
from agents.config import CausalConfig
from agents.factory import load_model
from agents.workspace import build_config, run, run_dir_for
from causal_priors.seeding import seed_everything

SMALL = dict(learning_starts=100, batch_size=32, buffer_size=3_000, policy_kwargs={"net_arch": [32, 32]}, verbose=0)


def reacher_env(seed: int = 0, distractor_dims: int = 0) -> DummyVecEnv:
    """One seeded Reacher-v5 (2 action dims, 50-step episodes) in SB3's vector interface."""
    env = DummyVecEnv([lambda: Monitor(envs.make("Reacher-v5", distractor_dims=distractor_dims, seed=seed))])
    env.seed(seed)
    return env


def causal_model(seed: int = 0, distractor_dims: int = 0, **causal: Any) -> CausalSAC:
    """A tiny CausalSAC on Reacher with ``causal`` overriding :class:`CausalConfig` fields."""
    seed_everything(seed)
    cfg = CausalConfig(**causal)
    return CausalSAC("MlpPolicy", reacher_env(seed, distractor_dims), seed=seed, causal=cfg, **SMALL)


def sac_model(seed: int = 0, distractor_dims: int = 0) -> SAC:
    """Stock SB3 SAC with the same settings as :func:`causal_model`."""
    seed_everything(seed)
    return SAC("MlpPolicy", reacher_env(seed, distractor_dims), seed=seed, **SMALL)


class LossRecorder:
    """Capture every value SB3's logger records: numbers in ``values`` (``train/`` once per ``train()``
    call), every key in ``keys``."""

    def __init__(self, model) -> None:
        self.values: dict[str, list[float]] = {}
        self.keys: set[str] = set()
        record = model.logger.record

        def spy(key, value, exclude=None):
            self.keys.add(key)
            if isinstance(value, (int, float, np.floating, np.integer)):
                self.values.setdefault(key, []).append(float(value))
            return record(key, value, exclude)

        model.logger.record = spy


def learn_recording(model, steps: int) -> LossRecorder:
    """Set up the logger, spy on it and learn ``steps`` env steps."""
    from stable_baselines3.common.logger import configure

    model.set_logger(configure(None, []))
    recorder = LossRecorder(model)
    model.learn(steps)
    return recorder


def state_of(module: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def straight_and_resumed(settings: list[str], root: Any, total: int, stop: int) -> tuple[Any, Any]:
    """Run ``settings`` straight to ``total`` steps, and again to ``stop`` then resumed to ``total``.

    Returns the two runs' configs (experiments ``straight`` and ``resumed`` under ``root``).
    """
    straight = build_config([*settings, f"run_root={root}", "experiment=straight", f"total_steps={total}"])
    run(straight)
    run(build_config([*settings, f"run_root={root}", "experiment=resumed", f"total_steps={stop}"]))
    resumed = build_config([*settings, f"run_root={root}", "experiment=resumed", f"total_steps={total}", "resume=true"])
    run(resumed)
    return straight, resumed


def load_final(cfg: Any) -> Any:
    """The model of the latest checkpoint of the run ``cfg`` describes."""
    return load_model(cfg, latest_checkpoint(run_dir_for(cfg)))
