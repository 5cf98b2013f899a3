"""The same 2 x 2 toy sweep on a local Ray instance gives results identical to the local pool.

Ray is an optional, test-only extra here (``pip install "causal-priors[ray]"``); without it the module
is skipped. One Ray instance serves the whole module.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_cases import results, write_sweep

from causal_priors.sweep import run_sweep
from causal_priors.sweep_plan import load_sweep

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_local():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_sweep_matches_local_pool(ray_local, tmp_path: Path) -> None:
    local = run_sweep(load_sweep(write_sweep(tmp_path / "local")), quiet=True)
    on_ray = run_sweep(load_sweep(write_sweep(tmp_path / "ray"), ["ray.enabled=true"]), quiet=True)
    assert local["backend"] == "local" and on_ray["backend"] == "ray"
    for summary in (local, on_ray):
        assert summary["counts"] == {"skipped": 0, "done": 4, "resumed": 0, "failed": 0}
    assert results(tmp_path / "ray" / "runs" / "toy") == results(tmp_path / "local" / "runs" / "toy")
    assert ray_local.is_initialized()  # the sweep used, and left alone, the instance it found
    # a rerun on Ray skips the finished runs without starting any task
    again = run_sweep(load_sweep(write_sweep(tmp_path / "ray"), ["ray.enabled=true"]), quiet=True)
    assert again["counts"]["skipped"] == 4
