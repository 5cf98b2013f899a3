"""The 2 x 2 toy sweep through the SLURM launcher, on submitit's local executor (``slurm.cluster=local``).

The jobs are real submitit jobs (pickled, started as separate processes, results read back from the job
folder); only ``sbatch`` is replaced by a local process. submitit is an optional extra
(``pip install "causal-priors[slurm]"``); without it the module is skipped.
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
from sweep_cases import RUNS, results, write_sweep

from causal_priors.errors import ConfigError
from causal_priors.sweep import run_sweep, sweep_main
from causal_priors.sweep_plan import load_sweep

pytest.importorskip("submitit", reason="submitit not installed (pip install 'causal-priors[slurm]')")

ON_LOCAL_SLURM = ["launcher=slurm", "slurm.cluster=local"]


def _job_folders(exp: Path) -> set[str]:
    return {p.name for p in (exp / "slurm").iterdir() if p.name != "%j"} if (exp / "slurm").is_dir() else set()


def test_slurm_sweep_matches_local_pool_skips_on_rerun_and_records_a_failure(tmp_path: Path) -> None:
    local = run_sweep(load_sweep(write_sweep(tmp_path / "local")), quiet=True)
    sweep = write_sweep(tmp_path / "slurm")
    on_slurm = run_sweep(load_sweep(sweep, ON_LOCAL_SLURM), quiet=True)
    assert local["backend"] == "local" and on_slurm["backend"] == "slurm"
    for summary in (local, on_slurm):
        assert summary["counts"] == {"skipped": 0, "done": 4, "resumed": 0, "failed": 0}, summary
    exp = tmp_path / "slurm" / "runs" / "toy"
    assert results(exp) == results(tmp_path / "local" / "runs" / "toy")  # metrics and curves, bit for bit
    jobs = _job_folders(exp)
    assert len(jobs) == 4  # one submitit job per run, each with its log next to its result
    assert all(list((exp / "slurm" / job).glob("*_log.out")) for job in jobs)
    assert all((exp / run / "run.log").is_file() for run in RUNS)  # the run's own output, as locally

    # a rerun started while a job still ran that run is refused by the run's lock and leaves failed.json
    # behind; once the run has finished, the next sweep drops that stale record
    (exp / "sine/mlp/seed_1/failed.json").write_text("{}")
    again = run_sweep(load_sweep(sweep, ON_LOCAL_SLURM), quiet=True)
    assert again["counts"] == {"skipped": 4, "done": 0, "resumed": 0, "failed": 0}
    assert not (exp / "sine/mlp/seed_1/failed.json").exists()
    assert _job_folders(exp) == jobs  # finished runs are skipped before anything is submitted

    shutil.rmtree(exp / "sine/linear/seed_1")  # missing: runs from scratch
    (exp / "sine/mlp/seed_0/done.json").unlink()  # interrupted with corrupt checkpoints: fails
    for state in (exp / "sine/mlp/seed_0/checkpoints").glob("step_*/state.npz"):
        state.write_bytes(b"not a checkpoint")
    assert sweep_main([str(sweep), *ON_LOCAL_SLURM]) == 1
    summary = json.loads((exp / "sweep_summary.json").read_text())
    assert summary["backend"] == "slurm"
    assert summary["counts"] == {"skipped": 2, "done": 1, "resumed": 0, "failed": 1}
    assert len(_job_folders(exp)) == 6  # two more jobs: only the unfinished runs were submitted
    record = json.loads((exp / "sine/mlp/seed_0/failed.json").read_text())
    assert record["returncode"] == 2 and "no valid checkpoint" in record["error"]
    assert results(exp)["sine/linear/seed_1"] == results(tmp_path / "local" / "runs" / "toy")["sine/linear/seed_1"]


def test_slurm_keys_are_checked_and_the_plan_names_the_launcher(tmp_path: Path, capsys) -> None:
    sweep = write_sweep(tmp_path)
    cfg = load_sweep(sweep, ["launcher=slurm", "slurm.partition=gpu", "slurm.time_min=120", "slurm.mem_gb=32"])
    assert cfg.launcher == "slurm" and cfg.slurm.partition == "gpu" and cfg.slurm.cluster == "slurm"
    assert load_sweep(sweep, ["ray.address=auto"]).launcher == "ray"  # old spelling kept
    assert load_sweep(sweep, ["launcher=ray"]).ray.enabled
    for bad, key in [
        ("slurm.time_min=0", "slurm.time_min"),
        ("slurm.mem_gb=-1", "slurm.mem_gb"),
        ("slurm.cpus_per_task=0", "slurm.cpus_per_task"),
        ("slurm.array_parallelism=0", "slurm.array_parallelism"),
        ("slurm.cluster=aws", "slurm.cluster"),
        ("slurm.partiton=gpu", "partiton"),
        ("launcher=slrum", "launcher"),
    ]:
        with pytest.raises(ConfigError, match=key):
            load_sweep(sweep, ["launcher=slurm", bad])
    with pytest.raises(ConfigError, match="Ray is selected too"):
        load_sweep(sweep, ["launcher=slurm", "ray.address=auto"])

    assert sweep_main([str(sweep), "launcher=slurm", "slurm.partition=gpu", "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert "on slurm: one job per run, partition=gpu, time=60 min" in plan and "slurm/%j" in plan
    assert not (tmp_path / "runs" / "toy" / "slurm").exists()  # a dry run submits nothing


@pytest.mark.skipif(shutil.which("sbatch") is not None, reason="a real SLURM is here")
def test_without_sbatch_a_real_slurm_sweep_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sbatch"):
        run_sweep(load_sweep(write_sweep(tmp_path), ["launcher=slurm"]), quiet=True)
    assert not list((tmp_path / "runs").rglob("done.json"))


def _run_processes(tmp_path: Path) -> str:
    """Command lines of the processes still running a run of this test's sweep."""
    return subprocess.run(["pgrep", "-f", f"run_root={tmp_path}"], capture_output=True, text=True).stdout


def test_cancel_on_interrupt_cancels_the_jobs_and_a_rerun_resumes_them(tmp_path: Path) -> None:
    """SIGTERM of the driver with ``--cancel-on-interrupt``: its jobs are cancelled (as local runs die with
    a local sweep), the unfinished runs are ``interrupted``, and the same command finishes them."""
    sweep = write_sweep(
        tmp_path,
        # 400 steps of 0.05 s: no run can finish between the first checkpoint and the signal, even on a loaded machine
        overrides={"task": "sine", "total_steps": 400, "step_sleep": 0.05, "eval_every": 20, "checkpoint_every": 20},
    )
    exp = tmp_path / "runs" / "toy"
    cmd = [sys.executable, "-m", "causal_priors.cli", "sweep", str(sweep), *ON_LOCAL_SLURM, "--cancel-on-interrupt"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 90
    while not list(exp.glob("*/*/seed_*/checkpoints/latest.json")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "cancelled 4 SLURM job(s)" in err, err
    summary = json.loads((exp / "sweep_summary.json").read_text())
    assert summary["counts"]["interrupted"] == 4 and summary["counts"]["failed"] == 0
    deadline = time.time() + 30  # cancelled processes take a moment to exit on a loaded machine
    while (left := _run_processes(tmp_path)) and time.time() < deadline:
        time.sleep(0.2)
    assert left == "", "run processes outlived their cancelled jobs"

    again = run_sweep(load_sweep(sweep, [*ON_LOCAL_SLURM, "overrides.step_sleep=0"]), quiet=True)
    assert again["counts"]["failed"] == 0 and again["counts"]["resumed"] >= 1, again
    assert all((exp / run / "done.json").is_file() for run in RUNS)


def test_a_job_killed_without_a_result_is_recorded_and_the_rerun_resumes_it(tmp_path: Path) -> None:
    """The job process itself is killed mid-run (as the out-of-memory killer or a node failure would): the
    sweep records the run as failed with the job's id and state, and the same command resumes it."""
    sweep = write_sweep(
        tmp_path,
        grid={"method": ["linear"], "seed": [0]},
        overrides={"task": "sine", "total_steps": 200, "step_sleep": 0.1, "eval_every": 20, "checkpoint_every": 20},
    )
    run = tmp_path / "runs" / "toy" / "sine/linear/seed_0"
    cmd = [sys.executable, "-m", "causal_priors.cli", "sweep", str(sweep), *ON_LOCAL_SLURM]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    while not (run / "checkpoints" / "latest.json").is_file() and time.time() < deadline:
        time.sleep(0.05)
    (child,) = subprocess.run(["pgrep", "-f", f"run_root={tmp_path}"], capture_output=True, text=True).stdout.split()
    job_process = int(Path(f"/proc/{child}/stat").read_text().split(")")[1].split()[1])  # the run's parent
    os.kill(job_process, signal.SIGKILL)  # the run dies with it (PR_SET_PDEATHSIG)
    assert proc.wait(timeout=60) == 1
    record = json.loads((run / "failed.json").read_text())
    assert record["slurm_job"] and "ended without a result" in record["error"], record
    assert not (run / "done.json").exists()

    again = run_sweep(load_sweep(sweep, [*ON_LOCAL_SLURM, "overrides.step_sleep=0"]), quiet=True)
    assert again["counts"] == {"skipped": 0, "done": 0, "resumed": 1, "failed": 0}, again
    assert not (run / "failed.json").exists()


@pytest.mark.slow
def test_a_job_at_its_time_limit_is_requeued_and_its_run_resumes(tmp_path: Path) -> None:
    """A run longer than its job's time (~50 s of work; the local executor signals the time limit 30 s into a
    1 min job): submitit requeues the job, and the run continues from its checkpoint in the same sweep."""
    sweep = write_sweep(
        tmp_path,
        grid={"method": ["linear"], "seed": [0]},
        overrides={"task": "sine", "total_steps": 250, "step_sleep": 0.2, "eval_every": 25, "checkpoint_every": 25},
    )
    run = tmp_path / "runs" / "toy" / "sine/linear/seed_0"
    summary = run_sweep(load_sweep(sweep, [*ON_LOCAL_SLURM, "slurm.time_min=1"]), quiet=True)
    assert summary["counts"] == {"skipped": 0, "done": 0, "resumed": 1, "failed": 0}, summary
    log = (run / "run.log").read_text()
    assert 2 <= log.count("=== ") <= 4  # the first job, then its requeued self (at most 3 requeues)
    steps = [int(line.split(",")[0]) for line in (run / "curves.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps)) and steps[-1] == 250
