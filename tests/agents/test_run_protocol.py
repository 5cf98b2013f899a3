"""The run protocol through ``train``: a damaged newest checkpoint or a lost ``latest.json`` resumes from the
newest valid checkpoint and ends bit-identical to an uninterrupted run (curves included); evaluations stay
on the absolute schedule after a resume; a second writer is refused."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest
import torch

from agents.callbacks import RunCallback
from agents.checkpoint import latest_checkpoint
from agents.factory import load_model
from agents.workspace import build_config, run, run_dir_for
from causal_priors.cli import main
from causal_priors.errors import ConfigError

TINY = [
    "env=pendulum",
    "agent.learning_starts=100",
    "agent.batch_size=32",
    "agent.net_arch=[32,32]",
    "eval_every=200",
    "checkpoint_every=150",
    "eval_episodes=2",
    "progress=false",
    "total_steps=600",
]


class Killed(Exception):
    """Stands for a kill right after a checkpoint."""


def tiny(root, *extra):
    return build_config([*TINY, f"run_root={root}", *extra])


def killed_after_checkpoint(monkeypatch, step):
    original = RunCallback.checkpoint

    def checkpoint(self):
        original(self)
        if self.num_timesteps == step:
            raise Killed(f"killed after the checkpoint at {step}")

    monkeypatch.setattr(RunCallback, "checkpoint", checkpoint)


def curve_without_wall(path):
    with open(path / "curves.csv", newline="") as fh:
        return [{k: v for k, v in row.items() if k != "time/wall"} for row in csv.DictReader(fh)]


def assert_same_state(a, b):
    pa, pb = a.get_parameters(), b.get_parameters()
    assert pa.keys() == pb.keys()
    for name in pa:  # policy and every optimizer state, tensor by tensor
        flat_a, flat_b = _flatten(pa[name]), _flatten(pb[name])
        assert flat_a.keys() == flat_b.keys(), name
        for key in flat_a:
            va, vb = flat_a[key], flat_b[key]
            same = torch.equal(va, vb) if isinstance(va, torch.Tensor) else va == vb
            assert same, f"{name}.{key}"
    assert torch.equal(a.log_ent_coef, b.log_ent_coef)
    assert a.num_timesteps == b.num_timesteps and a._n_updates == b._n_updates


def _flatten(tree, prefix=""):
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    if isinstance(tree, list):
        out = {}
        for i, v in enumerate(tree):
            out.update(_flatten(v, f"{prefix}{i}."))
        return out
    return {prefix: tree}


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    cfg = tiny(tmp_path_factory.mktemp("runs"), "experiment=straight")
    run(cfg)
    return cfg


def test_evaluations_follow_the_absolute_schedule_after_a_resume(straight, tmp_path, monkeypatch):
    """Checkpoints every 150 steps, evaluations every 200: killed after the checkpoint at 300, the resumed
    run evaluates at 400 (not at 300 + 200 = 500) and ends equal to the uninterrupted run, curves included."""
    killed_after_checkpoint(monkeypatch, 300)
    with pytest.raises(Killed):
        run(tiny(tmp_path))
    monkeypatch.undo()
    resumed = tiny(tmp_path, "resume=true")
    run(resumed)
    steps = [int(r["step"]) for r in curve_without_wall(run_dir_for(resumed))]
    assert steps == [200, 400, 600]
    assert curve_without_wall(run_dir_for(resumed)) == curve_without_wall(run_dir_for(straight))
    assert_same_state(
        load_model(resumed, latest_checkpoint(run_dir_for(resumed))),
        load_model(straight, latest_checkpoint(run_dir_for(straight))),
    )


def test_damaged_newest_checkpoint_resumes_from_the_previous_one_bit_identically(
    straight, tmp_path, monkeypatch, capsys
):
    killed_after_checkpoint(monkeypatch, 450)
    with pytest.raises(Killed):
        run(tiny(tmp_path))
    monkeypatch.undo()
    path = run_dir_for(tiny(tmp_path))
    assert sorted(p.name for p in (path / "checkpoints").glob("step_*")) == ["step_300", "step_450"]
    replay = path / "checkpoints" / "step_450" / "replay.npz"
    data = bytearray(replay.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit
    replay.write_bytes(bytes(data))
    resumed = tiny(tmp_path, "resume=true")
    run(resumed)
    err = capsys.readouterr().err
    assert "step_450 (replay.npz does not match its sha256)" in err and "using step_300" in err
    assert curve_without_wall(path) == curve_without_wall(run_dir_for(straight))
    assert_same_state(
        load_model(resumed, latest_checkpoint(path)), load_model(straight, latest_checkpoint(run_dir_for(straight)))
    )


def test_missing_latest_json_resumes_from_the_newest_valid_checkpoint(straight, tmp_path, monkeypatch, capsys):
    killed_after_checkpoint(monkeypatch, 450)
    with pytest.raises(Killed):
        run(tiny(tmp_path))
    monkeypatch.undo()
    path = run_dir_for(tiny(tmp_path))
    (path / "checkpoints" / "latest.json").unlink()
    resumed = tiny(tmp_path, "resume=true")
    run(resumed)
    err = capsys.readouterr().err
    assert "latest.json is missing" in err and "step_450" in err
    assert sorted(p.name for p in (path / "checkpoints").glob("step_*")) == ["step_450", "step_600"]
    assert curve_without_wall(path) == curve_without_wall(run_dir_for(straight))
    assert_same_state(
        load_model(resumed, latest_checkpoint(path)), load_model(straight, latest_checkpoint(run_dir_for(straight)))
    )


def test_a_second_writer_on_a_run_is_refused_naming_the_pid(straight, capsys):
    path = run_dir_for(straight)
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from causal_priors.rundir import run_lock\n"
        "with run_lock(Path(sys.argv[1]) / '.lock', 'train'):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        root = path.parents[3]
        assert main(["train", *TINY, f"run_root={root}", "experiment=straight", "total_steps=800", "resume=true"]) == 2
        err = capsys.readouterr().err
        assert f"pid {holder.pid}" in err and ".lock" in err and err.count("\n") == 1
        assert main(["evaluate", f"run={path}", "episodes=1"]) == 2
        assert f"pid {holder.pid}" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert latest_checkpoint(path).step == 600  # the refused writer changed nothing


def _without_newer_keys(config_yaml):
    """Rewrite a saved ``config.yaml`` as a version without the pixel options would have written it."""
    from omegaconf import OmegaConf

    saved = OmegaConf.to_container(OmegaConf.load(config_yaml))
    del saved["agent"]["encoder"], saved["env"]["frame_stack"], saved["agent"]["causal"]["view"]
    config_yaml.write_text(OmegaConf.to_yaml(saved))


def test_a_run_saved_before_newer_config_keys_resumes_at_their_defaults(straight, tmp_path, monkeypatch):
    killed_after_checkpoint(monkeypatch, 300)
    with pytest.raises(Killed):
        run(tiny(tmp_path))
    monkeypatch.undo()
    _without_newer_keys(run_dir_for(tiny(tmp_path)) / "config.yaml")
    with pytest.raises(ConfigError, match=r"env\.frame_stack: None -> 4"):  # not the default: refused
        run(tiny(tmp_path, "resume=true", "env.frame_stack=4"))
    resumed = tiny(tmp_path, "resume=true")
    run(resumed)
    assert curve_without_wall(run_dir_for(resumed)) == curve_without_wall(run_dir_for(straight))
    assert_same_state(
        load_model(resumed, latest_checkpoint(run_dir_for(resumed))),
        load_model(straight, latest_checkpoint(run_dir_for(straight))),
    )
