"""The forecasting trainer: one loop for every method, logging, checkpoints, exact resume, final evaluation.

Sweep-tool API: :func:`build_config` (argv -> config), :func:`run_dir_for` (config -> run directory) and
:func:`run` (config -> final metrics; writes ``<run_dir>/done.json``). A run directory holds
``config.yaml``, ``checkpoints/step_<n>/`` (the shared verified format of :mod:`causal_priors.checkpoints`:
``model.pt`` with model, optimiser, scheduler and torch RNG (and the CUDA generator's on a GPU), weights only,
loaded with ``map_location="cpu"``; ``state.json`` with step, RNG
states, wall time and the not-yet-logged training metrics), TensorBoard events written by torch's
``SummaryWriter`` (``forecast/train/*``, ``forecast/val/*``, ``forecast/test/*``), ``curves.csv``,
``model.pt`` + ``model.json`` (the final weights, :mod:`forecasting.runfiles`) and ``eval/``.

The run directory follows :func:`causal_priors.rundir.claim_run`: one writer, no overwrite without
``resume=true``, no resume under a different config.

Batches are drawn epoch by epoch with ``default_rng([seed, epoch])`` (drop-last), so the batch of any step
is a function of the seed and the step: resuming replays exactly the same stream.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from causal_priors.checkpoints import (
    Checkpoint,
    CheckpointStore,
    load_json,
    load_tensors,
    restore_global_rng,
    save_tensors,
    snapshot_global_rng,
)
from causal_priors.config import load_config, save_config, to_typed
from causal_priors.errors import ConfigError, DataError
from causal_priors.provenance import provenance, write_provenance
from causal_priors.rundir import claim_run
from causal_priors.runs import CurveWriter, scalar_writer, write_json, write_scalars
from causal_priors.seeding import seed_everything, single_thread
from forecasting.batch import SceneBatch
from forecasting.data import SceneDataset
from forecasting.devices import cuda_rng_state, method_device, restore_cuda_rng, training_device
from forecasting.evaluate import evaluate_method, per_scene_metrics, results_table, write_results
from forecasting.metrics import summarize
from forecasting.models.base import ForecastMethod, build_method, is_trainable
from forecasting.runfiles import load_trained, run_dir_for, save_model
from forecasting.splits import check_test_files, data_name, test_sets, train_val
from forecasting.step_metrics import StepMetrics

__all__ = ["build_config", "evaluate_trained", "load_trained", "run", "run_dir_for", "train_step", "validate"]

#: config keys a resumed run may change (``device``: a run started on a GPU may finish on a CPU)
RESUME_MAY_CHANGE = ("keep_checkpoints", "progress", "device")

CURVE_FIELDS = ["step", "loss", "val_ade", "val_fde", "wall_s"]


def build_config(argv: Sequence[str] = ()) -> Any:
    """The typed, checked ``ForecastConfig`` from ``key=value`` words (``model=``/``data=`` select YAML presets)."""
    from forecasting.config import ForecastConfig

    return to_typed(load_config(ForecastConfig, list(argv), groups=("model", "data")))


def reference_batch(ds: SceneDataset, per_domain: int) -> SceneBatch:
    """The first ``per_domain`` scenes of every environment of ``ds`` as one batch."""
    parts = [d.subset(slice(0, per_domain)) for d in ds.by_domain().values()]
    return SceneDataset.concat(parts).to_batch()


def validate(method: ForecastMethod, val: SceneDataset, reference: SceneBatch, batch_size: int) -> dict[str, float]:
    """In-distribution validation: ADE/FDE (and minADE_20 for generative methods) per environment."""
    ks = (20,) if method.generative else ()
    values = per_scene_metrics(method, val, reference, ks, batch_size)
    return summarize(values, torch.from_numpy(val.domain), val.domain_names, val.domain_names)


def evaluate_trained(cfg: Any, method: ForecastMethod, out_dir: Path) -> dict[str, float]:
    """Test metrics of a trained method; writes ``results.{json,csv,md}`` and plots into ``out_dir``.

    Holds the run directory's lock while it writes.
    """
    with claim_run(run_dir_for(cfg), None, resume=True, what="forecast evaluate"):
        return write_evaluation(cfg, method, out_dir)


def write_evaluation(cfg: Any, method: ForecastMethod, out_dir: Path) -> dict[str, float]:
    """The work of :func:`evaluate_trained` for a caller that already holds the run's lock."""
    from forecasting.plots import plot_error_vs_domain, plot_trajectories
    from forecasting.splits import split_reference

    test = test_sets(cfg)
    e = cfg.eval
    metrics = evaluate_method(
        method,
        test,
        method.domain_names,
        reference_scenes=int(e.reference_scenes),
        num_samples=list(e.num_samples),
        batch_size=int(e.batch_size),
    )
    rows = results_table(metrics, list(e.num_samples))
    title = f"{cfg.model.label or cfg.model.name} on {data_name(cfg)}, seed {cfg.seed}"
    write_results(out_dir, "results", metrics, rows, title)
    if e.plots:
        plot_error_vs_domain(
            {cfg.model.label or cfg.model.name: metrics},
            list(test),
            list(method.domain_names),
            out_dir / "error_vs_domain.png",
        )
        name = list(test)[-1]
        ref, scored = split_reference(test[name], int(e.reference_scenes))
        plot_trajectories(
            method, scored.subset(slice(0, 6)).to_batch(), ref.to_batch(), out_dir / f"trajectories_{name}.png"
        )
    return metrics


def _lr_lambda(total: int, floor: float):
    def f(step: int) -> float:
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(step, total) / max(total, 1)))

    return f


def train_step(
    method: ForecastMethod,
    batch: SceneBatch,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    step: int,
    grad_clip: float,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """One optimiser step on ``batch`` (already on the method's device); the detached loss and the metrics,
    both left on the device (:class:`forecasting.step_metrics.StepMetrics` reads them later)."""
    method.train()
    loss, metrics = method.loss(batch, step)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(method.parameters(), grad_clip)
    opt.step()
    sched.step()
    return loss.detach(), metrics


def _save_checkpoint(folder: Path, method, opt, sched, step: int, wall_s: float, acc: dict) -> None:
    """One checkpoint folder: tensors weights-only, everything else JSON.

    Tensors are saved where they live; :func:`causal_priors.checkpoints.load_tensors` reads them with
    ``map_location="cpu"`` and the loaders copy them onto the resuming run's device, so a checkpoint written on
    a GPU resumes on a CPU-only machine (and its CUDA generator state, when there is one, is then skipped).
    """
    rng, torch_rng = snapshot_global_rng()
    tensors = {
        "model": method.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "torch_rng": torch_rng,
        **cuda_rng_state(method_device(method)),
    }
    save_tensors(tensors, folder / "model.pt")
    write_json(folder / "state.json", {"step": step, "rng": rng, "wall_s": wall_s, "pending_metrics": acc})


def _load_checkpoint(ckpt: Checkpoint, method, opt, sched) -> tuple[int, float, dict[str, list[float]]]:
    """Restore a checkpoint into the freshly built method, optimiser and scheduler; step, wall time, metrics."""
    tensors = load_tensors(ckpt.file("model.pt"))
    state = load_json(ckpt.file("state.json"))
    try:
        method.load_state_dict(tensors["model"])
        opt.load_state_dict(tensors["optimizer"])
        sched.load_state_dict(tensors["scheduler"])
        restore_global_rng(state["rng"], tensors["torch_rng"])
        restore_cuda_rng(tensors, method_device(method))
        pending = {k: [float(x) for x in v] for k, v in state.get("pending_metrics", {}).items()}
        return int(state["step"]), float(state["wall_s"]), pending
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{ckpt.path}: checkpoint does not fit this run ({text[:200]})") from None


def run(cfg: Any) -> dict[str, float]:
    """Train (or resume) one run, evaluate it on the test environments, write ``done.json``; final metrics."""
    if not is_trainable(cfg.model.name):  # mechanism baselines: style fitted, no gradient steps
        from forecasting.untrained import run_untrained

        return run_untrained(cfg)
    single_thread()
    check_test_files(cfg)
    rd = run_dir_for(cfg)
    with claim_run(rd, cfg, resume=bool(cfg.resume), what="forecast train", ignore=RESUME_MAY_CHANGE):
        if cfg.resume and (rd / "done.json").is_file():
            return json.loads((rd / "done.json").read_text())["metrics"]
        return _train(cfg, rd)


def _train(cfg: Any, rd: Path) -> dict[str, float]:
    store = CheckpointStore(rd, int(cfg.keep_checkpoints))
    ckpt = store.latest() if cfg.resume else None
    seed_everything(int(cfg.seed))
    train, val = train_val(cfg)
    extra = 0 if train.extra is None else train.extra.shape[-1]
    steps, bs = int(cfg.steps), int(cfg.batch_size)
    if len(train) < bs:
        raise ConfigError(f"batch_size={bs} exceeds the {len(train)} training scenes")
    device = training_device(cfg)
    method = build_method(cfg.model.name, cfg.model, train.domain_names, extra, steps)
    method.prepare(train)  # data-dependent set-up (orca_residual: the training domains' styles)
    method.to(device)
    opt = torch.optim.Adam(method.parameters(), lr=float(cfg.lr), weight_decay=float(cfg.weight_decay))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(steps, float(cfg.lr_min_fraction)))
    step, resumed, wall0 = 0, False, 0.0
    acc = StepMetrics()
    if ckpt is not None:
        step, wall0, pending = _load_checkpoint(ckpt, method, opt, sched)
        resumed = True
        acc = StepMetrics(pending)
    save_config(cfg, rd / "config.yaml")
    write_provenance(rd)
    writer = scalar_writer(rd)
    curves = CurveWriter(rd / "curves.csv", CURVE_FIELDS, resume_step=step if resumed else None)
    reference = reference_batch(train, int(cfg.eval.reference_scenes))
    per_epoch = len(train) // bs
    group = int(cfg.data.group_by_agents)
    t_start, t_log, s_log = time.time(), time.time(), step
    val_metrics: dict[str, float] = {}

    def wall() -> float:
        return wall0 + time.time() - t_start

    # a bar on a terminal only (disable=None): sweep children write their output to run.log
    bar = tqdm(total=steps, initial=step, desc=rd.name, unit="step", disable=None if cfg.progress else True)
    while step < steps:
        epoch, offset = divmod(step, per_epoch)
        rng = np.random.default_rng([int(cfg.seed), epoch])
        epoch_batches = train.batches(bs, shuffle=True, rng=rng, drop_last=True, group_by_agents=group)
        for batch in islice(epoch_batches, offset, None):
            loss, m = train_step(method, batch.to(device), opt, sched, step, float(cfg.grad_clip))
            acc.add(step, loss, m)
            step += 1
            bar.update(1)
            row: dict[str, float] = {}
            log_now = step % int(cfg.log_every) == 0 or step == steps
            validate_now = (int(cfg.val_every) and step % int(cfg.val_every) == 0) or step == steps
            if log_now or validate_now or step % int(cfg.checkpoint_every) == 0:
                acc.read()  # the steps' metrics to the host at once; the NaN guard names the first bad step
            if log_now:
                means = acc.means()
                out = {f"forecast/train/{k}": v for k, v in means.items()}
                out["forecast/train/lr"] = sched.get_last_lr()[0]
                out["forecast/time/steps_per_s"] = (step - s_log) / max(time.time() - t_log, 1e-9)
                write_scalars(writer, out, step)
                row.update(loss=means.get("loss", float("nan")))
                acc.clear()
                t_log, s_log = time.time(), step
            if validate_now:
                val_metrics = validate(method, val, reference, int(cfg.eval.batch_size))
                write_scalars(writer, {f"forecast/val/{k}": v for k, v in val_metrics.items()}, step)
                row.update(val_ade=val_metrics["ade/all"], val_fde=val_metrics["fde/all"])
            if row:
                curves.append({"step": step, "wall_s": round(wall(), 2), **row})
                writer.flush()
            if step % int(cfg.checkpoint_every) == 0 or step == steps:
                writer.flush()
                write = partial(
                    _save_checkpoint, method=method, opt=opt, sched=sched, step=step, wall_s=wall(), acc=acc.pending()
                )
                store.save(step, write)
            if step >= steps:
                break
    bar.close()
    if not val_metrics:  # resumed from the final checkpoint (killed during evaluation or adaptation)
        val_metrics = validate(method, val, reference, int(cfg.eval.batch_size))
    train_wall = wall()
    save_model(method, cfg, rd)
    final = {f"val/{k}": v for k, v in val_metrics.items()}
    final["train/wall_s"] = train_wall
    final["train/s_per_step"] = train_wall / max(steps, 1)
    final["train/params"] = float(sum(p.numel() for p in method.parameters()))
    if cfg.test_after:
        test_metrics = write_evaluation(cfg, method, rd / "eval")
        write_scalars(writer, {f"forecast/test/{k}": v for k, v in test_metrics.items()}, step)
        final.update({f"test/{k}": v for k, v in test_metrics.items()})
    writer.close()
    if cfg.adapt_after:  # before done.json, so that a kill during adaptation is finished by a resume
        from forecasting import adapt

        curve = adapt.write_adaptation(cfg)
        final.update({f"adapt_{cfg.adapt.domain}/{k}/b{n}": v for n, vals in curve.items() for k, v in vals.items()})
    write_json(rd / "done.json", {"metrics": final, "provenance": provenance()})
    return final
