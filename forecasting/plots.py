"""Plots of the forecasting study: error vs environment, error vs adaptation batches, trajectories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from forecasting.batch import SceneBatch  # noqa: E402
from forecasting.devices import method_device  # noqa: E402
from forecasting.models.base import ForecastMethod  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _x_positions(envs: Sequence[str]) -> list[float]:
    try:
        return [float(e) for e in envs]
    except ValueError:
        return list(range(len(envs)))


def _distinct_series(values: Mapping[str, Sequence[float]], base: str = "ade") -> dict[str, Sequence[float]]:
    """``values`` without all-NaN series and without best-of-K series equal to ``base`` everywhere (a
    deterministic method's minADE_K is its ADE: one line, not three on top of each other)."""
    out = {}
    for metric, ys in values.items():
        if all(y != y for y in ys):
            continue
        if metric != base and base in values and list(ys) == list(values[base]):
            continue
        out[metric] = ys
    return out


def plot_error_vs_domain(
    metrics_by_method: Mapping[str, Mapping[str, float]],
    envs: Sequence[str],
    train_envs: Sequence[str],
    path: Path,
    metrics: Sequence[str] = ("ade", "min_ade_20", "min_ade_100"),
) -> None:
    """Error vs environment (e.g. ORCA radius) for each method and metric; training environments shaded."""
    xs = _x_positions(envs)
    fig, ax = plt.subplots(figsize=(6, 4))
    styles = {"ade": "-", "min_ade_20": "--", "min_ade_100": ":"}
    for i, (method, m) in enumerate(metrics_by_method.items()):
        color = f"C{i}"
        series = _distinct_series({k: [m.get(f"{k}/{e}", float("nan")) for e in envs] for k in metrics})
        for metric, ys in series.items():
            ax.plot(xs, ys, styles.get(metric, "-."), marker="o", color=color, label=f"{method} {metric}")
    for e, x in zip(envs, xs, strict=True):
        if e in train_envs:
            ax.axvspan(x - 0.02, x + 0.02, color="grey", alpha=0.2, lw=0)
    ax.set_xticks(xs)
    prefixes = {e.rsplit("=", 1)[0] for e in envs if "=" in e}
    if len(prefixes) == 1 and all("=" in e for e in envs):  # e.g. eth@alpha=1 ... eth@alpha=64
        ax.set_xticklabels([e.rsplit("=", 1)[1] for e in envs])
        ax.set_xlabel(f"test environment: {prefixes.pop()}= (shaded: training)")
    else:
        ax.set_xticklabels(list(envs))
        ax.set_xlabel("test environment (shaded: training)")
    ax.set_ylabel("error (m)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_adaptation(
    curves: Mapping[str, Mapping[int, Mapping[str, float]]],
    path: Path,
    metrics: Sequence[str] = ("ade", "min_ade_20"),
    title: str = "",
) -> None:
    """Error on the target environment vs number of adaptation batches, one line per method and metric."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for i, (method, by_n) in enumerate(curves.items()):
        ns = sorted(by_n)
        series = _distinct_series({k: [by_n[n].get(k, float("nan")) for n in ns] for k in metrics})
        for metric, ys in series.items():
            style = ["-", "--", ":"][list(metrics).index(metric) % 3]
            ax.plot(ns, ys, style, marker="o", color=f"C{i}", label=f"{method} {metric}")
    ax.set_xlabel("adaptation batches")
    ax.set_ylabel("error (m)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    _save(fig, path)


@torch.no_grad()
def plot_trajectories(
    method: ForecastMethod, batch: SceneBatch, reference: SceneBatch | None, path: Path, num_samples: int = 20
) -> None:
    """A few scenes: observed (solid), true future (dashed), prediction (dotted), samples (faint).

    Predicted on the method's device, drawn from host copies."""
    method.eval()
    device = method_device(method)
    on_device = batch.to(device)
    reference = None if reference is None else reference.to(device)
    pred = method.predict(on_device, None, reference).cpu()
    samples = method.predict(on_device, num_samples, reference).cpu() if method.generative else None
    batch = batch.to("cpu")
    n = batch.num_scenes
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    for b in range(n):
        ax = axes[b // cols][b % cols]
        for k in range(batch.positions.shape[1]):
            if not bool(batch.agent_mask[b, k]):
                continue
            c = f"C{k % 10}"
            obs, fut = batch.observed[b, k], batch.future[b, k]
            if samples is not None:
                for s in range(samples.shape[0]):
                    ax.plot(samples[s, b, k, :, 0], samples[s, b, k, :, 1], color=c, alpha=0.12, lw=0.8)
            ax.plot(obs[:, 0], obs[:, 1], "-", color=c, lw=2)
            ax.plot(fut[:, 0], fut[:, 1], "--", color=c, lw=1.2)
            ax.plot(pred[b, k, :, 0], pred[b, k, :, 1], ":", color="k", lw=1.5)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(f"scene {b} ({batch.domain_names[int(batch.domain[b])]})", fontsize=8)
        ax.tick_params(labelsize=6)
    for b in range(n, rows * cols):
        axes[b // cols][b % cols].axis("off")
    _save(fig, path)


def _seed_means(runs: list[dict[str, float]]) -> dict[str, float]:
    keys = set().union(*runs) if runs else set()
    return {k: sum(r[k] for r in runs if k in r) / sum(1 for r in runs if k in r) for k in keys}


def compare_runs(data_dir: Path, out_dir: Path, train_envs: Sequence[str]) -> list[Path]:
    """Plots over every method of ``<run_root>/<experiment>/<data>/`` (seed means of ``done.json``).

    Writes ``error_vs_domain.png`` (deterministic and best-of-K ADE per test environment) and, for each
    adaptation target found (``adapt_<env>/...`` keys), ``adapt_<env>.png``. Returns the written paths.
    """
    import json

    by_method: dict[str, dict[str, float]] = {}
    for method_dir in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        runs = [json.loads(f.read_text())["metrics"] for f in sorted(method_dir.glob("seed_*/done.json"))]
        if runs:
            by_method[method_dir.name] = _seed_means(runs)
    if not by_method:
        return []
    test = {m: {k[len("test/") :]: v for k, v in d.items() if k.startswith("test/")} for m, d in by_method.items()}
    envs = sorted(
        {k.split("/", 1)[1] for d in test.values() for k in d if k.startswith("ade/")} - {"id", "ood", "all"},
        key=_env_order,
    )
    written = [out_dir / "error_vs_domain.png"]
    plot_error_vs_domain(test, envs, train_envs, written[0])
    targets = sorted({k.split("/", 1)[0] for d in by_method.values() for k in d if k.startswith("adapt_")})
    for target in targets:
        curves: dict[str, dict[int, dict[str, float]]] = {}
        for method, d in by_method.items():
            for key, v in d.items():
                if key.startswith(target + "/"):
                    _, metric, b = key.split("/")
                    curves.setdefault(method, {}).setdefault(int(b[1:]), {})[metric] = v
        written.append(out_dir / f"{target}.png")
        plot_adaptation(curves, written[-1], title=f"low-shot adaptation ({target}), seed means")
    return written


def _env_order(name: str) -> tuple[bool, float, str]:
    """Sort key of environment names: by their number (``0.6``, ``eth@alpha=16``), then by name."""
    tail = name.rsplit("=", 1)[-1]
    return (not _is_number(tail), float(tail) if _is_number(tail) else 0.0, name)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
