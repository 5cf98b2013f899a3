"""Forecasting metrics on hand-computed cases and on real scenes."""

from __future__ import annotations

import pytest
import torch

from forecasting.batch import rollout_positions
from forecasting.data import load_synthetic
from forecasting.metrics import ade_fde, aggregate_by_domain, best_of_k, summarize


def _offsets(errors):
    """Predictions ``future + (e, 0)`` so that the L2 error of each step is ``e``; errors ``(..., K, P)``."""
    e = torch.tensor(errors, dtype=torch.float64)
    return torch.stack([e, torch.zeros_like(e)], dim=-1)


def test_ade_fde_hand_case_with_padding():
    future = torch.randn(2, 2, 2, 2, dtype=torch.float64)
    err = torch.zeros(2, 2, 2, 2, dtype=torch.float64)
    err[0, 0, 0] = torch.tensor([3.0, 4.0])  # agent 0: errors 5, 0
    err[0, 1] = _offsets([1.0, 2.0])  # agent 1: errors 1, 2
    err[1, 0] = _offsets([0.5, 1.5])
    err[1, 1] = _offsets([100.0, 100.0])  # padded agent: ignored
    mask = torch.tensor([[True, True], [True, False]])
    ade, fde = ade_fde(future + err, future, mask)
    torch.testing.assert_close(ade, torch.tensor([(2.5 + 1.5) / 2, 1.0], dtype=torch.float64))
    torch.testing.assert_close(fde, torch.tensor([(0.0 + 2.0) / 2, 1.5], dtype=torch.float64))


def test_best_of_k_is_joint_per_scene():
    future = torch.zeros(2, 2, 1, 2)
    samples = torch.zeros(2, 2, 2, 1, 2)  # (N samples, B scenes, K agents, P, 2)
    # Scene 0: sample 0 errs (0, 3), sample 1 errs (2, 2). Joint best: sample 0 (sum 3 < 4) -> 1.5;
    # picking the best sample per agent would give (0 + 2) / 2 = 1.0.
    samples[0, 0, :, 0, 0] = torch.tensor([0.0, 3.0])
    samples[1, 0, :, 0, 0] = torch.tensor([2.0, 2.0])
    # Scene 1, agent 1 padded: the choice ignores it (sample 0: 1 + pad 100, sample 1: 2 + pad 0).
    samples[0, 1, :, 0, 0] = torch.tensor([1.0, 100.0])
    samples[1, 1, :, 0, 0] = torch.tensor([2.0, 0.0])
    mask = torch.tensor([[True, True], [True, False]])
    min_ade, min_fde = best_of_k(samples, future, mask)
    torch.testing.assert_close(min_ade, torch.tensor([1.5, 1.0]))
    torch.testing.assert_close(min_fde, torch.tensor([1.5, 1.0]))
    per_agent = torch.linalg.vector_norm(samples - future, dim=-1)[..., 0].min(dim=0).values[0].mean()
    assert float(per_agent) == pytest.approx(1.0) and float(min_ade[0]) > float(per_agent)


def test_best_of_k_picks_ade_and_fde_samples_separately():
    future = torch.zeros(1, 1, 2, 2, dtype=torch.float64)
    samples = torch.stack([_offsets([[[0.0, 3.0]]]), _offsets([[[2.0, 2.0]]])])  # (2, 1, 1, 2, 2)
    min_ade, min_fde = best_of_k(samples, future, torch.ones(1, 1, dtype=torch.bool))
    assert float(min_ade) == pytest.approx(1.5) and float(min_fde) == pytest.approx(2.0)


def test_best_of_one_equals_ade_fde():
    future = torch.randn(5, 3, 12, 2)
    pred = future + 0.1 * torch.randn_like(future)
    mask = torch.rand(5, 3) < 0.7
    mask[:, 0] = True
    for a, b in zip(best_of_k(pred.unsqueeze(0), future, mask), ade_fde(pred, future, mask), strict=True):
        torch.testing.assert_close(a, b)


def test_bad_shapes_and_empty_scenes_raise():
    future = torch.zeros(2, 2, 3, 2)
    with pytest.raises(ValueError, match="do not match"):
        ade_fde(torch.zeros(2, 2, 4, 2), future, torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="no real agent"):
        ade_fde(future, future, torch.tensor([[True, True], [False, False]]))
    with pytest.raises(ValueError, match=r"\(N, B, K, P, 2\)"):
        best_of_k(future, future, torch.ones(2, 2, dtype=torch.bool))


def test_aggregate_and_summarize():
    values = torch.tensor([1.0, 2.0, 3.0, 4.0])
    domain = torch.tensor([0, 0, 1, 2])
    names = ("a", "b", "c", "d")
    assert aggregate_by_domain(values, domain, names) == {"a": 1.5, "b": 3.0, "c": 4.0}
    out = summarize({"ade": values, "fde": 2 * values}, domain, names, in_distribution=("a",))
    assert out["ade/a"] == 1.5 and out["ade/all"] == 2.5
    assert out["ade/id"] == 1.5 and out["ade/ood"] == 3.5 and out["fde/ood"] == 7.0
    assert "ade/d" not in out
    only_id = summarize({"ade": values[:2]}, domain[:2], names, in_distribution=("a", "b"))
    assert "ade/ood" not in only_id and only_id["ade/id"] == 1.5
    with pytest.raises(ValueError, match="'z'"):
        summarize({"ade": values}, domain, names, in_distribution=("z",))


def test_metrics_on_real_scenes():
    batch = load_synthetic("test", [0.1, 0.4, 0.7], max_scenes=300).to_batch()
    exact = rollout_positions(batch.last_observed, batch.future_displacements)
    ade, fde = ade_fde(exact, batch.future, batch.agent_mask)
    assert float(ade.max()) < 1e-5 and float(fde.max()) < 1e-5
    # Constant velocity: its error grows with the separation radius (larger avoidance manoeuvres).
    last = batch.observed_displacements[:, :, -1:]
    cv = rollout_positions(batch.last_observed, last.expand(-1, -1, batch.pred_len, -1))
    ade, fde = ade_fde(cv, batch.future, batch.agent_mask)
    out = summarize({"ade": ade, "fde": fde}, batch.domain, batch.domain_names, ("0.1",))
    assert 0.0 < out["ade/0.1"] < out["ade/0.4"] < out["ade/0.7"]
    assert out["fde/0.1"] > out["ade/0.1"]


def test_environments_sort_by_their_number():
    from forecasting.plots import _env_order

    names = ["eth@alpha=16", "eth@alpha=2", "eth@alpha=64", "eth@alpha=1"]
    assert sorted(names, key=_env_order) == ["eth@alpha=1", "eth@alpha=2", "eth@alpha=16", "eth@alpha=64"]
    assert sorted(["0.7", "hotel", "0.1"], key=_env_order) == ["0.1", "0.7", "hotel"]


def test_plots_draw_one_line_for_a_deterministic_methods_best_of_k():
    from forecasting.plots import _distinct_series

    nan = float("nan")
    deterministic = {"ade": [0.1, 0.2], "min_ade_20": [0.1, 0.2], "min_ade_100": [0.1, 0.2]}
    generative = {"ade": [0.3, 0.4], "min_ade_20": [0.1, 0.2], "min_ade_100": [nan, nan]}
    assert list(_distinct_series(deterministic)) == ["ade"]
    assert list(_distinct_series(generative)) == ["ade", "min_ade_20"]
