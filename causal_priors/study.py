"""``causal-priors study``: a sweep, its report, and the small result files published for committing.

A study is a sweep (``configs/sweep/*.yaml``) whose outcome someone will read: after the runs finish (or on a
re-run, after the missing ones finish), the report is written and the small files — the report's tables and
plots plus every run's ``curves.csv`` and ``done.json`` — are copied to ``benchmarks/results/<experiment>/``,
so the numbers can be committed and inspected without the (large) run directories.

``--publish-only`` on a machine without the run directories re-reports the published small files: when
``<run_root>/<experiment>`` holds no run, the report is written from ``<results>/runs/`` straight into
``<results>/`` (every statistic needs only ``curves.csv`` and ``done.json``), and nothing is copied.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from causal_priors.checks import check_writable
from causal_priors.errors import ConfigError
from causal_priors.report import write_report
from causal_priors.results import load_runs
from causal_priors.sweep import sweep_main
from causal_priors.sweep_plan import load_sweep

RESULTS_ROOT = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
SMALL_FILES = ("curves.csv", "done.json", "results.json", "results.csv", "results.md", "config.yaml")


def publish(experiment_dir: Path, dest: Path) -> list[Path]:
    """Copy the report and each run's small result files from ``experiment_dir`` into ``dest``."""
    copied: list[Path] = []
    report = experiment_dir / "report"
    if report.is_dir():
        for file in sorted(report.iterdir()):
            if file.is_file():
                target = dest / file.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, target)
                copied.append(target)
    for run in sorted(p.parent for p in experiment_dir.glob("*/*/seed_*/config.yaml")):
        rel = run.relative_to(experiment_dir)
        for name in SMALL_FILES:
            if (run / name).is_file():
                target = dest / "runs" / rel / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(run / name, target)
                copied.append(target)
    return copied


def _relative(path: Path) -> Path:
    """``path`` relative to the working directory when below it (the report names the folder it read)."""
    rel = os.path.relpath(path)
    return Path(rel) if not rel.startswith("..") else path


def republish(dest: Path) -> Path:
    """Rewrite the published report in ``dest`` from the published runs under ``dest/runs``; returns ``dest``."""
    runs = dest / "runs"
    if not runs.is_dir() or not load_runs(runs):
        raise ConfigError(f"nothing to re-report: no <task>/<method>/seed_<n> runs under {runs}")
    return write_report(_relative(runs), out=str(_relative(dest)))


def study_main(argv: Sequence[str]) -> int:
    """``causal-priors study <sweep.yaml | preset> [flags] [key=value ...] [results=<folder>]``.

    Flags: ``--ray``, ``--dry-run`` (print the plan; nothing runs or is published), ``--publish-only``.

    Runs (or finishes) the sweep, writes its report and copies the small result files to
    ``benchmarks/results/<results_subdir or experiment>/`` (sweep key ``results_subdir``; or ``results=<dir>``).
    ``--publish-only`` skips the sweep and reports what has finished so far (a long study spans sessions);
    without run directories here it re-reports the published runs in ``benchmarks/results/<...>/runs/``.
    Returns the sweep's exit code.
    """
    publish_only = "--publish-only" in argv
    words = [w for w in argv if not w.startswith("results=") and w != "--publish-only"]
    results = [w.split("=", 1)[1] for w in argv if w.startswith("results=")]
    files = [w for w in words if not w.startswith("--") and "=" not in w]
    if len(files) != 1:
        raise ConfigError(
            "usage: causal-priors study <sweep.yaml | preset> [--ray] [--dry-run] [--publish-only] "
            "[key=value ...] [results=DIR]"
        )
    cfg = load_sweep(files[0], [w for w in words if "=" in w])
    dest = Path(results[0]) if results else RESULTS_ROOT / (cfg.results_subdir or cfg.experiment)
    check_writable(dest, "results")
    check_writable(Path(cfg.run_root) / cfg.experiment, "run_root")
    code = 0 if publish_only else sweep_main(words)
    if code == 130 or "--dry-run" in words:  # interrupted, or only the plan was printed: nothing to publish
        return code
    experiment_dir = Path(cfg.run_root) / cfg.experiment
    if publish_only and not (experiment_dir.is_dir() and load_runs(experiment_dir)):
        republish(dest)
        print(f"study {cfg.experiment}: no runs under {experiment_dir}; report rewritten from {dest / 'runs'}")
        return code
    write_report(experiment_dir)  # refreshed even when the sweep had nothing left to run
    copied = publish(experiment_dir, dest)
    print(f"study {cfg.experiment}: {len(copied)} result files in {dest}")
    return code
