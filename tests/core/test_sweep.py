"""Sweeps of the tiny ``toy`` command: complete, resume after a kill, survive a failing run.

Each run is a real subprocess (``python -m tests.core.toy_run ...``) of a seeded numpy regression
with checkpoints, so these tests exercise exactly what a study of ``train`` runs goes through.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweep_cases import RUNS, TOY_2X2, TOY_COMMAND, results, write_sweep

from causal_priors.errors import ConfigError
from causal_priors.results import read_done
from causal_priors.sweep import run_sweep, sweep_main
from causal_priors.sweep_plan import load_sweep, plan_runs
from configs import CONFIG_ROOT


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One uninterrupted 2 x 2 sweep (with its report): the results every other sweep must reproduce."""
    folder = tmp_path_factory.mktemp("reference")
    summary = run_sweep(load_sweep(write_sweep(folder), ["report=true"]), quiet=True)
    assert summary["counts"] == {"skipped": 0, "done": 4, "resumed": 0, "failed": 0}, summary
    return folder / "runs" / "toy", summary


def test_sweep_completes_and_rerun_skips_everything(reference: tuple[Path, dict], tmp_path: Path) -> None:
    exp, summary = reference
    for run in RUNS:
        for name in ("config.yaml", "curves.csv", "done.json", "run.log", "checkpoints/latest.json"):
            assert (exp / run / name).is_file(), f"{run}/{name}"
    written = json.loads((exp / "sweep_summary.json").read_text())
    assert [Path(r["run_dir"]).relative_to(exp).as_posix() for r in written["runs"]] == list(RUNS)
    assert (exp / "report" / "summary.md").is_file() and (exp / "report" / "curves_sine.png").is_file()
    # the mlp fits a sine far better than a line: the sweep ran real, distinct configurations
    metrics = results(exp)
    assert metrics["sine/mlp/seed_0"][0]["eval/mse"] < 0.5 * metrics["sine/linear/seed_0"][0]["eval/mse"]
    assert metrics["sine/mlp/seed_0"][0] != metrics["sine/mlp/seed_1"][0]

    again = run_sweep(load_sweep(exp.parent.parent / "sweep.yaml"), quiet=True)
    assert again["counts"] == {"skipped": 4, "done": 0, "resumed": 0, "failed": 0}
    assert results(exp) == metrics


def test_killed_sweep_resumes_only_missing_runs_with_identical_results(
    reference: tuple[Path, dict], tmp_path: Path
) -> None:
    ref, _ = reference
    # step_sleep slows the runs (not their results) so that the kill lands mid-run
    sweep = write_sweep(tmp_path, max_workers=1)
    exp = tmp_path / "runs" / "toy"
    cmd = [sys.executable, "-m", "causal_priors.cli", "sweep", str(sweep), "overrides.step_sleep=0.02"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            done = [r for r in RUNS if (exp / r / "done.json").is_file()]
            running = [r for r in RUNS if r not in done and (exp / r / "checkpoints" / "latest.json").is_file()]
            if done and running:
                break
            assert proc.poll() is None, "sweep ended before it could be interrupted"
            time.sleep(0.05)
        else:
            pytest.fail("no run finished within 120 s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its runs, as a preemption would
        proc.wait()
    before = {r: (exp / r / "done.json").read_text() for r in done}

    summary = run_sweep(load_sweep(sweep), quiet=True)
    status = {Path(r["run_dir"]).relative_to(exp).as_posix(): r["status"] for r in summary["runs"]}
    assert {status[r] for r in done} == {"skipped"}
    assert {status[r] for r in running} == {"resumed"}
    assert summary["counts"]["failed"] == 0 and summary["counts"]["resumed"] == len(running)
    assert summary["counts"]["skipped"] + summary["counts"]["resumed"] + summary["counts"]["done"] == 4
    assert {r: (exp / r / "done.json").read_text() for r in done} == before  # untouched
    assert results(exp) == results(ref)  # metrics and full curves, bit for bit


def test_failing_run_is_recorded_and_the_rest_complete(reference: tuple[Path, dict], tmp_path: Path) -> None:
    ref, _ = reference
    exp = tmp_path / "runs" / "toy"
    shutil.copytree(ref, exp)
    shutil.rmtree(exp / "sine/linear/seed_1")  # missing: runs from scratch
    (exp / "sine/mlp/seed_0/done.json").unlink()  # interrupted with a corrupt checkpoint: fails
    for state in (exp / "sine/mlp/seed_0/checkpoints").glob("step_*/state.npz"):  # every kept checkpoint
        state.write_bytes(b"not a checkpoint")
    sweep = write_sweep(tmp_path)

    assert sweep_main([str(sweep)]) == 1
    summary = json.loads((exp / "sweep_summary.json").read_text())
    assert summary["counts"] == {"skipped": 2, "done": 1, "resumed": 0, "failed": 1}
    (failed,) = [r for r in summary["runs"] if r["status"] == "failed"]
    assert failed["run_dir"].endswith("sine/mlp/seed_0") and failed["returncode"] != 0
    record = json.loads((exp / "sine/mlp/seed_0/failed.json").read_text())
    # a one-line error (exit 2) naming the damage, not a traceback
    assert "no valid checkpoint" in record["error"] and "Traceback" not in record["error"]
    assert failed["returncode"] == 2 and "resume=true" in record["command"]
    assert results(exp)["sine/linear/seed_1"] == results(ref)["sine/linear/seed_1"]

    shutil.rmtree(exp / "sine/mlp/seed_0/checkpoints")  # fix the cause; the retry starts afresh
    assert sweep_main([str(sweep)]) == 0
    assert not (exp / "sine/mlp/seed_0/failed.json").exists()
    assert results(exp) == results(ref)


def test_sweep_file_validation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'gird'.*sweep.yaml"):
        load_sweep(write_sweep(tmp_path, gird={"seed": [0]}))
    with pytest.raises(ConfigError, match="num_cpu"):
        load_sweep(write_sweep(tmp_path, resources={"num_cpu": 2}))
    with pytest.raises(ConfigError, match="'command'"):
        load_sweep(write_sweep(tmp_path, command="trian"))
    with pytest.raises(ConfigError, match="both"):
        load_sweep(write_sweep(tmp_path, overrides={"seed": 3}))
    with pytest.raises(ConfigError, match="run_root"):
        load_sweep(write_sweep(tmp_path, overrides={"run_root": "x"}))
    with pytest.raises(ConfigError, match="no values"):
        load_sweep(write_sweep(tmp_path, grid={"seed": []}))
    with pytest.raises(ConfigError, match="not found"):
        load_sweep(tmp_path / "nope.yaml")
    # the command's own loader checks every run's keys before anything starts
    with pytest.raises(ConfigError, match="lrr"):
        plan_runs(load_sweep(write_sweep(tmp_path, grid={"seed": [0], "lrr": [0.1]})))
    with pytest.raises(ConfigError, match="both map to run directory"):
        plan_runs(load_sweep(write_sweep(tmp_path, grid={"seed": [0], "lr": [0.1, 0.2]})))
    assert not (tmp_path / "runs").exists()


def test_plan_overrides_and_presets(tmp_path: Path) -> None:
    cfg = load_sweep(write_sweep(tmp_path), ["max_workers=1", "grid.seed=[3,4,5]", "ray.address=auto"])
    assert cfg.max_workers == 1 and cfg.ray.enabled
    specs = plan_runs(cfg)
    assert len(specs) == 6
    assert "total_steps=200" in specs[0].argv and specs[0].command == (TOY_COMMAND,)
    assert [s.point for s in specs[:2]] == [{"method": "linear", "seed": 3}, {"method": "linear", "seed": 4}]
    for preset in ("cip_vs_sac", "forecast_synthetic"):
        assert load_sweep(preset).experiment == preset
    assert load_sweep(TOY_2X2).experiment == "toy_2x2"
    assert sweep_main([str(write_sweep(tmp_path)), "--dry-run"]) == 0
    with pytest.raises(ConfigError, match="--rya"):
        sweep_main([str(write_sweep(tmp_path)), "--rya"])


@pytest.mark.slow
def test_sweep_of_real_train_runs(tmp_path: Path) -> None:
    """A tiny sac/cip x Pendulum sweep of the real ``train`` command, then its report (~30 s on 2 cores)."""
    pytest.importorskip("agents.workspace")
    sweep = write_sweep(
        tmp_path,
        command="train",
        experiment="tiny_pendulum",
        grid={"agent": ["sac", "cip"], "env": ["pendulum"], "seed": [0]},
        overrides={"total_steps": 300, "eval_every": 150, "checkpoint_every": 150, "eval_episodes": 1},
        report=True,
    )
    summary = run_sweep(load_sweep(sweep), quiet=True)
    assert summary["counts"] == {"skipped": 0, "done": 2, "resumed": 0, "failed": 0}, summary
    exp = tmp_path / "runs" / "tiny_pendulum"
    for agent in ("sac", "cip"):
        assert "eval/mean_reward" in read_done(exp / "Pendulum-v1" / agent / "seed_0")
    md = (exp / "report" / "summary.md").read_text()
    assert "| Pendulum-v1 | cip | 1 |" in md and "| Pendulum-v1 | sac | 1 |" in md
    assert run_sweep(load_sweep(sweep), quiet=True)["counts"]["skipped"] == 2
    # a larger total_steps extends the finished runs from their last checkpoint instead of skipping them
    longer = run_sweep(load_sweep(sweep, ["overrides.total_steps=450"]), quiet=True)
    assert longer["counts"] == {"skipped": 0, "done": 0, "resumed": 2, "failed": 0}, longer
    for agent in ("sac", "cip"):
        run = exp / "Pendulum-v1" / agent / "seed_0"
        assert json.loads((run / "done.json").read_text())["metrics"]["steps"] == 450
        assert [row.split(",")[0] for row in (run / "curves.csv").read_text().splitlines()[1:]] == ["150", "300", "450"]
    assert run_sweep(load_sweep(sweep, ["overrides.total_steps=450"]), quiet=True)["counts"]["skipped"] == 2


def test_sigterm_stops_runs_and_records_them_as_interrupted(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path, overrides={"task": "sine", "total_steps": 400, "step_sleep": 0.02})
    exp = tmp_path / "runs" / "toy"
    cmd = [sys.executable, "-m", "causal_priors.cli", "sweep", str(sweep)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not list(exp.glob("*/*/seed_*/checkpoints/latest.json")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # the sweep only; it must stop its runs itself
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err
    summary = json.loads((exp / "sweep_summary.json").read_text())
    assert summary["counts"]["interrupted"] == 4 and summary["counts"]["failed"] == 0
    assert not list(exp.rglob("failed.json")) and not list(exp.rglob("done.json"))
    left = subprocess.run(["pgrep", "-f", f"run_root={tmp_path}"], capture_output=True, text=True)
    assert left.stdout == "", "run processes outlived the sweep"


@pytest.mark.parametrize("value", ["yes", "sac", "3e-4", "null", "1", "", 3, 0.5, True, None, [1, 2], "a b"])
def test_override_words_parse_back_to_their_value(value) -> None:
    from causal_priors.sweep_plan import _word, read_value

    key, text = _word("k", value).split("=", 1)
    assert key == "k" and read_value(text) == value and type(read_value(text)) is type(value)


@pytest.mark.parametrize("preset", sorted(p.stem for p in (CONFIG_ROOT / "sweep").glob("*.yaml")))
def test_every_sweep_preset_plans_its_runs(preset, tmp_path):
    """Each shipped sweep expands into valid run configs (a dry run builds every run's config)."""
    from causal_priors.cli import main

    assert main(["sweep", preset, "--dry-run", f"run_root={tmp_path}"]) == 0


def test_a_second_sweep_on_a_running_experiment_is_refused(tmp_path: Path, capsys) -> None:
    """Two sweeps of one experiment would run the same runs twice into one folder: the second is refused with
    a one-line error naming the lock and the holder's pid; the lock is free again once the holder ends."""
    from causal_priors.cli import main
    from causal_priors.runs import exclusive_lock

    sweep = write_sweep(tmp_path, overrides={"total_steps": 40})
    exp = tmp_path / "runs" / "toy"
    with exclusive_lock(exp / ".sweep.lock", "test holder"):
        assert main(["sweep", str(sweep)]) == 2
        err = capsys.readouterr().err
        assert ".sweep.lock" in err and f"pid {os.getpid()}" in err and err.count("\n") == 1
        assert not list(exp.rglob("done.json"))
    assert main(["sweep", str(sweep)]) == 0
    assert len(list(exp.rglob("done.json"))) == 4


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_runs_die_with_a_killed_driver_and_a_rerun_has_one_writer_per_run(
    reference: tuple[Path, dict], tmp_path: Path
) -> None:
    """``kill -9`` of the sweep driver alone (not its process group): its runs die with it, so the rerun
    is the only writer of each run, and every run ends as in the uninterrupted sweep."""
    ref, _ = reference
    sweep = write_sweep(tmp_path, max_workers=2)
    exp = tmp_path / "runs" / "toy"
    # slow runs (40 s each, results unchanged) so that they would outlive the driver by far
    cmd = [sys.executable, "-m", "causal_priors.cli", "sweep", str(sweep), "overrides.step_sleep=0.2"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list(exp.glob("*/*/seed_*/checkpoints/latest.json")) and time.time() < deadline:
        time.sleep(0.05)
    children = _children(proc.pid)
    assert children, "no run was started"
    proc.kill()
    proc.wait()
    deadline = time.time() + 5
    while _alive(children) and time.time() < deadline:
        time.sleep(0.05)
    assert not _alive(children), "runs outlived their killed sweep driver"
    summary = run_sweep(load_sweep(sweep), quiet=True)
    assert summary["counts"]["failed"] == 0, summary
    for run in RUNS:
        steps = [int(line.split(",")[0]) for line in (exp / run / "curves.csv").read_text().splitlines()[1:]]
        assert steps == sorted(set(steps)), f"{run}: two writers left steps {steps}"
    assert results(exp) == results(ref)
