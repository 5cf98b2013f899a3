"""Low-shot adaptation changes only what each method says transfers; the MCC identifiability check."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from causal_priors.config import load_config
from forecasting.adapt import adapt_method, low_shot_curve
from forecasting.config import ForecastConfig
from forecasting.data import SceneDataset
from forecasting.identifiability import mcc, pairwise_mcc
from forecasting.models.base import build_method

ADAPTED = {
    "erm": {"backbone.decoder"},
    "irm": {"backbone.decoder"},
    "causal_motion": {"film"},
    "gcrl": {"s_encoder", "s_head", "ps_means", "ps_logvars", "ps_logits"},
}


def _dataset(batch) -> SceneDataset:
    return SceneDataset(batch.positions.numpy(), batch.agent_mask.numpy(), batch.domain.numpy(), batch.domain_names)


def _prefix(name: str, prefixes: set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("name", sorted(ADAPTED))
def test_adaptation_changes_only_adaptation_parameters(name, make_batch, make_model_cfg):
    torch.manual_seed(0)
    train = make_batch(b=24, seed=1)
    method = build_method(name, make_model_cfg(name), train.domain_names, 0, 10)
    target = make_batch(b=16, seed=2, n_domains=1)
    before = {k: v.clone() for k, v in method.state_dict().items()}
    grad_flags = {n: p.requires_grad for n, p in method.named_parameters()}
    history = adapt_method(method, _dataset(target), steps=5, lr=1e-2, batch_size=8)
    assert len(history) == 5 and all(np.isfinite(h["loss"]) for h in history)
    after = method.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed, "adaptation changed nothing"
    assert all(_prefix(k, ADAPTED[name]) for k in changed), sorted(changed)
    assert {n: p.requires_grad for n, p in method.named_parameters()} == grad_flags


def test_low_shot_curve_zero_batches_is_zero_shot(make_batch, make_model_cfg):
    torch.manual_seed(0)
    cfg = load_config(
        ForecastConfig,
        [
            "adapt.batches=[0,1]",
            "adapt.batch_size=8",
            "adapt.steps=3",
            "eval.reference_scenes=4",
            "eval.num_samples=[3]",
        ],
    )
    train = make_batch(b=24, seed=1)
    method = build_method("gcrl", make_model_cfg("gcrl"), train.domain_names, 0, 10)
    pool = _dataset(make_batch(b=16, seed=2, n_domains=1))
    target = _dataset(make_batch(b=20, seed=3, n_domains=1))
    state = {k: v.clone() for k, v in method.state_dict().items()}
    curve = low_shot_curve(method, pool, target, cfg)
    assert sorted(curve) == [0, 1]
    assert set(curve[0]) == {"ade", "fde", "energy", "spread", "min_ade_3", "min_fde_3"}
    assert curve[0]["ade"] != curve[1]["ade"]
    assert all(torch.equal(state[k], v) for k, v in method.state_dict().items())  # the trained model is untouched


def test_mcc_invariant_to_permutation_and_scaling():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 4))
    b = a[:, [2, 0, 3, 1]] * np.array([2.0, -1.0, 0.5, 3.0]) + 1.0
    assert mcc(a, b) == pytest.approx(1.0)
    assert mcc(a, rng.normal(size=(500, 4))) < 0.2
    res = pairwise_mcc([{"z": a, "s": a[:, :2]}, {"z": b, "s": a[:, :2] * 3}, {"z": a, "s": a[:, :2]}])
    assert res["mcc_z"] == pytest.approx(1.0) and res["mcc_s"] == pytest.approx(1.0)
