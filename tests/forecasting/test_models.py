"""Models: shapes, translation and padding invariance, stages, and learning on toy data."""

from __future__ import annotations

import math

import pytest
import torch

from causal_priors.errors import ConfigError
from forecasting.batch import SceneBatch
from forecasting.models.base import available_methods, build_method

METHODS = ["erm", "vrex", "irm", "causal_motion", "gcrl"]


def _build(name, cfg, batch, total_steps=100):
    torch.manual_seed(0)
    extra = 0 if batch.extra is None else batch.extra.shape[-1]
    return build_method(name, cfg, batch.domain_names, extra, total_steps)


def _is_scalar_metric(value) -> bool:
    """A float, or a detached 0-dim float tensor (read on the host by the trainer once per logging step)."""
    if isinstance(value, torch.Tensor):
        return value.dim() == 0 and value.is_floating_point() and not value.requires_grad
    return isinstance(value, float)


def _shift(batch: SceneBatch, offset: torch.Tensor) -> SceneBatch:
    from dataclasses import replace

    return replace(batch, positions=batch.positions + offset)


def test_registry_lists_every_method_and_rejects_unknown(make_model_cfg):
    assert set(METHODS) <= set(available_methods())
    with pytest.raises(ConfigError, match="model.name"):
        build_method("nope", make_model_cfg("erm"), ("a",))


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("extra", [0, 2])
def test_predict_shapes_and_finite_loss(name, extra, make_batch, make_model_cfg):
    batch = make_batch(extra=extra)
    method = _build(name, make_model_cfg(name), batch)
    b, k = batch.agent_mask.shape
    det = method.predict(batch, None, reference=batch)
    assert det.shape == (b, k, 12, 2)
    samples = method.predict(batch, 5, reference=batch)
    assert samples.shape == (5, b, k, 12, 2)
    assert torch.isfinite(samples).all()
    for step in (0, 50, 99):  # every stage of the staged methods
        loss, metrics = method.loss(batch, step)
        assert torch.isfinite(loss) and loss.dim() == 0
        assert "loss" in metrics and all(_is_scalar_metric(v) for v in metrics.values()), metrics
        loss.backward()
    n_params = sum(p.numel() for p in method.parameters())
    assert 5_000 < n_params < 60_000  # "tiny": 10k-50k parameters at the default sizes


@pytest.mark.parametrize("name", METHODS)
def test_translation_invariance(name, make_batch, make_model_cfg):
    batch = make_batch()
    method = _build(name, make_model_cfg(name), batch)
    offset = torch.tensor([13.0, -7.0])
    moved = _shift(batch, offset)
    a = method.predict(batch, None, reference=batch)
    b = method.predict(moved, None, reference=moved)
    assert torch.allclose(a + offset, b, atol=1e-4)


@pytest.mark.parametrize("name", METHODS)
def test_padded_agents_do_not_influence_real_ones(name, make_batch, make_model_cfg):
    batch = make_batch()
    method = _build(name, make_model_cfg(name), batch)
    garbage = batch.positions.clone()
    garbage[~batch.agent_mask] = torch.randn_like(garbage[~batch.agent_mask]) * 50
    noisy = SceneBatch(garbage, batch.agent_mask, batch.domain, batch.domain_names)
    a = method.predict(batch, None, reference=batch)
    b = method.predict(noisy, None, reference=batch)
    m = batch.agent_mask
    assert torch.allclose(a[m], b[m], atol=1e-5)


def test_gcrl_samples_differ_and_deterministic_is_repeatable(make_batch, make_model_cfg):
    batch = make_batch()
    method = _build("gcrl", make_model_cfg("gcrl"), batch)
    s = method.predict(batch, 4)
    assert not torch.allclose(s[0], s[1])
    assert torch.equal(method.predict(batch), method.predict(batch))
    erm = _build("erm", make_model_cfg("erm"), batch)
    e = erm.predict(batch, 3)
    assert torch.equal(e[0], e[2])


def test_gcrl_with_flows_runs_and_prior_is_finite(make_batch, make_model_cfg):
    batch = make_batch()
    method = _build("gcrl", make_model_cfg("gcrl", flows=2), batch)
    loss, metrics = method.loss(batch, 0)
    loss.backward()
    assert all(math.isfinite(float(v)) for v in metrics.values())
    far = torch.full((3, method.s_dim), 1e3)
    assert torch.isfinite(method.log_prior_s(far)).all()


def test_causal_motion_stages_train_the_right_parts(make_batch, make_model_cfg):
    batch = make_batch(b=24)
    method = _build("causal_motion", make_model_cfg("causal_motion", stage_fractions=[0.4, 0.6]), batch, 100)
    assert [method.stage(s) for s in (0, 39, 40, 59, 60, 99)] == [
        "invariant",
        "invariant",
        "style",
        "style",
        "joint",
        "joint",
    ]

    def grads(step):
        method.zero_grad(set_to_none=True)
        method.loss(batch, step)[0].backward()
        return {n.split(".")[0] for n, p in method.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}

    assert grads(0) == {"backbone"}
    assert grads(50) == {"style_encoder", "projection"}
    assert {"backbone", "style_encoder", "projection", "film"} <= grads(80)
    with pytest.raises(ValueError, match="reference"):
        method.predict(batch)


def _toy_train(name, cfg, batch, steps, lr=3e-3):
    method = _build(name, cfg, batch, steps)
    opt = torch.optim.Adam(method.parameters(), lr=lr)
    history = []
    for step in range(steps):
        loss, metrics = method.loss(batch, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(metrics)
    return method, history


def test_gcrl_elbo_decreases_on_toy_set(make_batch, make_model_cfg):
    batch = make_batch(b=16, k=2)
    _, hist = _toy_train("gcrl", make_model_cfg("gcrl"), batch, 120)
    first = sum(h["neg_elbo"] for h in hist[:10]) / 10
    last = sum(h["neg_elbo"] for h in hist[-10:]) / 10
    assert last < 0.5 * first


def test_erm_fits_toy_set(make_batch, make_model_cfg):
    batch = make_batch(b=16, k=2)
    method, hist = _toy_train("erm", make_model_cfg("erm"), batch, 80)
    assert hist[-1]["risk"] < 0.5 * hist[0]["risk"]


@pytest.mark.parametrize(
    "overrides", [{"style_film": False}, {"style_output_scale": False}, {"style_linear_stats": True, "film_hidden": 16}]
)
def test_causal_motion_modulation_variants(overrides, make_batch, make_model_cfg):
    batch = make_batch()
    method = _build("causal_motion", make_model_cfg("causal_motion", **overrides), batch)
    assert method.predict(batch, None, reference=batch).shape == (12, 3, 12, 2)
    method.loss(batch, 99)[0].backward()
    assert method.film[-1].weight.grad is not None


def test_causal_motion_needs_some_modulation(make_batch, make_model_cfg):
    cfg = make_model_cfg("causal_motion", style_film=False, style_output_scale=False)
    with pytest.raises(ConfigError, match="style_film"):
        _build("causal_motion", cfg, make_batch())


def test_pairwise_attention_projection_equals_linear_on_concatenation():
    from forecasting.models.backbone import GraphAttention

    torch.manual_seed(0)
    layer = torch.nn.Linear(8 + 3, 5)
    h, rel = torch.randn(2, 4, 8), torch.randn(2, 4, 4, 3)
    full = layer(torch.cat([h.unsqueeze(1).expand(-1, 4, -1, -1), rel], dim=-1))
    assert torch.allclose(GraphAttention._pairwise(layer, h, rel), full, atol=1e-6)
