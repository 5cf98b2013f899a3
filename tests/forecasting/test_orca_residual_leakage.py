"""Leakage audit of ``orca_residual``: its predictions read only the observed frames and the reference scenes.

Its numbers are far better than the ORCA mechanism's, so these tests check the information it can reach:

- replacing the ground-truth future of every agent of the predicted scenes (the only future-derived field of a
  synthetic ``SceneBatch``; ``extra`` is ``None`` there) leaves the predictions bit-identical, through
  ``predict`` (with references, without them, warm training cache, unknown domain), ``evaluate_method`` and the
  low-shot path;
- the neighbours inside the mechanism's simulation are the simulated agents (they keep ORCA's separation and
  ignore the other agents' true futures);
- the synthetic protocol's training and validation data are the training radii only.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from forecasting.adapt import low_shot_curve
from forecasting.batch import SceneBatch
from forecasting.data import SceneDataset, make_synthetic_domain
from forecasting.evaluate import evaluate_method
from forecasting.mechanism import OrcaStyle, closest_approach, rollout_scenes
from forecasting.models.base import build_method
from forecasting.splits import train_val
from forecasting.train import build_config

TRAIN = ("0.1", "0.3", "0.5")


def _domain(radius: float, n: int, seed: int, name: str) -> SceneDataset:
    return make_synthetic_domain(radius, n, seed=seed, name=name)


def _corrupt_future(ds: SceneDataset, seed: int = 7) -> SceneDataset:
    """The same scenes with every agent's future replaced by far-away noise (observed frames untouched)."""
    pos = ds.positions.copy()
    noise = np.random.default_rng(seed).normal(0.0, 50.0, pos[:, :, ds.obs_len :].shape)
    pos[:, :, ds.obs_len :] = noise.astype(np.float32)
    return replace(ds, positions=pos)


def _trained_hybrid(make_model_cfg, steps: int = 15):
    """A small hybrid with a non-zero learned correction and a warm roll-out cache."""
    cfg = make_model_cfg("orca_residual", orca_time_horizons=[2.0], orca_substeps=4, orca_fit_scenes=16)
    torch.manual_seed(0)
    train = SceneDataset.concat(
        [_domain(r, 24, i, n) for i, (r, n) in enumerate(zip((0.1, 0.3, 0.5), TRAIN, strict=True))]
    )
    hybrid = build_method("orca_residual", cfg, TRAIN, 0, steps)
    hybrid.prepare(train)
    opt = torch.optim.Adam(hybrid.parameters(), lr=3e-3)
    batch = train.to_batch()
    for step in range(steps):
        loss, _ = hybrid.loss(batch, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    hybrid.eval()
    assert any(float(p.detach().abs().sum()) > 0 for p in hybrid.backbone.decoder.body[-1].parameters())
    return hybrid, train


@pytest.mark.parametrize("case", ["reference", "no_reference_cached", "unknown_domain"])
def test_predictions_are_bit_identical_when_the_future_changes(case, make_model_cfg):
    hybrid, train = _trained_hybrid(make_model_cfg)
    if case == "unknown_domain":
        scored = _domain(0.7, 10, 11, "0.7")
        reference = None
    else:
        scored = train.subset(slice(0, 30))
        reference = _domain(0.6, 12, 5, "0.3").to_batch() if case == "reference" else None
    clean, dirty = scored.to_batch(), _corrupt_future(scored).to_batch()
    assert not torch.equal(clean.future, dirty.future)
    with torch.no_grad():
        a = hybrid.predict(clean, None, reference=reference)
        b = hybrid.predict(dirty, None, reference=reference)
        if case == "no_reference_cached":  # the cache is keyed on observed frames: a cold one gives the same
            hybrid._rollouts.clear()
            c = hybrid.predict(dirty, None, reference=reference)
            assert torch.equal(a, c)
    assert torch.equal(a, b)


def test_unknown_domain_without_references_gets_the_default_style(make_model_cfg):
    """A prediction never estimates a style from the scenes it predicts (their futures); training may."""
    hybrid, _ = _trained_hybrid(make_model_cfg, steps=1)
    batch = _domain(0.7, 8, 3, "0.7").to_batch()
    assert hybrid._style(batch, 0, None, training=False) == hybrid.mechanism.style()
    own = hybrid._style(batch, 0, None, training=True)
    assert own.radius > 0.55  # the batch's own complete scenes (r = 0.7), not the default style


def test_evaluation_and_low_shot_never_read_the_scored_futures(make_model_cfg, monkeypatch):
    hybrid, _ = _trained_hybrid(make_model_cfg)
    target = _domain(0.6, 40, 21, "0.6")  # first 8 = reference scenes, 32 scored
    pool = _domain(0.6, 16, 22, "0.6")
    seen: list[torch.Tensor] = []
    original = type(hybrid).predict

    def spy(self, batch, num_samples=None, reference=None):
        out = original(self, batch, num_samples, reference)
        seen.append(out.detach().clone())
        return out

    monkeypatch.setattr(type(hybrid), "predict", spy)

    def predictions(ds: SceneDataset) -> list[torch.Tensor]:
        seen.clear()
        evaluate_method(hybrid, {"0.6": ds}, TRAIN, reference_scenes=8, num_samples=[3], batch_size=16)
        return list(seen)

    reference, scored = target.subset(slice(0, 8)), target.subset(slice(8, None))
    dirty = SceneDataset.concat([reference, _corrupt_future(scored)])
    for a, b in zip(predictions(target), predictions(dirty), strict=True):
        assert torch.equal(a, b)

    cfg = build_config(["data=synthetic", "eval.reference_scenes=8", "eval.num_samples=[3]", "eval.batch_size=16"])
    cfg.adapt.batches, cfg.adapt.batch_size, cfg.adapt.steps = [0, 1], 8, 2

    def low_shot(ds: SceneDataset) -> list[torch.Tensor]:
        seen.clear()
        low_shot_curve(hybrid, pool, ds, cfg)
        return list(seen)

    clean_runs, dirty_runs = low_shot(target), low_shot(dirty)
    assert len(clean_runs) == len(dirty_runs) > 0
    for a, b in zip(clean_runs, dirty_runs, strict=True):
        assert torch.equal(a, b)


def test_the_mechanism_neighbours_are_the_simulated_agents():
    """Two agents walking head-on: each avoids the *simulated* other (ORCA's separation holds in the roll-out),
    and one agent's prediction changes with the other's observed frames only, never with its true future."""
    t = np.arange(8, dtype=np.float64)[:, None] * 0.4
    a = np.array([-4.0, 0.02]) + t * np.array([1.0, 0.0])
    b = np.array([4.0, -0.02]) - t * np.array([1.0, 0.0])
    observed = np.stack([a, b])[None]  # (1, 2, 8, 2)
    mask = np.ones((1, 2), dtype=bool)
    style = OrcaStyle(0.4, 1.0, 2.0)
    pred = rollout_scenes(observed, mask, style, pred_len=12, substeps=10)
    assert np.nanmin(closest_approach(pred, mask)) > 2 * 0.4 * 0.9  # they avoided each other's simulated paths
    lone = rollout_scenes(observed[:, :1], mask[:, :1], style, pred_len=12, substeps=10)
    assert np.abs(pred[0, 0] - lone[0, 0]).max() > 0.05  # the neighbour matters ...
    moved = observed.copy()
    moved[0, 1, :, 1] += 3.0  # ... through its observed frames (a neighbour 3 m aside: no conflict)
    assert np.abs(rollout_scenes(moved, mask, style, pred_len=12, substeps=10)[0, 0] - pred[0, 0]).max() > 0.05


def test_synthetic_training_and_validation_hold_only_the_training_radii():
    cfg = build_config(["data=synthetic", "data.max_scenes=40", "data.n_train_per_domain=30"])
    train, val = train_val(cfg)
    assert train.domain_names == val.domain_names == TRAIN
    assert set(np.unique(train.domain)) == set(np.unique(val.domain)) == {0, 1, 2}
    assert [float(x) for x in cfg.data.train_radii] == [0.1, 0.3, 0.5]


def test_batch_has_no_other_future_field():
    """Everything a model can read besides ``positions[:, :, obs_len:]`` is observed-only by construction."""
    b = _domain(0.3, 4, 0, "0.3").to_batch()
    fields = set(SceneBatch.__dataclass_fields__)
    assert fields == {"positions", "agent_mask", "domain", "domain_names", "extra", "obs_len"}
    assert b.extra is None


def test_rollout_cache_hits_across_padding_widths_and_matches_a_cold_rollout(make_model_cfg):
    """Batches grouped by agent count pad a scene to different widths: the cache keys on its real agents."""
    hybrid, _ = _trained_hybrid(make_model_cfg, steps=1)
    narrow = _domain(0.3, 6, 9, "0.3")
    pos = np.concatenate([narrow.positions, np.full((6, 2, *narrow.positions.shape[2:]), 99.0, np.float32)], axis=1)
    mask = np.concatenate([narrow.agent_mask, np.zeros((6, 2), bool)], axis=1)
    wide = SceneDataset(pos, mask, narrow.domain, narrow.domain_names)
    batch_n = replace(narrow, domain_names=narrow.domain_names).to_batch()
    relabel = {"domain": torch.full((6,), 1), "domain_names": TRAIN}
    batch_n = replace(batch_n, **relabel)
    batch_w = replace(wide.to_batch(), **relabel)
    hybrid._rollouts.clear()
    cold_w = hybrid.mechanism_positions(batch_w, None, training=True)
    cold_n = hybrid.mechanism_positions(batch_n, None, training=True)
    assert len(hybrid._rollouts) == 6  # the narrow batch hit the wide batch's entries
    assert torch.equal(cold_w[:, :2], cold_n)
    assert torch.equal(cold_w[:, 2:], batch_w.last_observed[:, 2:, None].expand(-1, -1, 12, -1))
    hybrid._rollouts.clear()
    assert torch.equal(hybrid.mechanism_positions(batch_n, None, training=True), cold_n)
