"""Crafted pickle payloads in every file ``train resume=true``, ``evaluate`` and ``discover policy=`` read:
no code runs (the payload's marker file never appears) and the command fails with one line, exit 2."""

from __future__ import annotations

import base64
import json
import pickle
import shutil
import zipfile

import numpy as np
import pytest
import torch

from agents.workspace import build_config, run, run_dir_for
from causal_priors.checkpoints import write_manifest
from causal_priors.cli import main

TINY = [
    "env=pendulum",
    "agent.learning_starts=50",
    "agent.batch_size=16",
    "agent.net_arch=[16]",
    "eval_every=100",
    "checkpoint_every=100",
    "eval_episodes=1",
    "progress=false",
    "total_steps=200",
]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    cfg = build_config([*TINY, f"run_root={root}"])
    run(cfg)
    return root, cfg


def _copy(finished, tmp_path):
    root, cfg = finished
    src = run_dir_for(cfg)
    dst = tmp_path / "runs" / src.relative_to(root)
    shutil.copytree(src, dst)
    return dst


def _plant(folder, name, payload_obj):
    """Replace ``folder/name`` by a pickle payload in that file's format, and re-sign the manifest (an
    attacker who can write the file can write the manifest too)."""
    path = folder / name
    if name.endswith(".pt"):
        torch.save({"params": payload_obj}, path)
    elif name.endswith(".npz"):
        np.savez(path, observations=np.array([payload_obj, payload_obj], dtype=object))
    else:  # JSON cannot carry a pickle: the closest attack is garbage
        path.write_bytes(pickle.dumps(payload_obj))
    write_manifest(folder, int(folder.name.split("_")[1]))


@pytest.mark.parametrize("name", ["model.pt", "replay.npz", "state.json"])
def test_crafted_checkpoint_file_is_refused_on_resume(finished, tmp_path, payload, capsys, name):
    marker, obj = payload
    path = _copy(finished, tmp_path)
    newest = path / "checkpoints" / "step_200"
    _plant(newest, name, obj)
    argv = [*TINY, f"run_root={tmp_path / 'runs'}", "total_steps=300", "resume=true"]
    assert main(["train", *argv]) == 2
    err = capsys.readouterr().err
    assert not marker.exists(), "the payload ran"
    assert name in err and err.count("\n") == 1, err
    assert not (path / "checkpoints" / "step_300").exists()


@pytest.mark.parametrize("name", ["model.pt", "replay.npz"])
def test_crafted_checkpoint_file_is_refused_by_evaluate(finished, tmp_path, payload, capsys, name):
    marker, obj = payload
    path = _copy(finished, tmp_path)
    _plant(path / "checkpoints" / "step_200", name, obj)
    assert main(["evaluate", f"run={path}", "episodes=1"]) == 2
    err = capsys.readouterr().err
    assert not marker.exists() and name in err and err.count("\n") == 1, err


def test_unsigned_crafted_file_is_skipped_as_damaged(finished, tmp_path, payload, capsys):
    """Without a matching manifest the crafted newest checkpoint is not even opened: the run falls back."""
    marker, obj = payload
    path = _copy(finished, tmp_path)
    torch.save({"params": obj}, path / "checkpoints" / "step_200" / "model.pt")
    assert main(["train", *TINY, f"run_root={tmp_path / 'runs'}", "total_steps=200", "resume=true"]) == 0
    assert not marker.exists()
    assert "step_200 (model.pt" in capsys.readouterr().err


def _sb3_zip(path, env_id="Pendulum-v1", net_arch=(8,)):
    from stable_baselines3 import SAC

    import envs

    env = envs.make(env_id)
    SAC("MlpPolicy", env, policy_kwargs={"net_arch": list(net_arch)}, seed=0, device="cpu").save(path)
    env.close()
    return path


def _rewrite_zip(path, replace):
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members.update(replace(members))
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_discover_refuses_a_policy_zip_with_a_crafted_policy_pth(tmp_path, payload, capsys):
    marker, obj = payload
    policy = _sb3_zip(tmp_path / "policy.zip")

    def crafted(members):
        import io

        buf = io.BytesIO()
        torch.save({"actor.latent_pi.0.weight": obj}, buf)
        return {"policy.pth": buf.getvalue()}

    _rewrite_zip(policy, crafted)
    argv = ["discover", "env=Pendulum-v1", "steps=50", f"policy={policy}", f"run_root={tmp_path / 'runs'}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert not marker.exists() and "policy.pth" in err and "refused" in err and err.count("\n") == 1


def test_discover_never_reads_the_pickled_data_of_a_policy_zip(tmp_path, payload, capsys):
    """SB3's ``data`` member holds cloudpickled objects: SB3's own ``load`` would run them. Ours reads only
    the weights, so a payload there never runs and the policy still acts."""
    marker, obj = payload
    policy = _sb3_zip(tmp_path / "policy.zip")

    def crafted(members):
        data = json.loads(members["data"])
        data["policy_class"][":serialized:"] = base64.b64encode(pickle.dumps(obj)).decode()
        return {"data": json.dumps(data).encode()}

    _rewrite_zip(policy, crafted)
    from stable_baselines3 import SAC

    with pytest.raises(Exception):  # noqa: B017 - SB3's loader: the payload runs, then it fails
        SAC.load(policy)
    assert marker.exists(), "the crafted data member is not a real attack on SB3's loader"
    marker.unlink()
    argv = ["discover", "env=Pendulum-v1", "steps=60", "causal.method=regression", f"policy={policy}"]
    assert main([*argv, f"run_root={tmp_path / 'runs'}", "causal.transition_graph=false"]) == 0
    assert not marker.exists()


def test_discover_takes_a_train_run_directory_as_policy(finished, tmp_path):
    root, cfg = finished
    argv = ["discover", "env=Pendulum-v1", "steps=60", "causal.method=regression", "causal.transition_graph=false"]
    assert main([*argv, f"policy={run_dir_for(cfg)}", f"run_root={tmp_path / 'runs'}"]) == 0
    step = run_dir_for(cfg) / "checkpoints" / "step_200"
    assert main([*argv, f"policy={step}", f"run_root={tmp_path / 'runs2'}"]) == 0
