"""``causal.backend``: the key validates, ``auto`` follows the policy's device, a CIP refit with the torch backend
(on CPU here) gives the numpy refit's graph, and runs saved before the key existed still resume."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer

import causal.lingam_torch
from agents.causal_prior import CausalPrior
from agents.config import CausalConfig
from agents.workspace import RESUME_MAY_CHANGE, build_config
from causal_priors.config import ConfigError, save_config, to_container
from causal_priors.rundir import check_same_config

OBS, ACT = 8, 3
SEARCH = causal.lingam_torch.causal_order_torch


def _transitions(n: int, seed: int) -> tuple[np.ndarray, ...]:
    """A linear non-Gaussian MDP: the reward depends on s0, s2, s5 and a0; s' on s and a."""
    rng = np.random.default_rng(seed)
    S = rng.laplace(size=(n, OBS))
    S[:, 1] += 0.8 * S[:, 0]
    A = rng.uniform(-1.0, 1.0, size=(n, ACT))
    R = S[:, 0] - 0.8 * S[:, 2] + 0.9 * S[:, 5] + 0.7 * A[:, 0] + 0.2 * rng.laplace(size=n)
    S2 = 0.8 * S + 0.1 * rng.laplace(size=(n, OBS))
    S2[:, :ACT] += 0.5 * A
    return S, A, R, S2


def test_the_key_validates_with_its_name(tmp_path):
    assert CausalConfig().backend == "auto"
    with pytest.raises(ConfigError, match="backend"):
        CausalConfig(backend="cuda")
    with pytest.raises(ConfigError, match="agent.causal.backend"):
        build_config(["agent=cip", "agent.causal.backend=jax", f"run_root={tmp_path}"])
    assert build_config(["agent=cip", "agent.causal.backend=torch", f"run_root={tmp_path}"]).agent.causal.backend == (
        "torch"
    )


def test_auto_follows_the_policy_device():
    auto = CausalConfig()
    assert auto.lingam_backend("cpu") == auto.lingam_backend(torch.device("cpu")) == "numpy"
    assert auto.lingam_backend("cuda") == auto.lingam_backend(torch.device("cuda", 1)) == "torch"
    assert CausalConfig(backend="torch").lingam_backend("cpu") == "torch"
    assert CausalConfig(backend="numpy").lingam_backend("cuda") == "numpy"


def _refits(backend: str, monkeypatch) -> tuple[list, list]:
    """Two refits (cold at step 2000, warm at 3000) of a prior with ``backend``; the torch searches' devices."""
    devices: list = []

    def spy(*args, **kwargs):
        devices.append(kwargs["device"])
        return SEARCH(*args, **kwargs)

    monkeypatch.setattr(causal.lingam_torch, "causal_order_torch", spy)
    cfg = CausalConfig(entropy=True, window=2000, min_samples=2000, refit_every=1000, backend=backend)
    prior = CausalPrior(cfg, OBS, ACT, buffer_size=5000, seed=0, device=torch.device("cpu"))
    S, A, R, S2 = _transitions(3000, seed=5)
    buffer = ReplayBuffer(5000, spaces.Box(-9e9, 9e9, (OBS,)), spaces.Box(-1, 1, (ACT,)), device="cpu")
    graphs = []
    for lo, hi in ((0, 2000), (2000, 3000)):
        for t in range(lo, hi):
            buffer.add(S[t : t + 1], S2[t : t + 1], A[t : t + 1], R[t : t + 1], np.array([False]), [{}])
        graphs.append(prior.maybe_refit(hi, buffer).graph)
    return graphs, devices


def test_a_cip_refit_with_the_torch_backend_gives_the_numpy_graph(monkeypatch):
    numpy_graphs, numpy_devices = _refits("auto", monkeypatch)  # auto on a CPU policy: numpy
    torch_graphs, torch_devices = _refits("torch", monkeypatch)
    assert numpy_devices == [] and torch_devices == [torch.device("cpu")] * 2  # the prior's device, both refits
    for ours, dense in zip(numpy_graphs, torch_graphs, strict=True):
        assert dense.causal_order == ours.causal_order and dense.causal_order[-1] == "r"
        np.testing.assert_array_equal(dense.reward_state_coef, ours.reward_state_coef)
        np.testing.assert_array_equal(dense.reward_action_coef, ours.reward_action_coef)
        np.testing.assert_array_equal(dense.w_a, ours.w_a)
    assert set(np.flatnonzero(torch_graphs[-1].reward_state_edges)) == {0, 2, 5}


def test_runs_saved_before_the_key_existed_still_resume(tmp_path):
    cfg = build_config(["agent=cip", f"run_root={tmp_path}"])
    old = copy.deepcopy(to_container(cfg))
    del old["agent"]["causal"]["backend"]
    saved = tmp_path / "config.yaml"
    save_config(old, saved)
    check_same_config(saved, to_container(cfg), RESUME_MAY_CHANGE)  # no error: the key may change
    with pytest.raises(ConfigError, match="agent.causal.temperature"):  # other causal keys still may not
        changed = build_config(["agent=cip", "agent.causal.temperature=0.3", f"run_root={tmp_path}"])
        check_same_config(saved, to_container(changed), RESUME_MAY_CHANGE)
