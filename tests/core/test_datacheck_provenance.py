"""``causal-priors data check`` against the committed table; provenance recorded with every run; known noise gone."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import warnings

import pytest

from causal_priors.cli import main
from causal_priors.datacheck import CHECKSUMS, read_table
from causal_priors.provenance import LIBRARIES, provenance, running_code, source_commit


@pytest.fixture(scope="module")
def shared_root():
    from forecasting.data import default_data_root

    return default_data_root()


def test_the_committed_table_covers_both_data_sets():
    table = read_table(CHECKSUMS)
    assert any(name.startswith("synthetic_v4/test/") for name in table)
    assert any(name.startswith("eth_ucy/hotel/test/") for name in table)
    assert all(len(digest) == 64 for digest in table.values())


def test_data_check_passes_on_the_shared_data(shared_root, capsys):
    assert main(["data", "check", f"root={shared_root}"]) == 0
    assert f"{len(read_table(CHECKSUMS))} data files" in capsys.readouterr().out


def _copy(shared_root, tmp_path):
    copy = tmp_path / "data"
    for name in read_table(CHECKSUMS):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).symlink_to(shared_root / name)
    return copy


def test_data_check_names_a_corrupted_and_a_missing_file(shared_root, tmp_path, capsys):
    copy = _copy(shared_root, tmp_path)
    corrupt = copy / "eth_ucy" / "hotel" / "test" / "biwi_hotel.txt"
    corrupt.unlink()
    shutil.copy(shared_root / "eth_ucy" / "hotel" / "test" / "biwi_hotel.txt", corrupt)
    data = bytearray(corrupt.read_bytes())
    data[100] = ord("9") if data[100] != ord("9") else ord("8")
    corrupt.write_bytes(bytes(data))
    (copy / "synthetic_v4" / "val" / "orca_circle_crossing_2_ped_3000_scenes_0.3_radius_2.0_horizon.npz").unlink()
    assert main(["data", "check", f"root={copy}"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert f"checksum differs: {corrupt}" in err
    assert any(line.startswith("missing: ") and "0.3_radius" in line for line in err)
    assert err[-1].startswith("causal-priors data: 2 of ")


def test_data_needs_the_check_word(capsys):
    assert main(["data"]) == 2
    assert "usage: causal-priors data check" in capsys.readouterr().err


def test_provenance_names_libraries_cpu_and_threads():
    import torch  # noqa: F401  (provenance reads the imported torch for threads and GPU)

    record = provenance()
    assert set(record["libraries"]) == set(LIBRARIES)
    assert record["libraries"]["torch"] and record["libraries"]["stable-baselines3"]
    assert record["cpu"] and record["python"]
    assert record["torch_threads"] >= 1
    json.dumps(record)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_provenance_names_the_commit_and_whether_tracked_files_changed(tmp_path):
    assert source_commit(tmp_path) is None  # not a checkout (an installed wheel): no commit, no error

    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path), *args], capture_output=True, text=True, check=True).stdout

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    head = git("rev-parse", "HEAD").strip()
    assert source_commit(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "notes.txt").write_text("untracked files do not count")
    assert source_commit(tmp_path)["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert source_commit(tmp_path) == {"commit": head, "dirty": True}
    # a run's records name the code its process loaded, read once (git does not run per record)
    assert provenance()["code"] == provenance()["code"] == running_code()
    assert running_code.cache_info().misses <= 1


def test_a_training_run_records_provenance_and_warns_when_nothing_is_learned(run_root, capsys):
    argv = ["train", "env=pendulum", "total_steps=100", "eval_every=100", "checkpoint_every=100"]
    assert main([*argv, "eval_episodes=1", "progress=false", f"run_root={run_root}"]) == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if "nothing will be learned" in line]
    assert len(warning) == 1 and "learning_starts=5000" in warning[0]
    run = run_root / "default" / "Pendulum-v1" / "sac" / "seed_0"
    done = json.loads((run / "done.json").read_text())
    assert done["provenance"]["libraries"]["gymnasium"]
    assert json.loads((run / "provenance.json").read_text())["cpu"] == done["provenance"]["cpu"]


def test_smoke_preset_reaches_gradient_updates():
    from agents.workspace import build_config

    cfg = build_config(["experiment=smoke", "env=Hopper-v5"])
    assert cfg.agent.learning_starts < cfg.total_steps


def test_known_noise_is_filtered_and_nothing_else(monkeypatch):
    from causal_priors.quiet import quiet_known_noise

    monkeypatch.delenv("DISPLAY", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_known_noise()
        warnings.warn("(65550) b'X11: The DISPLAY environment variable is missing'", UserWarning, stacklevel=1)
        warnings.warn("an unrelated warning", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["an unrelated warning"]
    absl = logging.getLogger("absl")
    keep = logging.LogRecord("absl", logging.WARNING, __file__, 1, "another absl warning", None, None)
    drop = logging.LogRecord(
        "absl", logging.WARNING, __file__, 1, "compiler attribute 'settotalmass' is deprecated and ...", None, None
    )
    assert absl.filter(keep) and not absl.filter(drop)
