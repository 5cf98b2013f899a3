"""The trainer and the ``forecast`` CLI on tiny real data: outputs, exact resume, NaN guard, bad input."""

from __future__ import annotations

import json

import pytest
import torch

from causal_priors.cli import main
from causal_priors.errors import TrainingError
from forecasting.models.erm import ERM
from forecasting.train import build_config, run, run_dir_for


@pytest.mark.parametrize("model", ["erm", "causal_motion", "gcrl", "orca_residual"])
def test_cli_train_evaluate_adapt(model, tiny_argv, capsys):
    fast_mechanism = ["model.orca_substeps=2", "model.orca_time_horizons=[2.0]"] if model.startswith("orca") else []
    argv = [f"model={model}", *tiny_argv, *fast_mechanism]
    assert main(["forecast", "train", *argv]) == 0
    rd = run_dir_for(build_config(argv))
    done = json.loads((rd / "done.json").read_text())["metrics"]
    for key in ("test/ade/0.1", "test/ade/0.6", "test/min_ade_5/ood", "val/ade/all", "train/s_per_step"):
        assert key in done and done[key] == done[key], key
    assert (rd / "eval" / "results.md").read_text().count("|") > 20
    assert (rd / "eval" / "error_vs_domain.png").is_file()
    assert list(rd.glob("events.out.tfevents*"))
    curves = (rd / "curves.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in curves] == ["step", "4", "6", "8", "12"]  # logs at 4k, val at 6k
    assert main(["forecast", "evaluate", *argv]) == 0
    assert main(["forecast", "adapt", *argv]) == 0
    out = capsys.readouterr().out
    assert "min_ade_3" in out and "batches" in out
    table = json.loads((rd / "adapt" / "adapt_0.6.json").read_text())["curve"]
    assert sorted(table) == ["0", "1"]
    done = json.loads((rd / "done.json").read_text())["metrics"]
    assert done["adapt_0.6/ade/b1"] == table["1"]["ade"]
    assert main(["forecast", "compare", *argv]) == 0
    assert (rd.parent.parent / "compare" / "error_vs_domain.png").is_file()
    assert (rd.parent.parent / "compare" / "adapt_0.6.png").is_file()


def test_resume_is_exact(tiny_argv, monkeypatch):
    full = build_config([*tiny_argv, "model=erm", "experiment=full", "test_after=false"])
    run(full)
    part = build_config([*tiny_argv, "model=erm", "experiment=part", "test_after=false"])
    original = ERM.loss

    def crash_after_checkpoint(self, batch, step):
        if step == 8:
            raise KeyboardInterrupt("simulated kill")
        return original(self, batch, step)

    monkeypatch.setattr(ERM, "loss", crash_after_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        run(part)
    monkeypatch.setattr(ERM, "loss", original)
    part.resume = True
    run(part)
    a = torch.load(run_dir_for(full) / "model.pt", weights_only=True)
    b = torch.load(run_dir_for(part) / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = (run_dir_for(part) / "curves.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows] == ["step", "4", "6", "8", "12"]
    # every column but the wall clock equals the uninterrupted run's (the loss at step 8 averages steps
    # 5-8, two of them before the kill: the pending metrics travel in the checkpoint)
    assert _curve_without_wall(run_dir_for(part)) == _curve_without_wall(run_dir_for(full))


def _curve_without_wall(run_dir):
    import csv

    with open(run_dir / "curves.csv", newline="") as fh:
        return [{k: v for k, v in row.items() if k != "wall_s"} for row in csv.DictReader(fh)]


def test_nan_loss_raises_training_error(tiny_argv, monkeypatch):
    cfg = build_config([*tiny_argv, "model=erm"])
    original = ERM.loss

    def nan_loss(self, batch, step):
        loss, metrics = original(self, batch, step)
        if step == 3:
            metrics["risk"] = float("nan")
            return loss * float("nan"), metrics
        return loss, metrics

    monkeypatch.setattr(ERM, "loss", nan_loss)
    with pytest.raises(TrainingError, match="step 3.*'risk'"):
        run(cfg)


def test_bad_input_is_a_one_line_error(tiny_argv, capsys):
    assert main(["forecast", "train", *tiny_argv, "model.hiden=3"]) == 2
    assert "model.hiden" in capsys.readouterr().err
    assert main(["forecast", "train", *tiny_argv, "model.name=nope"]) == 2
    assert main(["forecast", "frobnicate"]) == 2
    assert main(["forecast", "evaluate", *tiny_argv, "seed=99"]) == 2
    assert "no trained model" in capsys.readouterr().err


def test_adapt_after_puts_the_low_shot_curve_in_done_json(tiny_argv, monkeypatch):
    """``adapt_after=true``: one run trains, tests and adapts; a kill during adaptation leaves no done.json,
    so the sweep resumes the run instead of skipping it, and the resumed run finishes the curve."""
    import forecasting.adapt as adapt

    argv = ["model=erm", "adapt_after=true", *tiny_argv]
    cfg = build_config(argv)
    real = adapt.write_adaptation

    def killed(cfg, method=None):
        raise KeyboardInterrupt("killed during adaptation")

    monkeypatch.setattr(adapt, "write_adaptation", killed)
    with pytest.raises(KeyboardInterrupt):
        run(cfg)
    rd = run_dir_for(cfg)
    assert not (rd / "done.json").exists()
    monkeypatch.setattr(adapt, "write_adaptation", real)
    metrics = run(build_config([*argv, "resume=true"]))
    done = json.loads((rd / "done.json").read_text())["metrics"]
    assert done == metrics
    assert {"adapt_0.6/ade/b0", "adapt_0.6/ade/b1", "val/ade/all", "test/ade/0.6"} <= set(done)


def test_simulated_training_radii_join_the_training_environments(tiny_argv):
    """``data.simulated_radii``: extra training environments from the ORCA simulator, identical in every run,
    counted in-distribution at test time and named in the run directory; a radius listed twice is an error."""
    from causal_priors.errors import ConfigError
    from forecasting.splits import train_val

    argv = ["model=erm", "data.simulated_radii=[0.2]", "data.simulated_scenes=40", *tiny_argv]
    argv = [w.replace("data.test_radii=[0.1,0.6]", "data.test_radii=[0.2,0.6]") for w in argv]
    cfg = build_config(argv)
    train, val = train_val(cfg)
    assert train.domain_names == ("0.1", "0.2", "0.3", "0.5")
    assert (train.domain == 1).sum() == 36 and (val.domain == 1).sum() == 4
    again, _ = train_val(build_config([*argv, "seed=5"]))
    assert (again.positions == train.positions).all()
    metrics = run(cfg)
    rd = run_dir_for(cfg)
    assert rd.parts[-3] == "synthetic_sim_0.2"
    other = build_config([*argv, "data.train_radii=[0.5,0.1]"])
    assert run_dir_for(other).parts[-3] == "synthetic_train_0.1_0.5_sim_0.2"
    assert metrics["test/ade/id"] == metrics["test/ade/0.2"] and metrics["test/ade/ood"] == metrics["test/ade/0.6"]
    with pytest.raises(ConfigError, match="already in data.train_radii"):
        train_val(build_config([*argv, "data.simulated_radii=[0.3]"]))
    with pytest.raises(ConfigError, match="simulated_scenes"):
        train_val(build_config([*argv, "data.simulated_scenes=30"]))


def test_configs_saved_before_simulated_radii_still_name_their_run(tiny_argv):
    from omegaconf import OmegaConf

    from causal_priors.config import to_container

    cfg = OmegaConf.create(to_container(build_config(["model=erm", *tiny_argv])))
    del cfg.data["simulated_radii"]
    assert run_dir_for(cfg).parts[-3] == "synthetic"
