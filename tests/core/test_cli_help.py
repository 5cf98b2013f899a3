"""``causal-priors <cmd> --help`` lists every key with default and doc; bare ``causal-priors`` is a usage error."""

from __future__ import annotations

import pytest

from agents.config import EvaluateConfig, TrainConfig
from agents.discover import DiscoverConfig
from causal_priors.cli import COMMANDS, HELP, main
from causal_priors.datacheck import DataCheckConfig
from causal_priors.help import config_keys, field_docs, one_line
from causal_priors.report import ReportConfig
from causal_priors.sweep_plan import SweepConfig
from envs.config import EnvConfig
from forecasting.config import METHOD_NAMES, ForecastConfig

SCHEMAS = {
    "train": [(TrainConfig, "")],
    "evaluate": [(EvaluateConfig, ""), (EnvConfig, "env.")],
    "discover": [(DiscoverConfig, "")],
    "forecast": [(ForecastConfig, "")],
    "sweep": [(SweepConfig, "")],
    "study": [(SweepConfig, "")],
    "report": [(ReportConfig, "")],
    "data": [(DataCheckConfig, "")],
}


def test_every_user_command_has_generated_help():
    assert set(HELP) == set(COMMANDS) - {"toy"} == set(SCHEMAS)


@pytest.mark.parametrize("command", sorted(SCHEMAS))
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_exits_0_and_lists_every_key_with_default_and_doc(command, flag, capsys):
    assert main([command, flag]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: causal-priors {command}") or command == "forecast"
    for schema, prefix in SCHEMAS[command]:
        for key, kind, default, doc in config_keys(schema, prefix):
            line = next((row for row in out.splitlines() if row.strip().startswith(f"{key}: ")), None)
            assert line is not None, f"{command} --help does not list {key}"
            assert f"{kind} = {default}" in line
            assert doc, f"{schema.__name__}.{key} has no doc"
            assert doc[:30] in out


def test_train_help_lists_total_steps_with_its_default_and_doc(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "total_steps: int = 20000" in out
    assert "Env steps to train for." in out
    assert "agent.causal.rho: float = 0.5" in out
    assert "sac" in out and "reacher_distractors" in out  # the presets


@pytest.mark.parametrize("sub", ["train", "evaluate", "adapt", "mcc"])
def test_forecast_subcommand_help(sub, capsys):
    assert main(["forecast", sub, "--help"]) == 0
    out = capsys.readouterr().out
    assert "model.name: str = 'erm'" in out
    assert "steps: int = 20000" in out


def test_no_arguments_is_a_usage_error(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: causal-priors <command>")
    assert main(["forecast"]) == 2
    assert "expected a subcommand" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "commands:" in capsys.readouterr().out


def test_docs_come_from_docstrings_or_comments():
    assert field_docs(TrainConfig)["total_steps"] == "Env steps to train for."
    from forecasting.config import ModelConfig

    assert field_docs(ModelConfig)["hidden"] == "encoder LSTM size (context = 2 * hidden)"
    assert one_line("First ``x``. Second sentence.\n  more") == "First `x`."
    assert one_line("a metric (e.g. val_ade for curves)") == "a metric (e.g. val_ade for curves)"


def test_forecast_method_names_match_the_registry():
    from forecasting.models.base import available_methods

    assert sorted(METHOD_NAMES) == available_methods()
