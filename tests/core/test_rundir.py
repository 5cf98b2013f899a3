"""The run protocol (lock, overwrite, config) and the checkpoint store (manifest, fallback, retention)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from causal_priors.checkpoints import CheckpointStore, load_json, verify
from causal_priors.errors import ConfigError, DataError, TrainingError
from causal_priors.rundir import check_finite, claim_run, run_lock
from causal_priors.runs import write_json


def _write(step: int):
    def write(folder: Path) -> None:
        write_json(folder / "state.json", {"step": step})
        (folder / "blob.bin").write_bytes(bytes([step % 256]) * 64)

    return write


def _store_with(tmp_path: Path, steps, keep: int = 2) -> CheckpointStore:
    store = CheckpointStore(tmp_path, keep=keep)
    for step in steps:
        store.save(step, _write(step))
    return store


def _hold_lock_in_subprocess(lock: Path) -> subprocess.Popen:
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from causal_priors.rundir import run_lock\n"
        "with run_lock(Path(sys.argv[1]), 'holder'):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_is_refused_naming_the_pid_and_the_lock_dies_with_its_holder(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    holder = _hold_lock_in_subprocess(run / ".lock")
    try:
        with pytest.raises(ConfigError, match=f"already running \\(pid {holder.pid}\\)"):
            with claim_run(run, {"a": 1}, resume=True, what="train"):
                pass
    finally:
        holder.kill()  # SIGKILL: no cleanup code runs, the kernel drops the flock
        holder.wait()
    with claim_run(run, {"a": 1}, resume=True, what="train"):
        assert (run / ".lock").read_text() == str(os.getpid())


def test_the_lock_is_not_reentrant_within_one_process(tmp_path):
    with run_lock(tmp_path / ".lock", "first"):
        with pytest.raises(ConfigError, match="already running"):
            with run_lock(tmp_path / ".lock", "second"):
                pass


def test_no_overwrite_without_resume_and_no_resume_under_another_config(tmp_path):
    run = tmp_path / "run"
    with claim_run(run, {"lr": 0.1, "seed": 0}, resume=False, what="x"):  # empty folder: fine
        (run / "config.yaml").write_text("lr: 0.1\nseed: 0\nresume: false\nrun_root: /a\n")
        write_json(run / "done.json", {"metrics": {}})
    with pytest.raises(ConfigError, match="resume=true"):
        with claim_run(run, {"lr": 0.1, "seed": 0}, resume=False, what="x"):
            pass
    with pytest.raises(ConfigError, match=r"lr: 0\.1 -> 0\.2") as err:
        with claim_run(run, {"lr": 0.2, "seed": 0, "resume": True, "run_root": "/b"}, resume=True, what="x"):
            pass
    assert "seed:" not in str(err.value) and "run_root" not in str(err.value)
    # resume and run_root may change (a run may be moved); ``ignore`` names more
    with claim_run(run, {"lr": 0.1, "seed": 0, "resume": True, "run_root": "/b"}, resume=True, what="x"):
        pass
    with claim_run(run, {"lr": 0.3, "seed": 0}, resume=True, what="x", ignore=("lr",)):
        pass


def test_a_folder_with_only_a_config_is_not_a_run(tmp_path):
    (tmp_path / "config.yaml").write_text("lr: 0.5\n")
    with claim_run(tmp_path, {"lr": 0.1}, resume=False, what="x"):
        pass


def test_unwritable_run_root_is_a_one_line_error(tmp_path):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ConfigError, match="cannot write the run directory"):
        with claim_run(tmp_path / "a_file" / "run", {}, resume=False, what="x"):
            pass
    if os.geteuid() == 0:
        return  # root ignores directory permissions
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="cannot write the run directory"):
            with claim_run(tmp_path / "run", {}, resume=False, what="x"):
                pass
    finally:
        tmp_path.chmod(0o700)


def test_missing_run_for_a_reading_command(tmp_path):
    with pytest.raises(ConfigError, match="no such run directory"):
        with claim_run(tmp_path / "nope", None, resume=True, what="evaluate"):
            pass


def test_keep_k_checkpoints_each_with_a_verified_manifest(tmp_path):
    store = _store_with(tmp_path, [100, 200, 300, 400], keep=3)
    assert store.steps() == [200, 300, 400]
    assert load_json(store.root / "latest.json") == {"step": 400, "path": "step_400"}
    for step in store.steps():
        manifest = load_json(store.root / f"step_{step}" / "manifest.json")
        assert set(manifest["files"]) == {"state.json", "blob.bin"} and manifest["files"]["blob.bin"]["size"] == 64
        assert verify(store.root / f"step_{step}") is None
    with pytest.raises(ConfigError, match="keep_checkpoints must be >= 2"):
        CheckpointStore(tmp_path, keep=1)


@pytest.mark.parametrize(
    "damage",
    ["flip_a_byte", "truncate", "delete_a_file", "delete_the_manifest", "garbage_manifest"],
)
def test_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, capsys, damage):
    store = _store_with(tmp_path, [100, 200])
    newest = store.root / "step_200"
    blob = newest / "blob.bin"
    if damage == "flip_a_byte":
        data = bytearray(blob.read_bytes())
        data[10] ^= 0xFF
        blob.write_bytes(bytes(data))
    elif damage == "truncate":
        blob.write_bytes(blob.read_bytes()[:10])
    elif damage == "delete_a_file":
        blob.unlink()
    elif damage == "delete_the_manifest":
        (newest / "manifest.json").unlink()
    else:
        (newest / "manifest.json").write_text("{not json")
    ckpt = store.latest()
    assert ckpt.step == 100
    err = capsys.readouterr().err
    assert "warning:" in err and "step_200" in err and "step_100" in err
    assert newest.is_dir()  # kept for inspection; rewritten when the run reaches step 200 again


@pytest.mark.parametrize("pointer", ["missing", "empty", "garbage", "names_a_missing_folder"])
def test_bad_latest_json_resumes_from_the_newest_valid_checkpoint(tmp_path, capsys, pointer):
    store = _store_with(tmp_path, [100, 200])
    path = store.root / "latest.json"
    if pointer == "missing":
        path.unlink()
    elif pointer == "empty":
        path.write_text("")
    elif pointer == "garbage":
        path.write_bytes(b"\x00\xff garbage")
    else:
        path.write_text(json.dumps({"step": 700, "path": "step_700"}))
    assert store.latest().step == 200
    assert "warning:" in capsys.readouterr().err
    assert store.steps() == [100, 200]  # nothing deleted


def test_no_valid_checkpoint_is_an_error_not_a_restart(tmp_path):
    store = _store_with(tmp_path, [100, 200])
    for step in (100, 200):
        (store.root / f"step_{step}" / "blob.bin").write_bytes(b"x")
    with pytest.raises(DataError, match="no valid checkpoint.*step_200.*step_100"):
        store.latest()
    (store.root / "step_100").rename(store.root / "elsewhere")
    (store.root / "step_200").rename(store.root / "elsewhere2")
    with pytest.raises(DataError, match="latest.json is present"):
        store.latest()


def test_a_stale_higher_folder_does_not_delete_new_checkpoints(tmp_path, capsys):
    store = _store_with(tmp_path, [100, 200, 300])
    (store.root / "step_300" / "blob.bin").write_bytes(b"damaged")  # the run falls back to 200
    assert store.latest().step == 200
    capsys.readouterr()
    store.save(250, _write(250))  # a run that checkpoints at other steps after the fallback
    store.save(275, _write(275))
    assert store.steps() == [250, 275, 300]  # the new ones stay; only older ones are pruned
    assert store.latest().step == 275
    store.save(300, _write(300))  # reaching the damaged step rewrites it
    assert store.steps() == [275, 300] and verify(store.root / "step_300") is None


def test_a_leftover_temporary_folder_is_ignored_and_cleared(tmp_path):
    store = _store_with(tmp_path, [100])
    (store.root / ".tmp_step_200").mkdir()  # a kill while writing step 200
    (store.root / ".tmp_step_200" / "half").write_bytes(b"x")
    assert store.latest().step == 100
    store.save(200, _write(200))
    assert not (store.root / ".tmp_step_200").exists() and store.steps() == [100, 200]


def test_nan_guard_names_the_metric_and_step():
    check_finite({"train/loss": 1.0, "name": "text", "flag": True}, 3)
    with pytest.raises(TrainingError, match=r"step 7: non-finite training metric 'train/critic_loss' = nan"):
        check_finite({"train/actor_loss": 0.5, "train/critic_loss": float("nan")}, 7)
    with pytest.raises(TrainingError, match="'loss' = inf"):
        check_finite({"loss": float("inf")}, 1)


def test_lock_file_names_the_current_holder(tmp_path):
    with run_lock(tmp_path / ".lock", "x"):
        assert (tmp_path / ".lock").read_text() == str(os.getpid())
        time.sleep(0.01)


def test_an_old_pickle_based_checkpoint_is_named_and_never_loaded(tmp_path, payload):
    import pickle

    marker, obj = payload
    old = tmp_path / "checkpoints" / "step_100"
    old.mkdir(parents=True)
    (old / "replay.pkl").write_bytes(pickle.dumps(obj))
    (old / "model.zip").write_bytes(b"PK")
    with pytest.raises(DataError, match="pickle-based checkpoint of an older version"):
        CheckpointStore(tmp_path).latest()
    assert not marker.exists()


@dataclass
class _Model:
    width: int = 8
    depth: int = 2


@dataclass
class _Config:
    lr: float = 0.3
    model: _Model = field(default_factory=_Model)


def test_keys_newer_than_the_saved_config_are_accepted_at_their_defaults_only(tmp_path):
    run = tmp_path / "run"
    with claim_run(run, {"lr": 0.1}, resume=False, what="x"):
        (run / "config.yaml").write_text("lr: 0.1\n")  # written by a version without ``model``
        write_json(run / "done.json", {"metrics": {}})
    with claim_run(run, _Config(lr=0.1), resume=True, what="x"):  # a config dataclass: its defaults are known
        pass
    with pytest.raises(ConfigError, match=r"model\.width: None -> 16"):
        with claim_run(run, _Config(lr=0.1, model=_Model(width=16)), resume=True, what="x"):
            pass
    with pytest.raises(ConfigError, match=r"model\.depth: None -> 2"):  # a plain dict has no defaults: strict
        with claim_run(run, {"lr": 0.1, "model": {"width": 8, "depth": 2}}, resume=True, what="x"):
            pass
    with pytest.raises(ConfigError, match=r"lr: 0\.1 -> 0\.3"):  # a saved key never falls back to its default
        with claim_run(run, _Config(), resume=True, what="x"):
            pass
