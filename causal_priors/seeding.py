"""Seeding and thread settings shared by every command."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def single_thread() -> None:
    """One torch/BLAS thread per process: measured fastest on the 2-core machines for these small models."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set once in this process
        pass


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python, numpy and torch; return a fresh numpy Generator for the caller's own draws."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def rng_state() -> dict:
    """Snapshot of the global RNGs (python, numpy, torch) for exact resume."""
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    """Restore a snapshot made by :func:`rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
