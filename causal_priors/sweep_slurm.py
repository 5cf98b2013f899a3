"""The SLURM launcher of ``causal-priors sweep``: one job per run, submitted as a job array with ``submitit``.

Each job runs exactly the unit of work of the local and Ray backends, :func:`causal_priors.sweep_exec.execute`
of one :class:`~causal_priors.sweep_exec.RunSpec` (the ``python -m causal_priors.cli ... resume=true``
subprocess, its ``run.log`` and ``failed.json``), so a sweep means the same thing on every launcher: runs
that have finished are skipped before anything is submitted, runs with a checkpoint resume, failures are
recorded. The driver waits for the jobs and reports each one as it ends.

A job that reaches its time limit or is preempted is requeued by submitit (:class:`RunJob` is
checkpointable; SLURM's ``--signal=USR2@90`` warns it) and the run continues from its last checkpoint in
the requeued job, up to 3 time-outs per job. A job that ends without a result otherwise (out of memory,
``scancel``, a node failure, too many time-outs) is recorded as failed with the SLURM state; the next
sweep resumes it from its last checkpoint.

``submitit`` is an optional extra (``pip install "causal-priors[slurm]"``); it is imported only when a
sweep runs on this launcher. ``slurm.cluster=local`` runs the same jobs as local processes through
submitit's local executor (what the tests use); ``debug`` runs them in the driver, one after another.
"""

from __future__ import annotations

import math
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from causal_priors.checks import NON_EMPTY, POSITIVE, each, in_range, one_of, validate
from causal_priors.errors import ConfigError
from causal_priors.runs import write_json
from causal_priors.sweep_exec import Callback, RunSpec, execute, result_row

__all__ = ["RunJob", "SlurmConfig", "describe", "execute_slurm"]

#: how often the driver asks for job states (submitit caches ``sacct`` between asks)
POLL_S = {"slurm": 15.0, "local": 0.5, "debug": 0.0}


@dataclass
class SlurmConfig:
    """The SLURM launcher (``launcher=slurm``): what each run's job asks for, and where submitit logs go."""

    partition: str | None = None
    """SLURM partition (``--partition``); null: the cluster's default partition."""
    time_min: int = 60
    """Time limit of each job in minutes (``--time``); a job at its limit is requeued, its run resumes."""
    cpus_per_task: int | None = None
    """CPUs per job (``--cpus-per-task``); null: ``resources.num_cpus`` rounded up."""
    mem_gb: float = 8.0
    """Memory per job in GB (``--mem``)."""
    array_parallelism: int = 64
    """At most this many jobs of the array run at once (``--array=...%N``)."""
    account: str | None = None
    """Account to charge (``--account``); null: your default account."""
    qos: str | None = None
    """Quality of service (``--qos``); null: the partition's default."""
    setup: list[str] = field(default_factory=list)
    """Shell lines run before each job (e.g. ``module load cuda``, ``source venv/bin/activate``)."""
    folder: str = ""
    """submitit's job files and logs (``%j``: job id); empty: ``<run_root>/<experiment>/slurm/%j``."""
    cancel_on_interrupt: bool = False
    """Ctrl-C / SIGTERM of the sweep cancels its queued and running jobs (also ``--cancel-on-interrupt``)."""
    cluster: str = "slurm"
    """Internal: ``slurm``; ``local`` runs the jobs as local processes (tests), ``debug`` in the driver."""

    def __post_init__(self) -> None:
        validate(
            self,
            partition=NON_EMPTY,
            time_min=in_range(1),
            cpus_per_task=in_range(1),
            mem_gb=POSITIVE,
            array_parallelism=in_range(1),
            account=NON_EMPTY,
            qos=NON_EMPTY,
            setup=each(NON_EMPTY),
            cluster=one_of("slurm", "local", "debug"),
        )


class RunJob:
    """What each job runs: :func:`~causal_priors.sweep_exec.execute` of its spec, requeued on a time limit.

    submitit calls :meth:`checkpoint` when SLURM signals the time limit (or a preemption); the returned
    submission runs the same spec again in the requeued job, where ``resume=true`` continues the run from
    its last checkpoint.
    """

    def __call__(self, spec: RunSpec) -> dict[str, Any]:
        return execute(spec)

    def checkpoint(self, spec: RunSpec) -> Any:
        """The submission to requeue: this spec again (the run resumes from its checkpoint)."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, spec)


def job_folder(cfg: SlurmConfig, experiment_dir: Path) -> Path:
    """Where submitit writes the jobs' pickles and logs (``%j`` stays for submitit to fill in)."""
    return Path(cfg.folder) if cfg.folder else experiment_dir / "slurm" / "%j"


def job_request(cfg: SlurmConfig, num_cpus: float, num_gpus: float) -> dict[str, Any]:
    """The ``sbatch`` request of one job, in submitit's parameter names."""
    params: dict[str, Any] = {
        "timeout_min": cfg.time_min,
        "cpus_per_task": cfg.cpus_per_task or max(1, math.ceil(num_cpus)),
        "mem_gb": cfg.mem_gb,
        "nodes": 1,
        "tasks_per_node": 1,
        "slurm_array_parallelism": cfg.array_parallelism,
    }
    if num_gpus > 0:
        params["gpus_per_node"] = math.ceil(num_gpus)
    for key in ("partition", "account", "qos"):
        if getattr(cfg, key) is not None:
            params[f"slurm_{key}"] = getattr(cfg, key)
    if cfg.setup:
        params["slurm_setup"] = list(cfg.setup)
    return params


def describe(cfg: SlurmConfig, num_cpus: float, num_gpus: float, experiment_dir: Path) -> str:
    """One line for the sweep's plan: the cluster and each job's request."""
    req = job_request(cfg, num_cpus, num_gpus)
    parts = [f"partition={cfg.partition or 'default'}", f"time={cfg.time_min} min"]
    parts += [f"cpus={req['cpus_per_task']}", f"mem={cfg.mem_gb:g} GB"]
    parts += [f"gpus={req['gpus_per_node']}"] if "gpus_per_node" in req else []
    parts += [f"{k}={getattr(cfg, k)}" for k in ("account", "qos") if getattr(cfg, k) is not None]
    parts += [f"at most {cfg.array_parallelism} at once", f"logs in {job_folder(cfg, experiment_dir)}"]
    where = "slurm" if cfg.cluster == "slurm" else f"slurm (submitit cluster={cfg.cluster})"
    return f"{where}: one job per run, {', '.join(parts)}"


def _executor(cfg: SlurmConfig, folder: Path, params: dict[str, Any], name: str) -> Any:
    try:
        import submitit
    except ImportError:
        raise ConfigError(
            "launcher=slurm needs submitit: pip install 'causal-priors[slurm]' (or choose launcher=local|ray)"
        ) from None
    missing = [tool for tool in ("sbatch", "srun") if shutil.which(tool) is None]
    if cfg.cluster == "slurm" and missing:
        raise ConfigError(f"launcher=slurm: {' and '.join(missing)} not on PATH; start the sweep on a SLURM login node")
    executor = submitit.AutoExecutor(folder=folder, cluster=cfg.cluster)
    executor.update_parameters(name=name, **params)
    return executor


def _job_failure(job: Any, spec: RunSpec, err: BaseException) -> dict[str, Any]:
    """The row of a job that ended without a result; ``failed.json`` says what SLURM reported."""
    try:
        state = job.state
    except Exception:  # noqa: BLE001 - sacct unreachable: the error itself still says enough
        state = "UNKNOWN"
    lines = [line for line in str(err).splitlines() if line.strip()]
    error = f"slurm job {job.job_id} ended without a result (state {state}): {lines[-1] if lines else err!r}"
    row = result_row(spec, "failed", error=error)
    write_json(Path(spec.run_dir) / "failed.json", {**row, "slurm_job": job.job_id, "slurm_state": state})
    return row


def execute_slurm(
    specs: Sequence[RunSpec],
    cfg: SlurmConfig,
    *,
    num_cpus: float,
    num_gpus: float,
    experiment_dir: Path,
    name: str,
    on_result: Callback,
) -> None:
    """Submit one job per spec as a job array and report each row through ``on_result`` as its job ends.

    On Ctrl-C / SIGTERM the queued and running jobs are cancelled when ``cfg.cancel_on_interrupt``;
    otherwise they keep running on the cluster (their ids are printed) and the interrupt propagates.

    Raises:
        ConfigError: submitit is not installed, or ``sbatch``/``srun`` are missing for ``cluster=slurm``.
    """
    from submitit.helpers import as_completed

    folder = job_folder(cfg, experiment_dir)
    executor = _executor(cfg, folder, job_request(cfg, num_cpus, num_gpus), name)
    jobs = executor.map_array(RunJob(), list(specs))
    spec_of = {id(job): spec for job, spec in zip(jobs, specs, strict=True)}
    pending = {id(job): job for job in jobs}
    try:
        for job in as_completed(jobs, poll_frequency=POLL_S[cfg.cluster]):
            spec = spec_of[id(job)]
            try:
                row = job.result()
            except Exception as err:  # noqa: BLE001 - the job (not its run) died: scancel, node failure, 4th time-out
                row = _job_failure(job, spec, err)
            pending.pop(id(job))
            on_result(spec, row)
    except BaseException:
        left = list(pending.values())
        if left and cfg.cancel_on_interrupt:
            for job in left:
                job.cancel(check=False)
            print(f"sweep: cancelled {len(left)} SLURM job(s)", file=sys.stderr)
        elif left:
            ids = " ".join(job.job_id for job in left)
            print(
                f"sweep: {len(left)} SLURM job(s) keep running: {ids} (scancel them to stop; "
                "a rerun after they end skips finished runs and resumes the rest)",
                file=sys.stderr,
            )
        raise
