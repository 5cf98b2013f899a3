"""CIP (and SAC) on pixel observations through the run protocol: a few hundred steps at 32x32, checkpoints that
load, exact resume, the causal view switch (simulator state or encoder features) and augmentation's logged
reason for being inactive on pixels."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from causal_helpers import load_final, straight_and_resumed
from stable_baselines3.common.buffers import DictReplayBuffer
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.causal_sac import CausalSAC
from agents.causal_view import PIXELS_INACTIVE_REASON
from agents.pixel_policy import PixelSACPolicy
from agents.workspace import build_config, run, run_dir_for

TINY = [
    "agent=cip",
    "env=Reacher-v5",
    "env.pixels=true",
    "env.image_size=32",
    "agent.learning_starts=100",
    "agent.batch_size=16",
    "agent.net_arch=[32]",
    "agent.encoder.features_dim=8",
    "agent.encoder.n_filters=8",
    "agent.causal.window=150",
    "agent.causal.min_samples=150",
    "agent.causal.refit_every=150",
    "agent.causal.dynamics_steps=50",
    "eval_every=150",
    "checkpoint_every=150",
    "eval_episodes=1",
    "progress=false",
]


def tiny(root, *extra):
    return build_config([*TINY, f"run_root={root}", *extra])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return straight_and_resumed(TINY, tmp_path_factory.mktemp("pixel_runs"), total=300, stop=150)


def test_pixel_cip_trains_and_resumes_exactly(runs):
    straight, resumed = runs
    a, b = load_final(straight), load_final(resumed)
    assert isinstance(a, CausalSAC) and isinstance(a.policy, PixelSACPolicy)
    assert isinstance(a.replay_buffer, DictReplayBuffer) and a.num_timesteps == b.num_timesteps == 300
    assert a.replay_buffer.observations["pixels"].dtype == np.uint8  # frames stay uint8 in the buffer
    for name in ("policy", "inverse_model"):
        sa, sb = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), f"{name}.{key}"
    for key, value in a.replay_buffer.observations.items():
        assert np.array_equal(value, b.replay_buffer.observations[key]), key
    assert torch.equal(a.shift_generator.get_state(), b.shift_generator.get_state())
    assert a.prior.n_refits == b.prior.n_refits == 2
    graph_a, graph_b = a.prior.graph.to_dict(), b.prior.graph.to_dict()
    graph_a.pop("fit_seconds"), graph_b.pop("fit_seconds")
    assert graph_a == graph_b


def test_default_view_is_the_state_and_augmentation_says_why_it_is_off(runs):
    straight, _ = runs
    model = load_final(straight)
    state_dim = model.observation_space["state"].shape[0]
    assert model.view.name == "state" and model.prior.obs_dim == state_dim
    assert len(model.prior.graph.w_s) == state_dim and np.all(np.isfinite(model.prior.graph.w_s))
    saved = json.loads((run_dir_for(straight) / "causal_graphs" / "step_300.json").read_text())
    assert saved["view"] == "state" and saved["augment_inactive_reason"] == PIXELS_INACTIVE_REASON
    events = EventAccumulator(str(run_dir_for(straight)), size_guidance={"tensors": 0, "scalars": 0})
    events.Reload()
    assert {"train/inverse_loss", "train/empowerment_reward", "causal/fit_seconds"} <= set(events.Tags()["scalars"])
    assert "causal/augment_inactive_reason/text_summary" in events.Tags()["tensors"]


def test_features_view_fits_the_graph_on_the_encoder_output(tmp_path):
    cfg = tiny(tmp_path, "agent.causal.view=features", "total_steps=150", "checkpoint_every=150")
    run(cfg)
    model = load_final(cfg)
    assert model.view.name == "features" and model.prior.obs_dim == 8
    assert model.prior.n_refits == 1 and np.all(np.isfinite(model.prior.graph.w_s))
    assert len(model.prior.graph.w_s) == 8 and model.inverse_model.body[0].in_features == 16
    obs = {k: torch.as_tensor(v[:4, 0]) for k, v in model.replay_buffer.observations.items()}
    features = model.view(obs)
    assert features.shape == (4, 8) and not features.requires_grad


def test_sac_runs_on_pixels_with_the_shared_encoder(tmp_path):
    cfg = tiny(tmp_path, "agent=sac", "total_steps=150")
    metrics = run(cfg)
    model = load_final(cfg)
    assert isinstance(model.policy, PixelSACPolicy) and not model.causal_active
    assert np.isfinite(metrics["eval/mean_reward"]) and model._n_updates > 0
