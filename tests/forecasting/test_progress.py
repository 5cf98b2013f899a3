"""``forecast train`` shows a progress bar on a terminal (and keeps log files free of it)."""

from __future__ import annotations

import sys

from causal_priors.cli import main


def test_forecast_train_shows_a_progress_bar_on_a_terminal(tiny_argv, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert main(["forecast", "train", "model=erm", "test_after=false", *tiny_argv]) == 0
    err = capsys.readouterr().err
    assert "12/12" in err and "step" in err


def test_no_bar_when_not_a_terminal_or_switched_off(tiny_argv, capsys, monkeypatch):
    assert main(["forecast", "train", "model=erm", "test_after=false", "experiment=a", *tiny_argv]) == 0
    assert "12/12" not in capsys.readouterr().err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert (
        main(["forecast", "train", "model=erm", "test_after=false", "experiment=b", "progress=false", *tiny_argv]) == 0
    )
    assert "12/12" not in capsys.readouterr().err
