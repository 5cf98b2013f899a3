"""The report: run directories (CSV curves, TensorBoard events, done.json only) -> tables and plots."""

from __future__ import annotations

import csv
import json
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from causal_priors.errors import ConfigError, DataError
from causal_priors.report import report_main, write_report
from causal_priors.results import load_runs
from causal_priors.runs import CurveWriter, log_metrics, make_logger, run_dir, write_json
from causal_priors.stats import area_under_curve, iqm

STEPS = [0, 100, 200, 300, 400]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _rl_run(root: Path, task: str, method: str, seed: int, level: float, done: bool = True) -> list[float]:
    """A run with a rising learning curve ending near ``level``; returns the curve values."""
    rng = np.random.default_rng(zlib.crc32(f"{task}/{method}/{seed}".encode()))
    path = run_dir(root, "exp", task, method, seed)
    path.mkdir(parents=True)
    values = [level * s / STEPS[-1] + float(rng.normal(0, 1)) for s in STEPS]
    writer = CurveWriter(path / "curves.csv", ["step", "eval/mean_reward", "eval/std_reward"])
    for step, value in zip(STEPS, values, strict=True):
        writer.append({"step": step, "eval/mean_reward": value, "eval/std_reward": 1.0})
    if done:
        write_json(path / "done.json", {"metrics": {"eval/mean_reward": values[-1], "eval/std_reward": 1.0}})
    return values


@pytest.fixture(scope="module")
def rl_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("runs")
    curves: dict[tuple[str, str], list[list[float]]] = {}
    for task, scale in (("Hopper-v5", 100.0), ("Reacher-v5", 10.0)):
        for method, gain in (("sac", 1.0), ("cip", 1.5)):
            curves[(task, method)] = [_rl_run(root, task, method, s, scale * gain) for s in range(5)]
    _rl_run(root, "Hopper-v5", "sac", 9, 1e6, done=False)  # unfinished: left out by default
    return root / "exp", curves


def _rows(out: Path) -> list[dict]:
    with open(out / "summary.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_rl_report_tables_match_the_statistics(rl_study: tuple[Path, dict]) -> None:
    path, curves = rl_study
    out = write_report(path, reps=100)
    assert out == path / "report"
    rows = _rows(out)
    for (task, method), runs in curves.items():
        final = next(r for r in rows if r["kind"] == "final" and r["task"] == task and r["method"] == method)
        finals = [c[-1] for c in runs]
        assert int(final["n"]) == 5
        assert float(final["iqm"]) == pytest.approx(iqm(finals))
        assert float(final["mean"]) == pytest.approx(np.mean(finals))
        assert float(final["ci_low"]) <= float(final["iqm"]) <= float(final["ci_high"])
        auc = next(r for r in rows if r["kind"] == "auc" and r["task"] == task and r["method"] == method)
        assert float(auc["iqm"]) == pytest.approx(iqm([area_under_curve(STEPS, c) for c in runs]))
    # cross-task aggregate: cip (1.5x the level) beats sac after per-task normalisation
    agg = {r["method"]: float(r["iqm"]) for r in rows if r["kind"] == "normalized_final"}
    assert set(agg) == {"sac", "cip"} and agg["cip"] > agg["sac"]

    md = (out / "summary.md").read_text()
    assert "| Hopper-v5 | cip | 5 |" in md and "IQM" in md and "95% CI" in md
    assert "1 unfinished runs left out" in md
    for task in ("Hopper-v5", "Reacher-v5"):
        png = out / f"curves_{task}.png"
        assert png.read_bytes()[:8] == PNG_MAGIC and f"({png.name})" in md
    data = json.loads((out / "summary.json").read_text())
    assert len(data["runs"]) == 20 and data["settings"]["reps"] == 100
    assert len(data["rows"]) == len(rows)


def test_report_is_deterministic_and_can_include_unfinished(rl_study: tuple[Path, dict]) -> None:
    path, _ = rl_study
    first = (write_report(path, reps=200) / "summary.csv").read_text()
    assert (write_report(path, reps=200) / "summary.csv").read_text() == first
    rows = _rows(write_report(path, reps=200, include_unfinished=True))
    sac = next(r for r in rows if r["kind"] == "final" and r["task"] == "Hopper-v5" and r["method"] == "sac")
    assert int(sac["n"]) == 6


def test_forecasting_runs_without_curves_get_a_metric_table(tmp_path: Path) -> None:
    values = {}
    for model, base in (("baseline", 0.30), ("causal_motion", 0.25)):
        for seed in range(3):
            path = run_dir(tmp_path, "fc", "synthetic", model, seed)
            path.mkdir(parents=True)
            metrics = {"ade/0.6": base + 0.01 * seed, "fde/0.6": 2 * base + 0.02 * seed, "note": "text"}
            write_json(path / "done.json", {"metrics": metrics})
            values.setdefault(model, []).append(metrics["ade/0.6"])
    out = write_report(tmp_path / "fc", reps=200)
    rows = _rows(out)
    assert {r["kind"] for r in rows} == {"done"}
    ade = next(r for r in rows if r["method"] == "causal_motion" and r["metric"] == "ade/0.6")
    assert float(ade["mean"]) == pytest.approx(np.mean(values["causal_motion"]))
    assert float(ade["std"]) == pytest.approx(np.std(values["causal_motion"], ddof=1))
    md = (out / "summary.md").read_text()
    assert "## Final metrics" in md and "`fde/0.6`" in md and "Returns" not in md and "AUC" not in md
    assert not list(out.glob("*.png"))


def test_any_curve_metric_can_be_aggregated(tmp_path: Path) -> None:
    """Forecasting runs log ``val_ade`` curves: ``metric=val_ade`` gives final and AUC tables for it."""
    for seed in range(3):
        path = run_dir(tmp_path, "fc", "synthetic", "gcrl", seed)
        path.mkdir(parents=True)
        writer = CurveWriter(path / "curves.csv", ["step", "loss", "val_ade"])
        for step, ade in ((0, 1.0), (50, 0.5), (100, 0.3 + 0.01 * seed)):
            writer.append({"step": step, "loss": 1.0, "val_ade": ade})
        write_json(path / "done.json", {"metrics": {"ade/0.6": 0.3}})
    out = write_report(tmp_path / "fc", metric="val_ade", reps=100)
    final = next(r for r in _rows(out) if r["kind"] == "final")
    assert float(final["mean"]) == pytest.approx(0.31)  # last curve points: done.json has no val_ade
    md = (out / "summary.md").read_text()
    assert "## Final value and area under the curve (`val_ade`)" in md
    assert (out / "curves_synthetic.png").is_file()


def test_tensorboard_events_are_read_when_there_is_no_csv(tmp_path: Path) -> None:
    path = run_dir(tmp_path, "tb", "Pendulum-v1", "sac", 0)
    logger = make_logger(path)
    for step, value in ((0, -1500.0), (100, -900.0), (200, -300.0)):
        log_metrics(logger, {"eval/mean_reward": value, "train/loss": 1.0}, step)
    logger.close()
    write_json(path / "done.json", {"metrics": {"eval/mean_reward": -300.0}})
    (run,) = load_runs(tmp_path / "tb")
    np.testing.assert_array_equal(run.steps, [0, 100, 200])
    np.testing.assert_array_equal(run.values, [-1500.0, -900.0, -300.0])
    rows = _rows(write_report(tmp_path / "tb", reps=100))
    auc = next(r for r in rows if r["kind"] == "auc")
    assert float(auc["iqm"]) == pytest.approx(area_under_curve([0, 100, 200], [-1500.0, -900.0, -300.0]))


def test_report_cli_and_errors(rl_study: tuple[Path, dict], tmp_path: Path, capsys) -> None:
    path, _ = rl_study
    assert report_main([f"path={path}", "reps=100", "confidence=0.9"]) == 0
    assert "90% CI" in capsys.readouterr().out
    with pytest.raises(DataError, match="not found"):
        write_report(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no run directories"):
        write_report(tmp_path / "empty")
    _rl_run(tmp_path, "T", "m", 0, 1.0, done=False)
    with pytest.raises(DataError, match="finished"):
        write_report(tmp_path / "exp")
    with pytest.raises(ConfigError, match="rep"):
        write_report(path, rep=10)
    with pytest.raises(ConfigError, match="repz"):
        report_main([f"path={path}", "repz=3"])
    bad = run_dir(tmp_path, "bad", "T", "m", 0)
    bad.mkdir(parents=True)
    (bad / "done.json").write_text("{not json")
    with pytest.raises(DataError, match="done.json"):
        write_report(tmp_path / "bad")


def _copy_run(root: Path, task: str, method: str, copy_as: str, seed: int) -> None:
    """Copy one run directory under another method's name (what a no-op ablation produces)."""
    shutil.copytree(run_dir(root, "exp", task, method, seed), run_dir(root, "exp", task, copy_as, seed))


def test_bit_identical_methods_are_flagged(tmp_path: Path) -> None:
    """An ablation whose curves equal another method's on every shared seed is listed; one differing seed is enough
    to keep a pair off the list."""
    root = tmp_path / "runs"
    for seed in range(3):
        _rl_run(root, "Hopper-v5", "cip", seed, 100.0)
        _rl_run(root, "Hopper-v5", "sac", seed, 80.0)
    for seed in range(2):  # a copy of cip on the seeds it ran
        _copy_run(root, "Hopper-v5", "cip", "cip_no_augment", seed)
    _copy_run(root, "Hopper-v5", "sac", "ace", 0)  # equals sac on seed 0 only
    _rl_run(root, "Hopper-v5", "ace", 1, 90.0)
    out = write_report(root / "exp", reps=200)
    identical = json.loads((out / "summary.json").read_text())["identical"]
    assert identical == [{"task": "Hopper-v5", "method": "cip_no_augment", "same_as": "cip", "seeds": [0, 1]}]
    assert "| Hopper-v5 | cip_no_augment | cip | 0, 1 |" in (out / "summary.md").read_text()
