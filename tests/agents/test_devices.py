"""``device=auto`` resolution, and one CausalSAC update keeping every tensor on the policy's device.

No GPU here: the resolution is tested with ``torch.cuda.is_available`` patched, and the update is run with torch's
default device set to ``meta`` (as on a GPU machine, where the default device is not the policy's), so a tensor
made without an explicit device, or a numpy array converted per step, would show up on the wrong device."""

from __future__ import annotations

import pytest
import torch
from causal_helpers import causal_model, learn_recording
from device_log import DeviceLog

from causal_priors.devices import resolve_device
from causal_priors.errors import ConfigError


def test_auto_is_the_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="device=cuda: torch sees no CUDA device"):
        resolve_device("cuda")


def test_auto_is_cuda_when_torch_sees_it(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ConfigError, match="only 2 CUDA device"):
        resolve_device("cuda:2")


def test_a_bad_device_names_the_key():
    with pytest.raises(ConfigError, match="forecast.device: expected 'auto'"):
        resolve_device("gpu", key="forecast.device")


def test_the_agent_factory_resolves_auto(tmp_path):
    from agents.factory import algorithm_kwargs
    from agents.workspace import build_config

    cfg = build_config(["agent=cip", "env=reacher", "device=auto", f"run_root={tmp_path}"])
    expected = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    assert algorithm_kwargs(cfg)["device"] == expected


def test_one_update_keeps_every_tensor_on_the_policy_device():
    """CIP with all parts on (causal entropy, local swap masks, the intrinsic empowerment reward and the inverse
    model's own step): sampling, weights, losses, optimiser steps and metrics of two updates."""
    model = causal_model(
        seed=0, distractor_dims=4, entropy=True, augment=True, empowerment=True,
        window=300, min_samples=300, refit_every=10**6, temperature=0.05, dynamics_steps=50,
    )  # fmt: skip
    learn_recording(model, 400)  # the fit at step 300, then updates
    assert model.prior.n_refits == 1 and model.prior.swaps_possible
    policy_device = str(model.device)
    log = DeviceLog()
    with torch.device("meta"), log:
        model.train(gradient_steps=2, batch_size=model.batch_size)
    assert set(log.seen) == {policy_device}, {d: sorted(ops)[:5] for d, ops in log.seen.items()}
    assert model.replay_buffer.last_n_counterfactual > 0  # the counterfactual rows were part of it


def test_a_run_saved_on_a_gpu_loads_here(monkeypatch, tmp_path):
    """Training asks for its device strictly; loading a finished run (evaluate) falls back to auto."""
    from agents.factory import on_this_machine
    from agents.workspace import build_config

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = build_config(["agent=sac", "env=reacher", "device=cuda", f"run_root={tmp_path}"])
    with pytest.warns(UserWarning, match="device=cuda is not available here: loading on cpu"):
        assert on_this_machine(cfg).device == "auto"
    assert cfg.device == "cuda"  # the saved config is not changed
    local = build_config(["agent=sac", "env=reacher", "device=cpu", f"run_root={tmp_path}"])
    assert on_this_machine(local) is local
