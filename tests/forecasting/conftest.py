"""Fixtures of the forecasting tests: tiny hand-made batches and small model configs."""

from __future__ import annotations

import pytest
import torch

from causal_priors.config import load_config
from forecasting.batch import SceneBatch
from forecasting.config import ForecastConfig


def tiny_batch(b: int = 12, k: int = 3, seed: int = 0, extra: int = 0, n_domains: int = 3) -> SceneBatch:
    """``b`` scenes of ``k`` walking agents (the last agent padded in odd scenes), domains cycling."""
    g = torch.Generator().manual_seed(seed)
    start = torch.randn(b, k, 1, 2, generator=g) * 3
    vel = torch.randn(b, k, 1, 2, generator=g) * 0.3
    steps = vel + 0.02 * torch.randn(b, k, 20, 2, generator=g)
    positions = start + torch.cumsum(steps, dim=2)
    mask = torch.ones(b, k, dtype=torch.bool)
    mask[1::2, -1] = False
    positions = positions * mask[:, :, None, None]
    ex = torch.randn(b, k, 8, extra, generator=g) if extra else None
    names = tuple(f"{0.1 + 0.2 * i:.1f}" for i in range(n_domains))
    return SceneBatch(positions, mask, torch.arange(b) % n_domains, names, extra=ex)


def model_cfg(name: str, **overrides):
    """The model config of ``configs/model/<name>.yaml`` with small sample counts for speed."""
    argv = [f"model={name}", "model.elbo_samples=3", "model.variety_k=4"]
    argv += [f"model.{k}={v}" for k, v in overrides.items()]
    return load_config(ForecastConfig, argv, groups=("model", "data")).model


@pytest.fixture
def make_batch():
    """Factory fixture: ``make_batch(b=12, k=3, seed=0, extra=0, n_domains=3)``."""
    return tiny_batch


@pytest.fixture
def make_model_cfg():
    """Factory fixture: ``make_model_cfg(name, **overrides)``."""
    return model_cfg


@pytest.fixture
def tiny_argv(run_root):
    """``key=value`` words for a tiny synthetic run (few scenes, few steps) under ``run_root``."""
    return [
        "data=synthetic",
        "data.max_scenes=48",
        "data.n_train_per_domain=36",
        "data.test_radii=[0.1,0.6]",
        "eval.reference_scenes=8",
        "eval.num_samples=[3,5]",
        "eval.batch_size=64",
        "batch_size=16",
        "steps=12",
        "log_every=4",
        "val_every=6",
        "checkpoint_every=6",
        "adapt.batches=[0,1]",
        "adapt.batch_size=16",
        "adapt.steps=3",
        "model.elbo_samples=2",
        "model.variety_k=3",
        f"run_root={run_root}",
    ]
