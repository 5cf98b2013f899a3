"""FactoredGraph: CIP weights, dropped dims, JSON round trip, the uniform graph."""

from __future__ import annotations

import numpy as np
import pytest

from causal.graph import FactoredGraph, cip_weights, max_over_min, uniform_graph


def test_weights_are_scaled_softmax_of_absolute_coefficients():
    coef = np.array([0.8, -0.8, 0.0, 0.1])
    w = cip_weights(coef, [], 0.5, dropped_value=0.0, scale="absolute")
    expected = 4 * np.exp(np.abs(coef) / 0.5) / np.exp(np.abs(coef) / 0.5).sum()
    np.testing.assert_allclose(w, expected)
    assert w.sum() == pytest.approx(4.0)
    assert w[0] == pytest.approx(w[1])  # sign does not matter
    flat = cip_weights(np.zeros(5), [], 1.0, dropped_value=0.0)
    np.testing.assert_allclose(flat, 1.0)


def test_relative_scale_is_free_of_the_reward_scale_and_spreads_the_weights():
    coef = np.array([0.04, -0.02, 0.0, 0.01])  # small standardised coefficients, as on real tasks
    w = cip_weights(coef, [], 0.5, dropped_value=0.0)
    np.testing.assert_allclose(w, cip_weights(coef * 40.0, [], 0.5, dropped_value=0.0))  # any reward scale
    assert w[0] > w[1] > w[3] > w[2]  # ordered like |b|
    assert max_over_min(w) == pytest.approx(np.exp(1 / 0.5))  # strongest vs a zero coefficient: exp(1/T)
    flat = cip_weights(coef, [], 0.5, dropped_value=0.0, scale="absolute")
    assert max_over_min(flat) < 1.1  # the spec's rule on the same coefficients is nearly flat
    assert max_over_min(cip_weights(np.zeros(3), [], 0.5, dropped_value=1.0)) == 1.0
    with pytest.raises(ValueError, match="weight scale"):
        cip_weights(coef, [], 0.5, dropped_value=0.0, scale="log")


def test_lower_temperature_sharpens_the_weights():
    coef = np.array([1.0, 0.0, 0.0])
    hot, cold = (cip_weights(coef, [], t, dropped_value=0.0) for t in (10.0, 0.1))
    assert cold[1] < hot[1] < 1.0 < hot[0] < cold[0]


def test_dropped_dims_keep_the_block_sum():
    coef = np.array([0.5, 0.0, 0.2, 0.0])
    w_s = cip_weights(coef, [1], 1.0, dropped_value=0.0)
    assert w_s[1] == 0.0 and w_s.sum() == pytest.approx(4.0)
    w_a = cip_weights(coef, [1, 3], 1.0, dropped_value=1.0)
    assert w_a[1] == w_a[3] == 1.0 and w_a.sum() == pytest.approx(4.0)
    assert cip_weights(np.array([0.9]), [], 1.0, dropped_value=1.0).tolist() == [1.0]  # single action dim
    with pytest.raises(ValueError, match="temperature"):
        cip_weights(coef, [], 0.0, dropped_value=0.0)


def test_uniform_graph_has_unit_weights_and_round_trips(tmp_path):
    g = uniform_graph(5, 2)
    assert g.w_s.tolist() == [1.0] * 5 and g.w_a.tolist() == [1.0] * 2
    path = tmp_path / "g.json"
    g.save_json(path)
    back = FactoredGraph.load_json(path)
    assert back.to_dict() == g.to_dict()


def test_round_trip_with_transition_block_and_reweighting():
    g = uniform_graph(3, 2)
    g.reward_state_coef = np.array([0.9, 0.0, -0.3])
    g.reward_state_edges = g.reward_state_coef != 0
    g.transition_coef = np.arange(15, dtype=float).reshape(3, 5)
    g.transition_edges = g.transition_coef != 0
    g2 = g.reweighted(0.2, scale="absolute")
    assert g2.w_s[0] > g2.w_s[2] > g2.w_s[1] and g2.temperature == 0.2 and g2.weight_scale == "absolute"
    assert g2.irrelevant_state_dims() == [1, 2] and g2.irrelevant_state_dims(0.1) == [1]
    assert g2.irrelevant_state_dims(by_edges=True) == [1]
    assert g.reweighted(1.0, scale="absolute").irrelevant_state_dims() == []  # absolute T = 1: flat weights
    back = FactoredGraph.from_dict(g2.to_dict())
    np.testing.assert_array_equal(back.transition_coef, g2.transition_coef)
    assert back.transition_edges.dtype == bool
    with pytest.raises(ValueError, match="unknown"):
        FactoredGraph.from_dict({**g.to_dict(), "bogus": 1})


def test_causal_package_is_pure():
    """``causal`` (plots included) never pulls in torch, gymnasium, SB3, agents/ or envs/."""
    import subprocess
    import sys

    code = (
        "import sys, causal, causal.plots; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'gymnasium', 'stable_baselines3', 'agents', 'envs', 'sklearn'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
