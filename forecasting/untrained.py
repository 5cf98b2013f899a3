"""``forecast train`` for methods without gradient training (``orca_style``): same run directory, same outputs.

Instead of an optimisation loop the method's default style is estimated from the pooled training scenes
(``fit_default_style``); then, exactly as for a trained method: ``config.yaml``, ``model.pt`` (the style
buffers), in-distribution validation, test tables and plots in ``eval/``, the low-shot curve when
``adapt_after`` is set, and ``done.json``. The styles inferred for every test environment from its reference
scenes are recorded in ``done.json`` as ``style/{radius,speed,time_horizon}/<env>``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from causal_priors.config import save_config
from causal_priors.provenance import provenance, write_provenance
from causal_priors.rundir import claim_run
from causal_priors.runs import write_json
from causal_priors.seeding import seed_everything, single_thread
from forecasting.devices import training_device
from forecasting.models.base import build_method
from forecasting.runfiles import run_dir_for, save_model
from forecasting.splits import check_test_files, split_reference, test_sets, train_val

STYLE_FIELDS = ("radius", "speed", "time_horizon")


def inferred_styles(method: Any, cfg: Any) -> dict[str, float]:
    """``style/<field>/<env>`` of every test environment, from its reference scenes (or the default style)."""
    out: dict[str, float] = {}
    for name, ds in test_sets(cfg).items():
        ref, _ = split_reference(ds, int(cfg.eval.reference_scenes))
        style = method.reference_style(name, ref.to_batch() if len(ref) else None)
        out.update({f"style/{f}/{name}": v for f, v in zip(STYLE_FIELDS, style.as_list(), strict=True)})
    return out


def run_untrained(cfg: Any) -> dict[str, float]:
    """Fit the default style, evaluate (and adapt), write ``done.json``; returns the final metrics.

    Same run protocol as a trained method: the run directory is claimed (one writer, no overwrite without
    ``resume=true``, no resume under another config) while everything is written.
    """
    from forecasting.adapt import write_adaptation
    from forecasting.train import reference_batch, validate, write_evaluation

    single_thread()
    check_test_files(cfg)
    rd = run_dir_for(cfg)
    may_change = ("keep_checkpoints", "progress", "device")
    with claim_run(rd, cfg, resume=bool(cfg.resume), what="forecast train", ignore=may_change):
        if cfg.resume and (rd / "done.json").is_file():
            return json.loads((rd / "done.json").read_text())["metrics"]
        seed_everything(int(cfg.seed))
        train, val = train_val(cfg)
        extra = 0 if train.extra is None else train.extra.shape[-1]
        t0 = time.time()
        method = build_method(cfg.model.name, cfg.model, train.domain_names, extra, 1)
        default = method.fit_default_style(train, seed=int(cfg.seed))
        method.to(training_device(cfg))  # the mechanism runs on the host; its predictions go to this device
        fit_wall = time.time() - t0
        save_config(cfg, rd / "config.yaml")
        write_provenance(rd)
        save_model(method, cfg, rd)
        reference = reference_batch(train, int(cfg.eval.reference_scenes))
        val_metrics = validate(method, val, reference, int(cfg.eval.batch_size))
        final = {f"val/{k}": v for k, v in val_metrics.items()}
        final.update({f"style/{f}/train": v for f, v in zip(STYLE_FIELDS, default.as_list(), strict=True)})
        final["train/wall_s"] = fit_wall
        final["train/s_per_step"] = 0.0
        final["train/params"] = 0.0
        if cfg.test_after:
            final.update({f"test/{k}": v for k, v in write_evaluation(cfg, method, rd / "eval").items()})
            final.update(inferred_styles(method, cfg))
        if cfg.adapt_after:
            curve = write_adaptation(cfg, method)
            final.update(
                {f"adapt_{cfg.adapt.domain}/{k}/b{n}": v for n, vals in curve.items() for k, v in vals.items()}
            )
        write_json(rd / "done.json", {"metrics": final, "provenance": provenance()})
        return final
