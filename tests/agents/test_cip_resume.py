"""CIP through the workspace: a run of 900 steps equals 600 steps + resume to 900, bit for bit, with refits
before and after the checkpoint, augmentation active under the local rule (dynamics model, per-row masks), the
intrinsic empowerment reward on and the inverse model training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from causal_helpers import load_final, straight_and_resumed
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.causal_sac import CausalSAC
from agents.workspace import run_dir_for
from causal_priors.runs import read_curve

TINY = [
    "agent=cip",
    "env=reacher",
    "env.distractor_dims=4",
    "agent.learning_starts=100",
    "agent.batch_size=32",
    "agent.net_arch=[32,32]",
    "agent.causal.window=250",
    "agent.causal.min_samples=200",
    "agent.causal.refit_every=300",
    "agent.causal.temperature=0.02",
    "eval_every=300",
    "checkpoint_every=300",
    "eval_episodes=2",
    "progress=false",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return straight_and_resumed(TINY, tmp_path_factory.mktemp("runs"), total=900, stop=600)


def test_resume_is_exact(runs):
    straight, resumed = runs
    a, b = load_final(straight), load_final(resumed)
    assert isinstance(a, CausalSAC) and a.num_timesteps == b.num_timesteps == 900
    for name in ("policy", "inverse_model"):
        sa, sb = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), f"{name}.{key}"
    pa, pb = a.prior, b.prior
    graph_a, graph_b = pa.graph.to_dict(), pb.graph.to_dict()
    graph_a.pop("fit_seconds"), graph_b.pop("fit_seconds")  # wall clock
    assert graph_a == graph_b
    assert pa.n_refits == pb.n_refits == 3 and pa.next_fit_step == pb.next_fit_step == 1150
    assert np.array_equal(pa.candidates, pb.candidates) and pa.candidates.any()
    assert np.array_equal(pa.local_free, pb.local_free) and pa.local_free.any()  # the local rule's masks
    assert pa.scored_pos == pb.scored_pos
    for key, value in pa.local.state_dict()["model"].items():  # the dynamics model
        assert torch.equal(value, pb.local.state_dict()["model"][key]), key
    assert pa.partner_rng.bit_generator.state == pb.partner_rng.bit_generator.state
    assert torch.equal(pa.noise_generator.get_state(), pb.noise_generator.get_state())
    curve_a = read_curve(run_dir_for(straight) / "curves.csv")
    curve_b = read_curve(run_dir_for(resumed) / "curves.csv")
    assert [r["eval/mean_reward"] for r in curve_a] == [r["eval/mean_reward"] for r in curve_b]


def test_causal_scalars_and_graph_picture_reach_tensorboard(runs):
    straight, _ = runs
    events = EventAccumulator(str(run_dir_for(straight)), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = set(events.Tags()["scalars"])
    expected = {
        "causal/w_s_0",
        "causal/w_s_13",
        "causal/w_a_1",
        "causal/fit_seconds",
        "causal/n_irrelevant",
        "augment/fraction",
        "augment/swapped_dims",
        "augment/local_free_fraction",
        "causal/w_a_max_over_min",
        "train/empowerment_reward",
        "train/inverse_loss",
    }
    assert expected <= tags, expected - tags
    assert "causal/graph" in events.Tags()["images"]
    assert [e.step for e in events.Scalars("causal/fit_seconds")] == [300, 600, 900]
    assert any(e.value > 0 for e in events.Scalars("augment/swapped_dims"))
    assert any(e.value > 0 for e in events.Scalars("augment/fraction"))


def test_each_refit_saves_its_graph_and_swap_set(runs):
    import json

    straight = runs[0]
    folder = run_dir_for(straight) / "causal_graphs"
    saved = sorted(folder.glob("step_*.json"), key=lambda p: int(p.stem.split("_")[1]))
    assert [p.stem for p in saved] == ["step_250", "step_550", "step_850"]  # the fit steps
    last = json.loads(saved[-1].read_text())
    model = load_final(straight)
    assert last["swap_candidates"] == [int(i) for i in np.flatnonzero(model.prior.candidates)]
    assert last["validity"] == "local" and 0.0 <= last["augment/local_free_fraction"] <= 1.0
    assert len(last["w_s"]) == model.observation_space.shape[0]
