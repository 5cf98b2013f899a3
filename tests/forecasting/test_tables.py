"""benchmarks/forecasting_tables.py: summary.json from published done.json files, README rendered from it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def tables():
    path = Path(__file__).parents[2] / "benchmarks" / "forecasting_tables.py"
    spec = importlib.util.spec_from_file_location("forecasting_tables", path)
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
    summary, runs = tables.build_summary(tmp_path)
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
    assert tables.plot_spread_vs_error(summary, tmp_path / "spread.png").is_file()


def test_readme_block_is_rendered_from_the_summary_between_markers(tables, tmp_path):
    summary = {
        "forecast_synthetic": {"erm": {"ade": {"0.7": {"mean": 0.1234, "std": 0.001, "n": 3}}}},
        "forecast_eth_ucy": {"orca_residual": {"ade": {"hotel": {"mean": 0.4321, "std": 0.0, "n": 1}}}},
    }
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{tables.README_BEGIN}\nstale 9.999\n{tables.README_END}\noutro\n")
    assert tables.update_readme(readme, summary)
    text = readme.read_text()
    assert "0.123 ± 0.001" in text and "0.432 ± 0.000 (n=1)" in text and "9.999" not in text
    assert text.startswith("intro\n") and text.endswith("outro\n")
    assert tables.update_readme(readme, summary) and readme.read_text() == text  # idempotent
    plain = tmp_path / "plain.md"
    plain.write_text("no markers\n")
    assert not tables.update_readme(plain, summary) and plain.read_text() == "no markers\n"


def test_committed_readme_and_results_page_match_summary_json(tables):
    """The top-level README's block and the results page are what summary.json renders to (no hand edits)."""
    root = Path(__file__).parents[2]
    summary = json.loads((root / "benchmarks/results/forecasting/summary.json").read_text())
    rebuilt, runs = tables.build_summary(root / "benchmarks/results/forecasting")
    assert rebuilt == json.loads(json.dumps(rebuilt)) and rebuilt == summary
    readme = (root / "README.md").read_text()
    start, end = readme.index(tables.README_BEGIN), readme.index(tables.README_END)
    assert readme[start : end + len(tables.README_END)] == tables.readme_block(summary)
    assert (root / "benchmarks/results/forecasting/README.md").read_text() == tables.render(summary, runs)
