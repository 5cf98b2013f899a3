"""``benchmarks/cip_shift.py``: a study's final checkpoints under domain shifts, aggregated per agent, cached."""

from __future__ import annotations

import json

import pytest

from agents.workspace import build_config, evaluate_checkpoint, run, run_dir_for
from benchmarks import cip_shift

TINY = [
    "env=hopper",
    "experiment=shiftstudy",
    "agent.learning_starts=100",
    "agent.batch_size=32",
    "agent.net_arch=[32,32]",
    "total_steps=200",
    "eval_every=200",
    "checkpoint_every=200",
    "eval_episodes=1",
    "progress=false",
]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for agent, seed in [("sac", 0), ("sac", 1), ("ace", 0)]:
        run(build_config([*TINY, f"run_root={root}", f"agent={agent}", f"seed={seed}"]))
    return root


def test_every_finished_run_is_scored_under_every_shift_and_aggregated(study, tmp_path):
    out = tmp_path / "results"
    results = cip_shift.main(
        ["--experiments", "shiftstudy", "--run-root", str(study), "--episodes", "1", "--out", str(out)]
    )
    data = results["shiftstudy"]
    conditions = [f"{f}={v}" for f, v in cip_shift.shift_conditions()]
    assert len(conditions) == 13 and "mass=0.5" in conditions and "gravity=1.2" in conditions
    assert sorted(data["runs"]) == ["Hopper-v5/ace/seed_0", "Hopper-v5/sac/seed_0", "Hopper-v5/sac/seed_1"]
    assert set(data["runs"]["Hopper-v5/sac/seed_0"]) == set(conditions)
    assert data["aggregate"]["sac"]["n_seeds"] == 2 and data["aggregate"]["ace"]["n_seeds"] == 1
    stats = data["aggregate"]["sac"]["mass=2.0"]
    assert stats["low"] <= stats["point"] <= stats["high"]
    assert (out / "shift_shiftstudy.png").stat().st_size > 0
    assert json.loads((out / "shift.json").read_text())["shiftstudy"]["episodes"] == 1
    assert "| sac (n=2) |" in (out / "summary.md").read_text()


def test_shift_changes_the_return_and_scores_are_cached(study):
    path = run_dir_for(build_config([*TINY, f"run_root={study}", "agent=sac", "seed=0"]))
    nominal = evaluate_checkpoint(path, [], episodes=1)["mean_reward"]
    heavy = evaluate_checkpoint(path, ["env.domain_shift.mass=2.0"], episodes=1)["mean_reward"]
    assert nominal != heavy
    scores = cip_shift.evaluate_run(path, episodes=1)
    assert scores["nominal=1.0"] == pytest.approx(nominal) and scores["mass=2.0"] == pytest.approx(heavy)
    assert json.loads((path / "shift.json").read_text()) == scores  # cached: a rerun evaluates nothing again


def test_robustness_summary_is_computed_per_run_against_its_own_nominal():
    shifted = [f"{f}={v}" for f, v in cip_shift.shift_conditions() if f != "nominal"]
    steady = {"nominal=1.0": 100.0, **{c: 100.0 for c in shifted}}
    fragile = {"nominal=1.0": 200.0, **{c: 50.0 for c in shifted}}
    fragile["mass=2.0"] = 10.0
    out = cip_shift.run_robustness([steady, fragile])
    assert out["retention"][0] == pytest.approx(1.0)
    assert out["retention"][1] == pytest.approx((11 * 50.0 + 10.0) / 12 / 200.0)
    assert out["shifted_worst"].tolist() == [100.0, 10.0]
    assert out["shifted_mean"][0] == pytest.approx(100.0)
