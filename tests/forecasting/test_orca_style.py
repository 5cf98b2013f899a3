"""orca_style: invariances, the style estimator, the monotone style path, persistence and the CLI run."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from causal_priors.cli import main
from forecasting.batch import SceneBatch
from forecasting.data import SceneDataset, make_synthetic_domain
from forecasting.mechanism import OrcaStyle, closest_approach, estimate_style, heading_goals, rollout
from forecasting.models.base import build_method, is_trainable
from forecasting.train import build_config, load_trained, run_dir_for


def _method(make_model_cfg, names=("0.1", "0.3", "0.5"), **overrides):
    cfg = make_model_cfg("orca_style", orca_time_horizons=[1.0, 2.0], orca_substeps=4, **overrides)
    return build_method("orca_style", cfg, names)


def _scenes(radius: float, n: int, seed: int, name: str) -> SceneBatch:
    return make_synthetic_domain(radius, n, seed=seed, name=name).to_batch()


def _padded_crowd(n: int = 12) -> SceneBatch:
    """Simulated three-agent scenes, the third agent padded in odd scenes, two environments."""
    pos = torch.from_numpy(make_synthetic_domain(0.3, n, seed=4, n_agents=3).positions)
    mask = torch.ones(n, 3, dtype=torch.bool)
    mask[1::2, -1] = False
    return SceneBatch(pos * mask[:, :, None, None], mask, torch.arange(n) % 2, ("0.1", "0.3"))


def test_translation_invariance(make_model_cfg):
    """On walking scenes; (ORCA is discontinuous where agents already overlap, as in random toy batches,
    so float32 rounding of the shifted inputs can flip a decision there.)"""
    batch = _padded_crowd()
    method = _method(make_model_cfg, batch.domain_names)
    offset = torch.tensor([13.0, -7.0])
    moved = replace(batch, positions=batch.positions + offset)
    a = method.predict(batch, None, reference=batch)
    b = method.predict(moved, None, reference=moved)
    assert torch.allclose(a + offset, b, atol=1e-4)
    assert method.predict(batch, 3, reference=batch).shape == (3, *a.shape)


def test_padded_agents_do_not_influence_real_ones(make_batch, make_model_cfg):
    batch = make_batch()
    method = _method(make_model_cfg, batch.domain_names)
    garbage = batch.positions.clone()
    garbage[~batch.agent_mask] = torch.randn_like(garbage[~batch.agent_mask]) * 50
    noisy = SceneBatch(garbage, batch.agent_mask, batch.domain, batch.domain_names)
    a = method.predict(batch, None, reference=batch)
    b = method.predict(noisy, None, reference=batch)
    m = batch.agent_mask
    assert torch.allclose(a[m], b[m], atol=1e-5)
    flip = torch.arange(batch.agent_mask.shape[1] - 1, -1, -1)  # padded agents first: same predictions
    swapped = SceneBatch(garbage[:, flip], batch.agent_mask[:, flip], batch.domain, batch.domain_names)
    assert torch.allclose(method.predict(swapped, None, reference=batch)[:, flip][m], a[m], atol=1e-5)


def test_estimator_recovers_the_simulated_style():
    for radius in (0.2, 0.6):
        ref = make_synthetic_domain(radius, 64, seed=1)
        style = estimate_style(ref.positions, ref.agent_mask, horizons=(1.0, 2.0, 4.0), substeps=10)
        assert style.radius == pytest.approx(radius, rel=0.1)
        assert style.speed == pytest.approx(1.0, rel=0.02)
        assert style.time_horizon == 2.0  # the simulator's horizon wins the fit


def test_style_path_is_monotone_in_the_inferred_radius(make_model_cfg):
    """Reference scenes with larger separations -> larger inferred radius -> larger predicted separation."""
    scored = _scenes(0.4, 48, seed=5, name="target")
    method = _method(make_model_cfg, ("target",))
    gaps, radii = [], []
    for r in (0.15, 0.3, 0.5, 0.7):
        ref = _scenes(r, 32, seed=11, name="target")
        radii.append(method.reference_style("target", ref).radius)
        pred = method.predict(scored, None, reference=ref).numpy()
        gaps.append(np.median(closest_approach(pred, scored.agent_mask.numpy())))
    assert radii == sorted(radii) and radii[-1] > 3 * radii[0]
    assert all(b > a for a, b in zip(gaps, gaps[1:], strict=False)), gaps


def test_rollout_uses_only_observed_motion_for_goals():
    observed = np.zeros((1, 2, 8, 2))
    observed[0, 0, :, 0] = 0.4 * np.arange(8)  # walking +x
    observed[0, 1] = 5.0  # standing still
    goals = heading_goals(observed, np.ones((1, 2), bool), 20.0)
    assert np.allclose(goals[0, 0], [20.0, 0.0]) and np.allclose(goals[0, 1], [5.0, 5.0])
    pred = rollout(observed, np.ones((1, 2), bool), OrcaStyle(0.2, 1.0, 2.0), substeps=2)
    assert np.allclose(pred[0, 1], 5.0) and np.allclose(pred[0, 0, :, 0], 2.8 + 0.4 * np.arange(1, 13), atol=1e-6)


def test_default_style_round_trips_and_no_training(make_model_cfg):
    assert not is_trainable("orca_style") and is_trainable("erm")
    method = _method(make_model_cfg, ("0.5",))
    fitted = method.fit_default_style(make_synthetic_domain(0.5, 40, seed=2), max_scenes=32)
    assert fitted.radius == pytest.approx(0.5, rel=0.1)
    clone = _method(make_model_cfg, ("0.5",))
    clone.load_state_dict(method.state_dict())
    assert clone.style() == fitted
    assert method.adaptation_parameters() == []
    with pytest.raises(NotImplementedError):
        method.loss(_scenes(0.5, 2, seed=0, name="0.5"), 0)


def test_cli_train_writes_the_usual_run_directory(tiny_argv):
    argv = ["model=orca_style", "model.orca_substeps=2", "model.orca_time_horizons=[2.0]", *tiny_argv]
    assert main(["forecast", "train", *argv, "adapt_after=true"]) == 0
    rd = run_dir_for(build_config(argv))
    done = json.loads((rd / "done.json").read_text())["metrics"]
    for key in ("test/ade/0.6", "test/energy/0.6", "val/ade/all", "adapt_0.6/ade/b1", "style/radius/0.6"):
        assert np.isfinite(done[key]), key
    assert done["style/radius/0.6"] > done["style/radius/0.1"]
    assert (rd / "eval" / "results.md").is_file() and (rd / "adapt" / "adapt_0.6.md").is_file()
    assert load_trained(build_config(argv)).style().radius == pytest.approx(done["style/radius/train"])
    assert main(["forecast", "evaluate", *argv]) == 0


def test_concat_of_reference_sets_keeps_each_environment_style(make_model_cfg):
    refs = SceneDataset.concat([make_synthetic_domain(r, 24, seed=3, name=n) for r, n in ((0.1, "a"), (0.6, "b"))])
    method = _method(make_model_cfg, ("a", "b"))
    batch = refs.to_batch()
    assert method.reference_style("a", batch).radius < method.reference_style("b", batch).radius
    assert method.reference_style("unseen", batch) == method.style()


def test_test_radii_beyond_the_files_work_when_a_file_exists(tmp_path, run_root):
    """``data.test_radii`` takes any radius whose file exists; a missing one fails before training."""
    import importlib.util
    from pathlib import Path

    from causal_priors.errors import DataError
    from forecasting.splits import check_test_files, test_sets

    spec = importlib.util.spec_from_file_location(
        "forecast_make_radius", Path(__file__).parents[2] / "benchmarks" / "forecast_make_radius.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = tmp_path / "data"
    written = module.make_root(root, _shared_root(), [0.9], 40, 0)
    assert [p.name for p in written] == ["orca_circle_crossing_2_ped_40_scenes_0.9_radius_2.0_horizon.npz"]
    cfg = build_config([f"data.root={root}", "data.test_radii=[0.1,0.9]", "data.max_scenes=40"])
    check_test_files(cfg)
    assert len(test_sets(cfg)["0.9"]) == 40
    bad = build_config([f"data.root={root}", "data.test_radii=[0.1,0.95]", f"run_root={run_root}"])
    with pytest.raises(DataError, match=r"scenes_0.95_radius_2.0_horizon.npz: no file"):
        check_test_files(bad)
    assert (
        main(
            [
                "forecast",
                "train",
                "model=orca_style",
                f"data.root={root}",
                "data.test_radii=[0.95]",
                f"run_root={run_root}",
            ]
        )
        == 2
    )


def _shared_root():
    from forecasting.data.dataset import default_data_root

    return default_data_root()


@pytest.mark.parametrize("reads", [True, False])
def test_orca_residual_starts_as_the_mechanism_is_invariant_and_learns(reads, make_batch, make_model_cfg):
    batch = _padded_crowd(16)
    cfg = make_model_cfg("orca_residual", orca_time_horizons=[2.0], orca_substeps=4, residual_reads_mechanism=reads)
    torch.manual_seed(0)
    hybrid = build_method("orca_residual", cfg, batch.domain_names, 0, 40)
    train = SceneDataset(batch.positions.numpy(), batch.agent_mask.numpy(), batch.domain.numpy(), batch.domain_names)
    hybrid.prepare(train)
    mechanism = build_method("orca_style", cfg, batch.domain_names)
    mechanism.default_style.copy_(hybrid.mechanism.default_style)
    assert torch.allclose(hybrid.predict(batch, None, reference=batch), mechanism.predict(batch, None, reference=batch))
    offset = torch.tensor([13.0, -7.0])
    moved = replace(batch, positions=batch.positions + offset)
    a, b = hybrid.predict(batch, None, reference=batch), hybrid.predict(moved, None, reference=moved)
    assert torch.allclose(a + offset, b, atol=1e-4)
    opt = torch.optim.Adam(hybrid.parameters(), lr=3e-3)
    risks = []
    for step in range(40):
        loss, metrics = hybrid.loss(batch, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        risks.append(metrics["risk"])
    assert risks[-1] < 0.7 * risks[0]
    assert hybrid.adaptation_parameters() and all(p.requires_grad for p in hybrid.adaptation_parameters())
    clone = build_method("orca_residual", cfg, batch.domain_names, 0, 40)
    clone.load_state_dict(hybrid.state_dict())
    assert torch.allclose(clone.predict(batch, None, reference=batch), hybrid.predict(batch, None, reference=batch))
