"""Every committed preset, sweep file and published run config passes the value checks of its dataclass."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.config import TrainConfig
from causal_priors.config import available_presets, load_config, load_saved_config, to_typed
from forecasting.config import ForecastConfig

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


@pytest.mark.parametrize("group", ["agent", "env"])
def test_every_train_preset_validates(group):
    for name in available_presets(group):
        cfg = to_typed(load_config(TrainConfig, [f"{group}={name}"], groups=("agent", "env")))
        assert isinstance(cfg, TrainConfig)


def test_every_experiment_and_forecast_preset_validates():
    for name in available_presets("experiment"):
        schema, groups = (
            (ForecastConfig, ("model", "data")) if name.startswith("forecast") else (TrainConfig, ("agent", "env"))
        )
        to_typed(load_config(schema, [f"experiment={name}"], groups=groups))
    for group in ("model", "data"):
        for name in available_presets(group):
            to_typed(load_config(ForecastConfig, [f"{group}={name}"], groups=("model", "data")))


@pytest.mark.slow
def test_every_sweep_plans_and_every_published_config_validates():
    from causal_priors.sweep_plan import load_sweep, plan_runs

    for name in available_presets("sweep"):
        assert plan_runs(load_sweep(name))
    configs = sorted(RESULTS.glob("**/config.yaml"))
    assert configs
    for path in configs:
        schema = ForecastConfig if "model:" in path.read_text() else TrainConfig
        to_typed(load_saved_config(schema, path))
