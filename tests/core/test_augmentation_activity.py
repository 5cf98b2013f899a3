"""``benchmarks/augmentation_activity.py`` on a hand-made run: refit columns and the run's logged medians."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import augmentation_activity
import pytest
from torch.utils.tensorboard import SummaryWriter


def make_run(root: Path, experiment: str, changed: list[float], emp: list[float]) -> Path:
    run = root / experiment / "Env-v0" / "cip" / "seed_0"
    (run / "causal_graphs").mkdir(parents=True)
    (run / "config.yaml").write_text("agent:\n  causal:\n    augment: true\n")
    graph = {
        "state_dim": 4,
        "validity": "local",
        "reward_state_edges": [True, False, False, False],
        "w_s": [2.0, 0.5, 0.5, 1.0],
        "w_a": [3.0, 1.0],
        "dropped_state": [3],
        "swap_candidates": [1, 2],
        "augment/local_free_fraction": 0.25,
    }
    (run / "causal_graphs" / "step_5000.json").write_text(json.dumps(graph))
    writer = SummaryWriter(str(run))
    for step, (c, e) in enumerate(zip(changed, emp, strict=True)):
        writer.add_scalar("augment/changed_fraction", c, step)
        writer.add_scalar("train/empowerment_reward", e, step)
    writer.close()
    return run


def test_refit_columns_and_logged_medians(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    make_run(tmp_path, "study", changed=[0.1, 0.4, 0.9], emp=[0.01, 0.02, 0.5])
    make_run(tmp_path, "other", changed=[1.0], emp=[1.0])
    out = tmp_path / "activity.json"
    argv = ["augmentation_activity.py", "--runs", str(tmp_path), "--experiments", "study", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    augmentation_activity.main()
    table = capsys.readouterr().out
    assert "| study/Env-v0/cip | local | 1 | 4 | 1 | 3 | 2, 2 | 0.25 | 3.00 | 0.40 | 0.020 |" in table
    assert "other/" not in table  # --experiments filters
    (row,) = json.loads(out.read_text())["study/Env-v0/cip"]
    assert row["augment/changed_fraction"] == pytest.approx(0.4) and row["swapped"] == 2
