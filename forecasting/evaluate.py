"""Evaluation: per-environment ADE/FDE (deterministic) with minADE_K/minFDE_K side by side.

For every test environment the first ``eval.reference_scenes`` scenes are reference scenes (read by
methods that need complete trajectories of the environment, e.g. causal motion's style encoder) and the
rest are scored, identically for every method. Best-of-K is joint per scene (``forecasting.metrics``);
``energy`` / ``spread`` are the proper energy score and the samples' spread over the largest K's samples
(``forecasting.scoring``; for a deterministic method, its RMS per-step error and 0);
the K samples of the smaller K are the first K of the largest draw.

Outputs (``write_results``): ``results.json`` (flat metrics + table), ``results.csv`` and ``results.md``
(one row per environment plus the ``id``/``ood``/``all`` aggregates).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from causal_priors.runs import atomic_write_text, write_json
from forecasting.batch import SceneBatch
from forecasting.data import SceneDataset
from forecasting.devices import method_device
from forecasting.metrics import ade_fde, best_of_k, summarize
from forecasting.models.base import ForecastMethod
from forecasting.scoring import energy_score
from forecasting.splits import split_reference


def metric_names(num_samples: Sequence[int]) -> list[str]:
    """``ade, fde, energy, spread, min_ade_K, min_fde_K`` for each K (energy score: ``forecasting.scoring``)."""
    names = ["ade", "fde", "energy", "spread"]
    for k in num_samples:
        names += [f"min_ade_{k}", f"min_fde_{k}"]
    return names


@torch.no_grad()
def per_scene_metrics(
    method: ForecastMethod,
    scored: SceneDataset,
    reference: SceneBatch | None,
    num_samples: Sequence[int] = (20, 100),
    batch_size: int = 500,
) -> dict[str, torch.Tensor]:
    """Per-scene deterministic and best-of-K errors over ``scored`` (vectorised in chunks of scenes).

    The chunks and ``reference`` go to the method's device, the errors are computed there, and each metric's
    per-scene values come back to the host once, at the end (the returned tensors are on the CPU).
    """
    method.eval()
    device = method_device(method)
    reference = None if reference is None else reference.to(device)
    out: dict[str, list[torch.Tensor]] = {name: [] for name in metric_names(num_samples)}
    kmax = max(num_samples) if num_samples else 0
    for host_batch in scored.batches(batch_size):
        batch = host_batch.to(device)
        det = method.predict(batch, None, reference)
        ade, fde = ade_fde(det, batch.future, batch.agent_mask)
        out["ade"].append(ade)
        out["fde"].append(fde)
        samples = method.predict(batch, kmax, reference) if (kmax and method.generative) else None
        energy, spread = energy_score(
            samples if samples is not None else det.unsqueeze(0), batch.future, batch.agent_mask
        )
        out["energy"].append(energy.float())
        out["spread"].append(spread.float())
        for k in num_samples:
            if samples is None:
                mins = (ade, fde)
            else:
                mins = best_of_k(samples[:k], batch.future, batch.agent_mask)
            out[f"min_ade_{k}"].append(mins[0])
            out[f"min_fde_{k}"].append(mins[1])
    return {name: torch.cat(v).cpu() for name, v in out.items()}


def evaluate_method(
    method: ForecastMethod,
    test: Mapping[str, SceneDataset],
    in_distribution: Sequence[str],
    *,
    reference_scenes: int = 64,
    num_samples: Sequence[int] = (20, 100),
    batch_size: int = 500,
    reference: SceneBatch | None = None,
) -> dict[str, float]:
    """Flat metrics ``{metric/<env>, metric/id, metric/ood, metric/all}`` over the test environments.

    Args:
        test: environment name -> its test scenes.
        in_distribution: the training environments' names.
        reference_scenes: leading scenes of each environment used as references and not scored.
        reference: override the reference scenes (e.g. the adaptation scenes); ``None`` uses each
            environment's own leading scenes.
    """
    refs, scored = [], []
    for ds in test.values():
        r, s = split_reference(ds, reference_scenes)
        refs.append(r)
        scored.append(s)
    all_scored = SceneDataset.concat(scored)
    ref_batch = reference if reference is not None else SceneDataset.concat(refs).to_batch()
    values = per_scene_metrics(method, all_scored, ref_batch, num_samples, batch_size)
    present = [n for n in in_distribution if n in all_scored.domain_names]
    metrics = summarize(values, torch.from_numpy(all_scored.domain), all_scored.domain_names, present)
    for name, ds in zip(test, scored, strict=True):
        metrics[f"n_scenes/{name}"] = float(len(ds))
    return metrics


def results_table(metrics: Mapping[str, float], num_samples: Sequence[int]) -> list[dict[str, Any]]:
    """Rows ``{"env": name, "ade": ..., "fde": ..., "min_ade_20": ...}`` for every environment and aggregate."""
    names = metric_names(num_samples)
    envs: list[str] = []
    for key in metrics:
        if key.startswith("ade/"):
            env = key.split("/", 1)[1]
            if env not in ("id", "ood", "all"):
                envs.append(env)
    envs += [g for g in ("id", "ood", "all") if f"ade/{g}" in metrics]
    rows = []
    for env in envs:
        row: dict[str, Any] = {"env": env}
        row.update({m: metrics.get(f"{m}/{env}", float("nan")) for m in names})
        rows.append(row)
    return rows


def to_markdown(rows: Sequence[Mapping[str, Any]], title: str = "") -> str:
    """A Markdown table of result rows (floats with 3 decimals)."""
    if not rows:
        return ""
    cols = list(rows[0])
    lines = [f"### {title}", ""] if title else []
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()) + " |")
    return "\n".join(lines) + "\n"


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV text of result rows."""
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return buf.getvalue()


def write_results(
    out_dir: Path, stem: str, metrics: Mapping[str, float], rows: Sequence[Mapping[str, Any]], title: str
) -> None:
    """``<stem>.json`` (metrics + rows), ``<stem>.csv`` and ``<stem>.md`` in ``out_dir`` (atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / f"{stem}.json", {"metrics": dict(metrics), "rows": list(rows)})
    atomic_write_text(out_dir / f"{stem}.csv", to_csv(rows))
    atomic_write_text(out_dir / f"{stem}.md", to_markdown(rows, title))


def read_results(path: Path) -> dict[str, Any]:
    """Read a ``results.json`` written by :func:`write_results`."""
    return json.loads(path.read_text())
