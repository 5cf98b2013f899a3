"""The report: run directories (CSV curves, TensorBoard events, done.json only) -> tables and plots."""

from __future__ import annotations

import csv
import json
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest
from rliable import library as rly
from rliable import metrics

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
    out = write_report(path, reps=30)
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
    assert len(data["runs"]) == 20 and data["settings"]["reps"] == 30
    assert len(data["rows"]) == len(rows)


def test_report_is_deterministic_and_can_include_unfinished(rl_study: tuple[Path, dict]) -> None:
    path, _ = rl_study
    first = (write_report(path, reps=20) / "summary.csv").read_text()
    assert (write_report(path, reps=20) / "summary.csv").read_text() == first
    rows = _rows(write_report(path, reps=20, include_unfinished=True))
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
    out = write_report(tmp_path / "fc", reps=20)
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
    out = write_report(tmp_path / "fc", metric="val_ade", reps=20)
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
    rows = _rows(write_report(tmp_path / "tb", reps=20))
    auc = next(r for r in rows if r["kind"] == "auc")
    assert float(auc["iqm"]) == pytest.approx(area_under_curve([0, 100, 200], [-1500.0, -900.0, -300.0]))


def test_report_cli_and_errors(rl_study: tuple[Path, dict], tmp_path: Path, capsys) -> None:
    path, _ = rl_study
    assert report_main([f"path={path}", "reps=20", "confidence=0.9"]) == 0
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
    out = write_report(root / "exp", reps=20)
    identical = json.loads((out / "summary.json").read_text())["identical"]
    assert identical == [{"task": "Hopper-v5", "method": "cip_no_augment", "same_as": "cip", "seeds": [0, 1]}]
    assert "| Hopper-v5 | cip_no_augment | cip | 0, 1 |" in (out / "summary.md").read_text()


def _rliable_iqm(scores: list[float], reps: int, seed: int = 0) -> tuple[float, float, float]:
    """rliable's IQM and 95% interval of one task's run scores, called the documented way."""
    np.random.seed(seed)
    points, cis = rly.get_interval_estimates(
        {"m": np.asarray(scores)[:, None]}, lambda s: np.array([metrics.aggregate_iqm(s)]), reps=reps
    )
    return float(points["m"][0]), float(cis["m"][0, 0]), float(cis["m"][1, 0])


def _rliable_poi(x: list[np.ndarray], y: list[np.ndarray], reps: int, seed: int = 0) -> tuple[float, float, float]:
    np.random.seed(seed)
    pair = [np.stack(x, axis=1), np.stack(y, axis=1)]
    points, cis = rly.get_interval_estimates({"p": pair}, metrics.probability_of_improvement, reps=reps)
    return float(points["p"]), *map(float, np.ravel(cis["p"]))


def test_improvement_and_profiles_equal_rliables(rl_study: tuple[Path, dict], tmp_path: Path) -> None:
    path, curves = rl_study
    out = write_report(path, reps=30, out=str(tmp_path / "rep"))
    assert out == tmp_path / "rep"
    data = json.loads((out / "summary.json").read_text())
    finals = {key: np.array([c[-1] for c in runs]) for key, runs in curves.items()}
    poi = {(r["task"], r["method"]): r for r in data["probability_of_improvement"]}
    assert set(poi) == {("Hopper-v5", "cip"), ("Reacher-v5", "cip"), ("all", "cip")}
    for task in ("Hopper-v5", "Reacher-v5"):
        row = poi[(task, "cip")]
        expected = _rliable_poi([finals[(task, "cip")]], [finals[(task, "sac")]], reps=30)
        assert (row["point"], row["low"], row["high"]) == pytest.approx(expected)
        assert row["baseline"] == "sac" and row["n"] == row["n_baseline"] == 5
    tasks = ("Hopper-v5", "Reacher-v5")
    both = _rliable_poi([finals[(t, "cip")] for t in tasks], [finals[(t, "sac")] for t in tasks], reps=30)
    assert (poi[("all", "cip")]["point"], poi[("all", "cip")]["low"], poi[("all", "cip")]["high"]) == pytest.approx(
        both
    )
    assert poi[("all", "cip")]["point"] > 0.9  # cip's level is 1.5x sac's on both tasks

    profile = data["performance_profile"]
    assert profile["tasks"] == list(tasks) and set(profile["methods"]) == {"cip", "sac"}
    normalized = {}
    for task in tasks:
        pooled = np.concatenate([finals[(task, m)] for m in ("cip", "sac")])
        for m in ("cip", "sac"):
            normalized.setdefault(m, []).append((finals[(task, m)] - pooled.min()) / np.ptp(pooled))
    np.random.seed(0)
    ref, ref_cis = rly.create_performance_profile(
        {m: np.stack(v, axis=1) for m, v in normalized.items()}, np.asarray(profile["tau"]), reps=30
    )
    for m in ("cip", "sac"):
        np.testing.assert_allclose(profile["methods"][m]["profile"], ref[m])
        np.testing.assert_allclose([profile["methods"][m]["low"], profile["methods"][m]["high"]], ref_cis[m])
    md = (out / "summary.md").read_text()
    assert "## Probability of improvement over `sac`" in md and "| all | cip | 5 | 5 |" in md
    assert "(performance_profile.png)" in md
    assert (out / "performance_profile.png").read_bytes()[:8] == PNG_MAGIC


def test_success_rate_is_the_score_where_every_run_logs_it(tmp_path: Path) -> None:
    """A task whose runs all log ``eval/success_rate`` is scored by it; one run without it keeps the return."""
    levels = {"sac": 0.2, "cip": 0.8}
    for task, complete in (("metaworld_reach-v3", True), ("metaworld_push-v3", False)):
        for method, level in levels.items():
            for seed in range(3):
                path = run_dir(tmp_path, "mw", task, method, seed)
                path.mkdir(parents=True)
                columns = ["step", "eval/mean_reward"]
                if complete or (method, seed) != ("sac", 2):
                    columns.append("eval/success_rate")
                writer = CurveWriter(path / "curves.csv", columns)
                for step in STEPS:
                    rate = min(1.0, level * step / STEPS[-1] + 0.05 * seed)
                    writer.append({"step": step, "eval/mean_reward": 1000 * rate + 7, "eval/success_rate": rate})
                write_json(path / "done.json", {"metrics": {"eval/mean_reward": 1000 * rate + 7}})
    out = write_report(tmp_path / "mw", reps=30)
    rows = _rows(out)
    final = {(r["task"], r["method"]): r for r in rows if r["kind"] == "final"}
    assert final[("metaworld_reach-v3", "cip")]["metric"] == "eval/success_rate"
    assert float(final[("metaworld_reach-v3", "cip")]["iqm"]) == pytest.approx(np.mean([0.8, 0.85, 0.9]))
    assert final[("metaworld_push-v3", "cip")]["metric"] == "eval/mean_reward"
    assert float(final[("metaworld_push-v3", "cip")]["iqm"]) == pytest.approx(np.mean([807, 857, 907]))
    md = (out / "summary.md").read_text()
    assert "## Success rate (`eval/success_rate`)" in md and "## Returns (`eval/mean_reward`)" in md
    data = json.loads((out / "summary.json").read_text())
    assert {r["metric"] for r in data["runs"] if r["task"] == "metaworld_reach-v3"} == {"eval/success_rate"}
    # normalisation: success rates as they are, returns min-max per task
    reach = data["performance_profile"]["methods"]["cip"]["profile"]
    assert reach[0] == 1.0 and data["performance_profile"]["tasks"] == ["metaworld_push-v3", "metaworld_reach-v3"]
    success_off = _rows(write_report(tmp_path / "mw", reps=20, success_metric=""))
    assert {r["metric"] for r in success_off if r["kind"] == "final"} == {"eval/mean_reward"}


COMMITTED = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "hopper_50k" / "runs"


@pytest.mark.skipif(not COMMITTED.is_dir(), reason="committed hopper_50k results not in this checkout")
def test_report_of_the_committed_hopper_results_equals_rliable(tmp_path: Path) -> None:
    """The published numbers for the committed Hopper study are rliable's, on the same curves and seeds."""
    out = write_report(COMMITTED, reps=30, out=str(tmp_path))
    data = json.loads((out / "summary.json").read_text())
    finals: dict[str, list[float]] = {}
    aucs: dict[str, list[float]] = {}
    for method_dir in sorted(p for p in (COMMITTED / "Hopper-v5").iterdir() if p.is_dir()):
        for run in sorted(method_dir.glob("seed_*")):
            done = json.loads((run / "done.json").read_text())["metrics"]
            finals.setdefault(method_dir.name, []).append(done["eval/mean_reward"])
            with open(run / "curves.csv", newline="") as fh:
                curve = [(float(r["step"]), float(r["eval/mean_reward"])) for r in csv.DictReader(fh)]
            steps, values = np.array(curve).T
            aucs.setdefault(method_dir.name, []).append(np.trapezoid(values, steps) / (steps[-1] - steps[0]))
    rows = {(r["kind"], r["method"]): r for r in data["rows"] if r["kind"] in ("final", "auc")}
    assert {m for _, m in rows} == set(finals) and "sac" in finals
    for method in finals:
        for kind, scores in (("final", finals[method]), ("auc", aucs[method])):
            row = rows[(kind, method)]
            assert (row["iqm"], row["ci_low"], row["ci_high"]) == pytest.approx(_rliable_iqm(scores, reps=30))
    for row in data["probability_of_improvement"]:
        expected = _rliable_poi([np.array(finals[row["method"]])], [np.array(finals["sac"])], reps=30)
        assert (row["point"], row["low"], row["high"]) == pytest.approx(expected)
    assert {r["method"] for r in data["probability_of_improvement"]} == set(finals) - {"sac"}
