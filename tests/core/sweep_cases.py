"""Shared by the sweep tests: a 2 x 2 sweep file of the toy fixture (``tests/core/toy_run.py``) and how to
read its results."""

from __future__ import annotations

from pathlib import Path

import yaml

from causal_priors.results import read_done

TOY_COMMAND = "module:tests.core.toy_run"
#: the 2 x 2 study preset of the toy fixture (a file path: it is not a product preset)
TOY_2X2 = str(Path(__file__).with_name("toy_2x2.yaml"))
RUNS = ("sine/linear/seed_0", "sine/linear/seed_1", "sine/mlp/seed_0", "sine/mlp/seed_1")


def write_sweep(folder: Path, **changes) -> Path:
    """A 2 x 2 toy sweep file (method x seed) with runs under ``folder/runs``."""
    body = {
        "command": TOY_COMMAND,
        "experiment": "toy",
        "run_root": str(folder / "runs"),
        "grid": {"method": ["linear", "mlp"], "seed": [0, 1]},
        "overrides": {"task": "sine", "total_steps": 200, "eval_every": 20, "checkpoint_every": 20},
        "max_workers": 2,
        "report": False,
    }
    body.update(changes)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def results(experiment_dir: Path) -> dict[str, tuple[dict, str]]:
    """Per run: final metrics and the exact text of curves.csv."""
    return {run: (read_done(experiment_dir / run), (experiment_dir / run / "curves.csv").read_text()) for run in RUNS}
