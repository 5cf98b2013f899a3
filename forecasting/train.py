"""The forecasting trainer: one loop for every method, logging, checkpoints, exact resume, final evaluation.

Sweep-tool API: :func:`build_config` (argv -> config), :func:`run_dir_for` (config -> run directory) and
:func:`run` (config -> final metrics; writes ``<run_dir>/done.json``). A run directory holds
``config.yaml``, ``checkpoints/last.pt`` (model + optimiser + scheduler + step + RNG, written atomically),
TensorBoard events (``forecast/train/*``, ``forecast/val/*``, ``forecast/test/*``), ``curves.csv``,
``model.pt`` (the final weights) and ``eval/`` (results tables and plots).

Batches are drawn epoch by epoch with ``default_rng([seed, epoch])`` (drop-last), so the batch of any step
is a function of the seed and the step: resuming replays exactly the same stream.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from causal_priors.config import load_config, save_config, to_container
from causal_priors.errors import ConfigError, TrainingError
from causal_priors.runs import CurveWriter, atomic_file, log_metrics, make_logger, run_dir, write_json
from causal_priors.seeding import rng_state, seed_everything, set_rng_state, single_thread
from forecasting.batch import SceneBatch
from forecasting.data import SceneDataset
from forecasting.evaluate import evaluate_method, per_scene_metrics, results_table, write_results
from forecasting.metrics import summarize
from forecasting.models.base import ForecastMethod, build_method, is_trainable
from forecasting.splits import check_test_files, data_name, test_sets, train_val

CURVE_FIELDS = ["step", "loss", "val_ade", "val_fde", "wall_s"]


def build_config(argv: Sequence[str] = ()) -> DictConfig:
    """The forecasting config from ``key=value`` words (``model=<preset>``, ``data=<preset>`` select YAMLs)."""
    from forecasting.config import ForecastConfig

    return load_config(ForecastConfig, list(argv), groups=("model", "data"))


def run_dir_for(cfg: Any) -> Path:
    """``<run_root>/<experiment>/<data>/<model label or name>/seed_<seed>``."""
    return run_dir(cfg.run_root, cfg.experiment, data_name(cfg), cfg.model.label or cfg.model.name, int(cfg.seed))


def reference_batch(ds: SceneDataset, per_domain: int) -> SceneBatch:
    """The first ``per_domain`` scenes of every environment of ``ds`` as one batch."""
    parts = [d.subset(slice(0, per_domain)) for d in ds.by_domain().values()]
    return SceneDataset.concat(parts).to_batch()


def _atomic_save(obj: Any, path: Path) -> None:
    with atomic_file(path) as fh:
        torch.save(obj, fh)


def save_model(method: ForecastMethod, cfg: Any, path: Path) -> None:
    """Final weights with what is needed to rebuild the method."""
    meta = {
        "name": cfg.model.name,
        "domain_names": list(method.domain_names),
        "extra_channels": method.extra_channels,
        "total_steps": method.total_steps,
        "model_cfg": to_container(cfg.model),
    }
    _atomic_save({"state": method.state_dict(), "meta": meta}, path)


def load_trained(cfg: Any) -> ForecastMethod:
    """The trained method of ``cfg``'s run directory (``model.pt``)."""
    path = run_dir_for(cfg) / "model.pt"
    if not path.is_file():
        raise ConfigError(f"no trained model at {path}: run `causal-priors forecast train` with the same keys first")
    blob = torch.load(path, map_location="cpu", weights_only=False)
    meta = blob["meta"]
    from forecasting.config import ModelConfig

    # defaults first, so a checkpoint written before a config field existed still loads
    model_cfg = OmegaConf.merge(OmegaConf.structured(ModelConfig), meta["model_cfg"])
    method = build_method(
        meta["name"], model_cfg, tuple(meta["domain_names"]), meta["extra_channels"], meta["total_steps"]
    )
    method.load_state_dict(blob["state"])
    method.eval()
    return method


def validate(method: ForecastMethod, val: SceneDataset, reference: SceneBatch, batch_size: int) -> dict[str, float]:
    """In-distribution validation: ADE/FDE (and minADE_20 for generative methods) per environment."""
    ks = (20,) if method.generative else ()
    values = per_scene_metrics(method, val, reference, ks, batch_size)
    return summarize(values, torch.from_numpy(val.domain), val.domain_names, val.domain_names)


def evaluate_trained(cfg: Any, method: ForecastMethod, out_dir: Path) -> dict[str, float]:
    """Test metrics of a trained method; writes ``results.{json,csv,md}`` and plots into ``out_dir``."""
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


def _check_finite(loss: torch.Tensor, metrics: dict[str, float], step: int) -> None:
    if torch.isfinite(loss):
        return
    bad = [k for k, v in metrics.items() if not math.isfinite(v)] or ["loss"]
    raise TrainingError(f"step {step}: non-finite training metric '{bad[0]}' (loss={float(loss.detach())})")


def run(cfg: Any) -> dict[str, float]:
    """Train (or resume) one run, evaluate it on the test environments, write ``done.json``; final metrics."""
    if not is_trainable(cfg.model.name):  # mechanism baselines: style fitted, no gradient steps
        from forecasting.untrained import run_untrained

        return run_untrained(cfg)
    single_thread()
    check_test_files(cfg)
    rd = run_dir_for(cfg)
    ckpt_path = rd / "checkpoints" / "last.pt"
    if cfg.resume and (rd / "done.json").is_file():
        return json.loads((rd / "done.json").read_text())["metrics"]
    seed_everything(int(cfg.seed))
    train, val = train_val(cfg)
    extra = 0 if train.extra is None else train.extra.shape[-1]
    steps, bs = int(cfg.steps), int(cfg.batch_size)
    if len(train) < bs:
        raise ConfigError(f"batch_size={bs} exceeds the {len(train)} training scenes")
    method = build_method(cfg.model.name, cfg.model, train.domain_names, extra, steps)
    method.prepare(train)  # data-dependent set-up (orca_residual: the training domains' styles)
    opt = torch.optim.Adam(method.parameters(), lr=float(cfg.lr), weight_decay=float(cfg.weight_decay))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(steps, float(cfg.lr_min_fraction)))
    step, resumed, wall0 = 0, False, 0.0
    if cfg.resume and ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        method.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        set_rng_state(ck["rng"])
        step, resumed, wall0 = int(ck["step"]), True, float(ck["wall_s"])
    rd.mkdir(parents=True, exist_ok=True)
    save_config(cfg, rd / "config.yaml")
    logger = make_logger(rd)
    curves = CurveWriter(rd / "curves.csv", CURVE_FIELDS, resume_step=step if resumed else None)
    reference = reference_batch(train, int(cfg.eval.reference_scenes))
    per_epoch = len(train) // bs
    group = int(cfg.data.group_by_agents)
    acc: dict[str, list[float]] = defaultdict(list)
    t_start, t_log, s_log = time.time(), time.time(), step
    val_metrics: dict[str, float] = {}

    def wall() -> float:
        return wall0 + time.time() - t_start

    while step < steps:
        epoch, offset = divmod(step, per_epoch)
        rng = np.random.default_rng([int(cfg.seed), epoch])
        epoch_batches = train.batches(bs, shuffle=True, rng=rng, drop_last=True, group_by_agents=group)
        for batch in islice(epoch_batches, offset, None):
            method.train()
            loss, m = method.loss(batch, step)
            _check_finite(loss, m, step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(method.parameters(), float(cfg.grad_clip))
            opt.step()
            sched.step()
            step += 1
            for k, v in m.items():
                acc[k].append(v)
            row: dict[str, float] = {}
            if step % int(cfg.log_every) == 0 or step == steps:
                means = {k: float(np.mean(v)) for k, v in acc.items()}
                out = {f"forecast/train/{k}": v for k, v in means.items()}
                out["forecast/train/lr"] = sched.get_last_lr()[0]
                out["forecast/time/steps_per_s"] = (step - s_log) / max(time.time() - t_log, 1e-9)
                log_metrics(logger, out)
                row.update(loss=means.get("loss", float("nan")))
                acc.clear()
                t_log, s_log = time.time(), step
            if (int(cfg.val_every) and step % int(cfg.val_every) == 0) or step == steps:
                val_metrics = validate(method, val, reference, int(cfg.eval.batch_size))
                log_metrics(logger, {f"forecast/val/{k}": v for k, v in val_metrics.items()})
                row.update(val_ade=val_metrics["ade/all"], val_fde=val_metrics["fde/all"])
            if row:
                curves.append({"step": step, "wall_s": round(wall(), 2), **row})
                logger.dump(step)
            if step % int(cfg.checkpoint_every) == 0 or step == steps:
                _atomic_save(
                    {
                        "model": method.state_dict(),
                        "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(),
                        "step": step,
                        "rng": rng_state(),
                        "wall_s": wall(),
                    },
                    ckpt_path,
                )
            if step >= steps:
                break
    if not val_metrics:  # resumed from the final checkpoint (killed during evaluation or adaptation)
        val_metrics = validate(method, val, reference, int(cfg.eval.batch_size))
    train_wall = wall()
    save_model(method, cfg, rd / "model.pt")
    final = {f"val/{k}": v for k, v in val_metrics.items()}
    final["train/wall_s"] = train_wall
    final["train/s_per_step"] = train_wall / max(steps, 1)
    final["train/params"] = float(sum(p.numel() for p in method.parameters()))
    if cfg.test_after:
        test_metrics = evaluate_trained(cfg, method, rd / "eval")
        log_metrics(logger, {f"forecast/test/{k}": v for k, v in test_metrics.items()}, step)
        final.update({f"test/{k}": v for k, v in test_metrics.items()})
    logger.close()
    if cfg.adapt_after:  # before done.json, so that a kill during adaptation is finished by a resume
        from forecasting.adapt import run_adaptation

        curve = run_adaptation(cfg)
        final.update({f"adapt_{cfg.adapt.domain}/{k}/b{n}": v for n, vals in curve.items() for k, v in vals.items()})
    write_json(rd / "done.json", {"metrics": final})
    return final
