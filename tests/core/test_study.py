"""``causal-priors study``: sweep + report + the small result files published."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sweep_cases import TOY_2X2

from causal_priors.cli import main
from causal_priors.errors import ConfigError
from causal_priors.study import study_main


def test_study_runs_the_sweep_and_publishes_small_results(tmp_path):
    root, results = tmp_path / "runs", tmp_path / "results"
    argv = ["study", TOY_2X2, f"run_root={root}", "max_workers=2", "overrides.total_steps=60", f"results={results}"]
    assert main(argv) == 0
    assert (results / "summary.md").is_file() and (results / "summary.csv").is_file()
    published = sorted((results / "runs").rglob("done.json"))
    assert len(published) == 4
    # publishing never copies checkpoints, only small files
    assert not list(results.rglob("checkpoints"))
    done = json.loads(published[0].read_text())
    assert "metrics" in done
    # a second study call skips the finished runs and refreshes the same files
    assert main(argv) == 0
    summary = json.loads((root / "toy_2x2" / "sweep_summary.json").read_text())
    assert summary["counts"].get("skipped") == 4


def test_publish_only_reports_finished_runs_without_running_any(tmp_path):
    root, results = tmp_path / "runs", tmp_path / "results"
    common = [f"run_root={root}", "overrides.total_steps=60", f"results={results}"]
    assert (
        main(["sweep", TOY_2X2, "max_workers=2", "grid.seed=[0]", f"run_root={root}", "overrides.total_steps=60"]) == 0
    )
    assert main(["study", TOY_2X2, "--publish-only", *common]) == 0
    assert len(list((results / "runs").rglob("done.json"))) == 2  # seed 1 never ran
    assert "2 runs aggregated" in (results / "summary.md").read_text()


def test_sweep_results_subdir_chooses_the_published_folder(tmp_path, monkeypatch):
    from causal_priors import study

    root = tmp_path / "runs"
    monkeypatch.setattr(study, "RESULTS_ROOT", tmp_path / "benchmarks_results")
    argv = ["study", TOY_2X2, f"run_root={root}", "grid.seed=[0]", "overrides.total_steps=60"]
    assert main([*argv, "results_subdir=group/toy"]) == 0
    assert (tmp_path / "benchmarks_results" / "group" / "toy" / "summary.md").is_file()


def test_study_dry_run_plans_without_running_or_publishing(tmp_path, capsys):
    root, results = tmp_path / "runs", tmp_path / "results"
    argv = ["study", TOY_2X2, "--dry-run", f"run_root={root}", f"results={results}"]
    assert main(argv) == 0
    assert "4 to run" in capsys.readouterr().out
    assert not results.exists() and not list(root.rglob("done.json"))


def test_publish_only_without_run_dirs_re_reports_the_published_runs(tmp_path):
    """On a machine without the run directories, --publish-only rewrites the report from <results>/runs/."""
    root, results = tmp_path / "runs", tmp_path / "results"
    common = [f"run_root={root}", "overrides.total_steps=60", f"results={results}", "grid.seed=[0]"]
    assert main(["study", TOY_2X2, "max_workers=2", *common]) == 0
    shutil.rmtree(root)
    (results / "summary.md").unlink()
    before = sorted(p.relative_to(results) for p in results.rglob("*") if p.is_file())
    assert main(["study", TOY_2X2, "--publish-only", *common]) == 0
    md = (results / "summary.md").read_text()
    assert f"# Report: {results / 'runs'}" in md and "2 runs aggregated" in md
    assert not (results / "runs" / "report").exists()  # written into <results>, nothing copied
    assert sorted(p.relative_to(results) for p in results.rglob("*") if p.is_file()) == sorted(
        [*before, Path("summary.md")]
    )
    with pytest.raises(ConfigError, match="nothing to re-report"):
        study_main([TOY_2X2, "--publish-only", f"run_root={root}", f"results={tmp_path / 'empty'}"])
