"""forecasting.results_summary: summary.json from published done.json files; benchmarks/forecasting_tables.py and
forecasting.results_readme / results_plot: the results page, the README block and the figure rendered from it."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from forecasting.results_plot import plot_spread_vs_error
from forecasting.results_readme import README_BEGIN, README_END, readme_block, update_readme
from forecasting.results_summary import build_summary, summary_json

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "forecasting_tables.py"


@pytest.fixture(scope="module")
def tables():
    spec = importlib.util.spec_from_file_location("forecasting_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _done(root: Path, study: str, data: str, method: str, seed: int, metrics: dict) -> None:
    folder = root / study / "runs" / data / method / f"seed_{seed}"
    folder.mkdir(parents=True)
    (folder / "done.json").write_text(json.dumps({"metrics": metrics}))


def test_summary_aggregates_seeds_and_the_readme_reads_it(tables, tmp_path):
    ades = [0.10, 0.14, 0.12]
    for seed, ade in enumerate(ades):
        metrics = {
            "test/ade/0.6": ade,
            "test/ade/0.7": ade,
            "test/energy/0.7": 2 * ade,
            "adapt_0.6/ade/b2": ade / 2,
            "train/wall_s": 5.0,
        }
        _done(tmp_path, "forecast_synthetic", "synthetic", "erm", seed, metrics)
        _done(tmp_path, "forecast_synthetic", "synthetic", "gcrl", seed, {**metrics, "test/min_ade_20/0.7": ade / 4})
    _done(tmp_path, "forecast_eth_ucy", "eth_ucy_hotel", "erm", 0, {"test/ade/hotel": 0.6, "test/fde/hotel": 1.2})
    _done(tmp_path, "forecast_eth_ucy", "eth_ucy_zara1", "erm", 0, {"test/ade/zara1": 0.5, "test/fde/zara1": 1.1})
    summary, runs = build_summary(tmp_path)
    entry = summary["forecast_synthetic"]["erm"]["ade"]["0.7"]
    assert entry == {"mean": pytest.approx(np.mean(ades)), "std": pytest.approx(np.std(ades)), "n": 3}
    assert summary["forecast_synthetic"]["erm"]["adapt_0.6/ade"]["2"]["mean"] == pytest.approx(np.mean(ades) / 2)
    assert set(summary["forecast_eth_ucy"]["erm"]["ade"]) == {"hotel", "zara1"}
    assert "train/wall_s" not in summary["forecast_synthetic"]["erm"]
    summary["forecast_synthetic"]["erm"]["ade"]["0.7"]["mean"] = 9.876  # the page shows what summary.json says
    page = tables.render(summary, runs)
    assert "9.876 ± 0.016" in page
    assert "gcrl (minADE_20, n=3)" in page and "energy score" in page
    assert "0.600 ± 0.000 / 1.200 ± 0.000 (n=1)" in page
    assert plot_spread_vs_error(summary, tmp_path / "spread.png").is_file()


def test_readme_block_is_rendered_from_the_summary_between_markers(tmp_path):
    summary = {
        "forecast_synthetic": {"erm": {"ade": {"0.7": {"mean": 0.1234, "std": 0.001, "n": 3}}}},
        "forecast_eth_ucy": {"orca_residual": {"ade": {"hotel": {"mean": 0.4321, "std": 0.0, "n": 1}}}},
    }
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_BEGIN}\nstale 9.999\n{README_END}\noutro\n")
    assert update_readme(readme, summary)
    text = readme.read_text()
    assert "0.123 ± 0.001" in text and "0.432 ± 0.000 (n=1)" in text and "9.999" not in text
    assert text.startswith("intro\n") and text.endswith("outro\n")
    assert update_readme(readme, summary) and readme.read_text() == text  # idempotent
    plain = tmp_path / "plain.md"
    plain.write_text("no markers\n")
    assert not update_readme(plain, summary) and plain.read_text() == "no markers\n"


def test_committed_readme_and_results_page_match_summary_json(tables):
    """The top-level README's block and the results page are what summary.json renders to (no hand edits)."""
    root = Path(__file__).parents[2]
    summary = json.loads((root / "benchmarks/results/forecasting/summary.json").read_text())
    rebuilt, runs = build_summary(root / "benchmarks/results/forecasting")
    assert rebuilt == json.loads(json.dumps(rebuilt)) and rebuilt == summary
    assert summary_json(rebuilt) == (root / "benchmarks/results/forecasting/summary.json").read_text()
    readme = (root / "README.md").read_text()
    start, end = readme.index(README_BEGIN), readme.index(README_END)
    assert readme[start : end + len(README_END)] == readme_block(summary)
    assert (root / "benchmarks/results/forecasting/README.md").read_text() == tables.render(summary, runs)


def test_script_run_as_a_file_elsewhere_uses_its_checkouts_library(tmp_path):
    """``python benchmarks/forecasting_tables.py`` from another folder, without PYTHONPATH: it imports the
    ``forecasting.results_*`` modules next to it, writes summary.json / the page / the figure from live run
    folders (no ``runs/`` level) and regenerates the README block; a README without markers is a one-line error."""
    for seed, ade in enumerate([0.2, 0.4]):
        folder = tmp_path / "runs" / "forecast_synthetic" / "synthetic" / "gcrl" / f"seed_{seed}"
        folder.mkdir(parents=True)
        metrics = {"test/ade/0.6": ade, "test/energy/0.6": ade, "test/spread/0.6": ade / 2}
        (folder / "done.json").write_text(json.dumps({"metrics": metrics}))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_BEGIN}\n{README_END}\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [sys.executable, str(SCRIPT), "--runs", "runs", "--out-dir", "out", "--readme"]
    done = subprocess.run([*command, "README.md"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["forecast_synthetic"]["gcrl"]["ade"]["0.6"] == {
        "mean": pytest.approx(0.3),
        "std": pytest.approx(0.1),
        "n": 2,
    }
    assert "| gcrl (det., n=2) |  |  |  |  |  | 0.300 ± 0.100 |  |" in (tmp_path / "out" / "README.md").read_text()
    assert (tmp_path / "out" / "spread_vs_error.png").is_file()
    assert readme.read_text() == f"intro\n{readme_block(summary)}\n"
    (tmp_path / "plain.md").write_text("no markers\n")
    failed = subprocess.run([*command, "plain.md"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert failed.returncode == 1 and "plain.md: no '<!-- forecasting-results:begin" in failed.stderr
