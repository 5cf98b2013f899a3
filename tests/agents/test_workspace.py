"""The SAC training workspace: seeding, TensorBoard scalars, save/load, exact resume, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.checkpoint import latest_checkpoint
from agents.factory import load_model
from agents.workspace import build_config, run, run_dir_for
from causal_priors.config import ConfigError
from causal_priors.runs import read_curve

TINY = [
    "env=pendulum",
    "agent.learning_starts=100",
    "agent.batch_size=32",
    "agent.net_arch=[32,32]",
    "eval_every=200",
    "checkpoint_every=200",
    "eval_episodes=2",
    "progress=false",
]


def tiny(run_root, *extra):
    return build_config([*TINY, f"run_root={run_root}", *extra])


def params(cfg):
    model = load_model(cfg, latest_checkpoint(run_dir_for(cfg)))
    return model, {k: v.clone() for k, v in model.policy.state_dict().items()}


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    cfg = tiny(root, "experiment=straight", "total_steps=600")
    metrics = run(cfg)
    return root, cfg, metrics


def test_run_writes_config_curves_checkpoint_and_done(straight_run):
    _, cfg, metrics = straight_run
    path = run_dir_for(cfg)
    assert path.parts[-4:] == ("straight", "Pendulum-v1", "sac", "seed_0")
    for name in ("config.yaml", "curves.csv", "done.json"):
        assert (path / name).is_file()
    assert latest_checkpoint(path).step == 600
    curve = read_curve(path / "curves.csv")
    assert [row["step"] for row in curve] == [200, 400, 600]
    assert json.loads((path / "done.json").read_text())["metrics"]["eval/mean_reward"] == metrics["eval/mean_reward"]


def test_tensorboard_has_the_sb3_scalars(straight_run):
    _, cfg, _ = straight_run
    events = EventAccumulator(str(run_dir_for(cfg)))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    expected = {"rollout/ep_rew_mean", "train/actor_loss", "train/critic_loss", "train/ent_coef", "eval/mean_reward"}
    assert expected <= tags, expected - tags
    assert "time/fps" in tags
    assert [e.step for e in events.Scalars("eval/mean_reward")] == [200, 400, 600]


def test_sac_learns_the_critic_and_policy_move(straight_run):
    _, cfg, _ = straight_run
    model, trained = params(cfg)
    fresh = load_model(cfg, latest_checkpoint(run_dir_for(cfg)))
    assert model._n_updates == 500  # one update per step after learning_starts
    events = EventAccumulator(str(run_dir_for(cfg)))
    events.Reload()
    critic = [e.value for e in events.Scalars("train/critic_loss")]
    assert all(np.isfinite(critic))
    init = build_config([*TINY, "total_steps=600"])
    from agents.factory import build_model, make_vec_env

    untrained = build_model(init, make_vec_env(init, 0)).policy.state_dict()
    assert any(not torch.equal(untrained[k], v) for k, v in trained.items())
    assert fresh.num_timesteps == 600


def test_same_seed_same_actions_and_losses(straight_run, tmp_path):
    root, cfg, _ = straight_run
    again = tiny(tmp_path, "experiment=straight", "total_steps=600")
    run(again)
    _, a = params(cfg)
    _, b = params(again)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert read_curve(run_dir_for(cfg) / "curves.csv")[0]["eval/mean_reward"] == pytest.approx(
        read_curve(run_dir_for(again) / "curves.csv")[0]["eval/mean_reward"], abs=0
    )


def test_other_seed_other_run(straight_run, tmp_path):
    _, cfg, _ = straight_run
    other = tiny(tmp_path, "experiment=straight", "total_steps=200", "seed=1")
    run(other)
    a = load_model(cfg, latest_checkpoint(run_dir_for(cfg)))
    b = load_model(other, latest_checkpoint(run_dir_for(other)))
    obs = np.zeros((1, 3), dtype=np.float32)
    assert not np.array_equal(a.predict(obs, deterministic=True)[0], b.predict(obs, deterministic=True)[0])


def test_save_load_gives_identical_predictions(straight_run):
    _, cfg, _ = straight_run
    a, _ = params(cfg)
    b, _ = params(cfg)
    obs = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    np.testing.assert_array_equal(a.predict(obs, deterministic=True)[0], b.predict(obs, deterministic=True)[0])


def test_resume_continues_step_counter_and_buffer_exactly(straight_run, tmp_path):
    _, straight, _ = straight_run
    first = tiny(tmp_path, "experiment=straight", "total_steps=400")
    run(first)
    model, _ = params(first)
    assert model.num_timesteps == 400
    resumed = tiny(tmp_path, "experiment=straight", "total_steps=600", "resume=true")
    run(resumed)
    model, b = params(resumed)
    assert model.num_timesteps == 600
    _, a = params(straight)
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs after resume"
    curve_a = read_curve(run_dir_for(straight) / "curves.csv")
    curve_b = read_curve(run_dir_for(resumed) / "curves.csv")
    assert [r["eval/mean_reward"] for r in curve_a] == [r["eval/mean_reward"] for r in curve_b]


def test_resume_after_a_kill_drops_curve_rows_past_the_checkpoint(tmp_path):
    cfg = tiny(tmp_path, "total_steps=400")
    run(cfg)
    path = run_dir_for(cfg)
    with open(path / "curves.csv", "a") as fh:  # rows a killed run wrote after its last checkpoint
        fh.write("600,1.0,0.0,200,,1.0\n")
    run(tiny(tmp_path, "total_steps=400", "resume=true"))
    assert [r["step"] for r in read_curve(path / "curves.csv")] == [200, 400]


def test_rerun_without_resume_refuses_to_overwrite(straight_run):
    root, cfg, _ = straight_run
    with pytest.raises(ConfigError, match="resume=true"):
        run(tiny(root, "experiment=straight", "total_steps=600"))


def test_resume_with_a_different_config_is_refused(straight_run):
    root, _, _ = straight_run
    with pytest.raises(ConfigError, match="different config"):
        run(tiny(root, "experiment=straight", "total_steps=600", "agent.gamma=0.5", "resume=true"))


def test_evaluate_command_scores_the_checkpoint_out_of_distribution(straight_run, capsys):
    from causal_priors.cli import main

    _, cfg, _ = straight_run
    path = run_dir_for(cfg)
    assert main(["evaluate", f"run={path}", "episodes=2", "env.max_episode_steps=50"]) == 0
    result = json.loads((path / "evaluation.json").read_text())
    assert result["step"] == 600 and result["mean_ep_length"] == 50


@pytest.mark.slow
def test_sac_solves_pendulum(tmp_path):
    cfg = build_config(
        [
            "env=pendulum",
            "agent.learning_starts=500",
            "total_steps=6000",
            "eval_every=2000",
            "checkpoint_every=6000",
            "eval_episodes=5",
            "progress=false",
            f"run_root={tmp_path}",
        ]
    )
    assert run(cfg)["eval/mean_reward"] > -400


def test_a_bad_value_fails_at_the_boundary_and_the_corrected_rerun_runs(tmp_path):
    with pytest.raises(ConfigError, match="agent.causal.irrelevance"):
        tiny(tmp_path, "total_steps=200", "agent=cip", "agent.causal.irrelevance=typo")
    assert not any(tmp_path.rglob("config.yaml"))
    metrics = run(tiny(tmp_path, "total_steps=200", "agent=cip", "agent.learning_starts=150"))
    assert metrics["steps"] == 200


def test_run_finished_means_done_at_this_total_steps(tmp_path):
    from agents.workspace import run_finished

    cfg = tiny(tmp_path, "total_steps=400")
    assert not run_finished(cfg)
    path = run_dir_for(cfg)
    path.mkdir(parents=True)
    (path / "done.json").write_text(json.dumps({"metrics": {"steps": 400}}))
    assert run_finished(cfg) and run_finished(tiny(tmp_path, "total_steps=300"))
    assert not run_finished(tiny(tmp_path, "total_steps=600"))  # a resume would extend it
    (path / "done.json").write_text("{not json")
    assert run_finished(cfg)  # unreadable: left to the run's own resume, which names the file
