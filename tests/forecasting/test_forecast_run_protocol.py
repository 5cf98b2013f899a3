"""``forecast train/evaluate/adapt`` on the shared run protocol: no overwrite without ``resume=true``, no
resume under another config, damaged newest checkpoint -> previous one, crafted pickles never run."""

from __future__ import annotations

import csv

import pytest
import torch

from causal_priors.checkpoints import write_manifest
from causal_priors.cli import main
from forecasting.models.erm import ERM
from forecasting.train import build_config, run, run_dir_for


def _argv(tiny_argv, *extra):
    words = [w for w in tiny_argv if not w.startswith("checkpoint_every=")]
    return ["model=erm", "test_after=false", "checkpoint_every=3", *words, *extra]


def _curve(rd):
    with open(rd / "curves.csv", newline="") as fh:
        return [{k: v for k, v in row.items() if k != "wall_s"} for row in csv.DictReader(fh)]


def _weights(rd):
    return torch.load(rd / "model.pt", weights_only=True)


def test_train_over_an_existing_run_needs_resume_and_the_same_config(tiny_argv, capsys):
    argv = _argv(tiny_argv)
    assert main(["forecast", "train", *argv]) == 0
    rd = run_dir_for(build_config(argv))
    before = {p.name: p.read_bytes() for p in (rd / "model.pt", rd / "curves.csv", rd / "done.json")}
    events = sorted(rd.glob("events.out.tfevents*"))
    capsys.readouterr()
    assert main(["forecast", "train", *argv]) == 2
    assert "resume=true" in capsys.readouterr().err
    assert main(["forecast", "train", *argv, "lr=0.5", "resume=true"]) == 2
    err = capsys.readouterr().err
    assert "different config" in err and "lr:" in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in (rd / "model.pt", rd / "curves.csv", rd / "done.json")} == before
    assert sorted(rd.glob("events.out.tfevents*")) == events  # no second event file beside the first


def test_damaged_newest_checkpoint_resumes_from_the_previous_one(tiny_argv, monkeypatch, capsys):
    full = build_config(_argv(tiny_argv, "experiment=full"))
    run(full)
    part = build_config(_argv(tiny_argv, "experiment=part"))
    original = ERM.loss

    def killed_at_step_10(self, batch, step):
        if step == 10:
            raise KeyboardInterrupt("simulated kill")
        return original(self, batch, step)

    monkeypatch.setattr(ERM, "loss", killed_at_step_10)
    with pytest.raises(KeyboardInterrupt):
        run(part)
    monkeypatch.setattr(ERM, "loss", original)
    rd = run_dir_for(part)
    assert sorted(p.name for p in (rd / "checkpoints").glob("step_*")) == ["step_6", "step_9"]
    weights = rd / "checkpoints" / "step_9" / "model.pt"
    weights.write_bytes(weights.read_bytes()[:-100])  # truncated
    part.resume = True
    run(part)
    err = capsys.readouterr().err
    assert "step_9 (model.pt has" in err and "using step_6" in err
    a, b = _weights(run_dir_for(full)), _weights(rd)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _curve(rd) == _curve(run_dir_for(full))


@pytest.fixture
def trained(tiny_argv):
    argv = _argv(tiny_argv)
    run(build_config(argv))
    return argv, run_dir_for(build_config(argv))


def test_crafted_model_pt_never_runs_in_evaluate_or_adapt(trained, payload, capsys):
    argv, rd = trained
    marker, obj = payload
    torch.save({"backbone.encoder.weight": obj}, rd / "model.pt")
    capsys.readouterr()
    for command in ("evaluate", "adapt", "mcc"):
        assert main(["forecast", command, *argv, "eval.mcc_seeds=[0]"]) == 2, command
        err = capsys.readouterr().err
        assert "model.pt" in err and "weights-only" in err and err.count("\n") == 1, err
    assert not marker.exists()


def test_crafted_checkpoint_never_runs_on_resume(trained, payload, capsys):
    argv, rd = trained
    marker, obj = payload
    (rd / "done.json").unlink()  # an unfinished run: the resume reads the newest checkpoint
    newest = max((rd / "checkpoints").glob("step_*"), key=lambda p: int(p.name[5:]))
    torch.save({"model": obj}, newest / "model.pt")
    write_manifest(newest, int(newest.name[5:]))  # re-signed, as an attacker would
    assert main(["forecast", "train", *argv, "resume=true"]) == 2
    err = capsys.readouterr().err
    assert not marker.exists() and "model.pt" in err and err.count("\n") == 1, err


def test_adapt_does_not_import_train():
    """train -> adapt only: the shared run files live in forecasting/runfiles.py (no import cycle)."""
    import ast
    from pathlib import Path

    import forecasting

    tree = ast.parse((Path(forecasting.__file__).parent / "adapt.py").read_text())
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names = {
        a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "forecasting" for a in n.names
    }
    assert "forecasting.train" not in modules and "train" not in names
    assert "forecasting.runfiles" in modules
