"""Low-shot adaptation to an unseen environment (honest protocol).

For each number of batches ``n`` in ``adapt.batches`` the trained method is restored, ``n * batch_size``
scenes are drawn from the target's adaptation pool (nested draws: more batches contain the fewer), and
only ``method.adaptation_parameters()`` are updated for a *fixed* budget of ``adapt.steps`` steps on
``method.adaptation_loss`` (no model selection on target data beyond the adaptation scenes). ``n = 0`` is
zero-shot. Scores are on the target's test scenes after the ``eval.reference_scenes`` leading ones; the
adaptation scenes are the reference scenes when ``n > 0`` (causal motion reads their styles).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from causal_priors.errors import ConfigError
from causal_priors.rundir import claim_run
from causal_priors.runs import atomic_write_text, scalar_writer, write_json, write_scalars
from causal_priors.seeding import single_thread
from forecasting.batch import SceneBatch
from forecasting.data import SceneDataset
from forecasting.devices import method_device
from forecasting.evaluate import evaluate_method, metric_names, to_csv, to_markdown
from forecasting.models.base import ForecastMethod
from forecasting.runfiles import load_trained, run_dir_for
from forecasting.step_metrics import to_host


def _cycle(ds: SceneDataset, batch_size: int, rng: np.random.Generator) -> Iterator[SceneBatch]:
    while True:
        yield from ds.batches(min(batch_size, len(ds)), shuffle=True, rng=rng)


def adapt_method(
    method: ForecastMethod, scenes: SceneDataset, steps: int, lr: float, batch_size: int, seed: int = 0
) -> list[dict[str, float]]:
    """Fine-tune ``method.adaptation_parameters()`` in place on ``scenes``; returns the per-step metrics.

    Every other parameter keeps ``requires_grad=False`` during the updates (restored afterwards), so the
    frozen parts cannot change even through shared modules. Batches go to the method's device; the metrics
    stay there until the end and come back to the host in one transfer.
    """
    params = method.adaptation_parameters()
    if not params:
        raise ConfigError(f"method {method.name} declares no adaptation parameters")
    allowed = {id(p) for p in params}
    saved = {id(p): p.requires_grad for p in method.parameters()}
    for p in method.parameters():
        p.requires_grad_(id(p) in allowed)
    opt = torch.optim.Adam(params, lr=lr)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    device = method_device(method)
    history: list[dict[str, Any]] = []
    try:
        method.train()
        batches = _cycle(scenes, batch_size, rng)
        for step in range(steps):
            loss, metrics = method.adaptation_loss(next(batches).to(device), step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            history.append(metrics)
    finally:
        for p in method.parameters():
            p.requires_grad_(saved[id(p)])
        method.eval()
    return to_host(history)


def low_shot_curve(
    method: ForecastMethod,
    pool: SceneDataset,
    target: SceneDataset,
    cfg: Any,
) -> dict[int, dict[str, float]]:
    """Target-environment metrics for every adaptation set size in ``cfg.adapt.batches``.

    Args:
        method: the trained method (left unchanged: each size adapts a fresh copy).
        pool: the target's adaptation scenes (synthetic: ``val/`` of the target radius).
        target: the target's test scenes.
        cfg: the forecast config (``adapt`` and ``eval`` sections).
    """
    a, e = cfg.adapt, cfg.eval
    name = target.domain_names[0]
    order = np.random.default_rng(int(a.seed)).permutation(len(pool))
    curve: dict[int, dict[str, float]] = {}
    for n in sorted(int(x) for x in a.batches):
        model = copy.deepcopy(method)
        reference = None
        if n > 0:
            count = n * int(a.batch_size)
            if count > len(pool):
                raise ConfigError(f"adapt.batches={n}: needs {count} scenes, the pool has {len(pool)}")
            scenes = pool.subset(np.sort(order[:count]))
            if model.trainable:  # untrained mechanisms (orca_style) adapt through the references alone
                adapt_method(model, scenes, int(a.steps), float(a.lr), int(a.batch_size), int(a.seed))
            reference = scenes.to_batch()
        m = evaluate_method(
            model,
            {name: target},
            method.domain_names,
            reference_scenes=int(e.reference_scenes),
            num_samples=list(e.num_samples),
            batch_size=int(e.batch_size),
            reference=reference,
        )
        curve[n] = {k: m[f"{k}/{name}"] for k in metric_names(list(e.num_samples))}
    return curve


def run_adaptation(cfg: Any) -> dict[int, dict[str, float]]:
    """``forecast adapt``: load the trained run, adapt on the target, write ``adapt/`` tables, plot, logs.

    Holds the run directory's lock (:func:`causal_priors.rundir.claim_run`) while it writes there.
    """
    single_thread()
    method = load_trained(cfg)
    with claim_run(run_dir_for(cfg), None, resume=True, what="forecast adapt"):
        return write_adaptation(cfg, method)


def write_adaptation(cfg: Any, method: ForecastMethod | None = None) -> dict[int, dict[str, float]]:
    """The work of :func:`run_adaptation` for a caller that already holds the run's lock (``forecast train``)."""
    from forecasting.plots import plot_adaptation
    from forecasting.splits import adaptation_pool, adaptation_target

    if method is None:
        method = load_trained(cfg)

    pool, target = adaptation_pool(cfg), adaptation_target(cfg)
    curve = low_shot_curve(method, pool, target, cfg)
    out = Path(run_dir_for(cfg)) / "adapt"
    out.mkdir(parents=True, exist_ok=True)
    rows = [{"batches": n, **vals} for n, vals in curve.items()]
    write_json(out / f"adapt_{cfg.adapt.domain}.json", {"curve": {str(n): v for n, v in curve.items()}})
    atomic_write_text(out / f"adapt_{cfg.adapt.domain}.csv", to_csv(rows))
    title = f"{cfg.model.label or cfg.model.name}: low-shot adaptation to {cfg.adapt.domain} ({cfg.adapt.steps} steps)"
    atomic_write_text(out / f"adapt_{cfg.adapt.domain}.md", to_markdown(rows, title))
    plot_adaptation({cfg.model.label or cfg.model.name: curve}, out / f"adapt_{cfg.adapt.domain}.png", title=title)
    _merge_into_done(Path(run_dir_for(cfg)) / "done.json", f"adapt_{cfg.adapt.domain}", curve)
    writer = scalar_writer(out)
    for n, vals in curve.items():
        write_scalars(writer, {f"forecast/adapt/{k}": v for k, v in vals.items()}, n)
    writer.close()
    return curve


def _merge_into_done(done: Path, prefix: str, curve: dict[int, dict[str, float]]) -> None:
    """Add ``<prefix>/<metric>/b<n>`` to the run's ``done.json`` metrics (read by the report tool)."""
    if not done.is_file():
        return
    data = json.loads(done.read_text())
    metrics = data.setdefault("metrics", {})
    for n, vals in curve.items():
        metrics.update({f"{prefix}/{k}/b{n}": v for k, v in vals.items()})
    write_json(done, data)
