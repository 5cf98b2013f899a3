"""Shared test settings: one torch thread, headless MuJoCo, quiet warnings."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MUJOCO_GL", "egl")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture
def run_root(tmp_path):
    """A fresh folder for run directories."""
    return tmp_path / "runs"
