"""fit_factored_graph: the reward block of a synthetic MDP, the transition block, robustness, pictures."""

from __future__ import annotations

import numpy as np
import pytest
from causal_synth import toy_mdp

from causal import METHODS, fit_factored_graph
from causal.plots import save_graph_png

RELEVANT = [0, 2, 5]


@pytest.mark.parametrize("method", METHODS)
def test_reward_block_finds_exactly_the_relevant_state_dims(method):
    S, A, R, S2 = toy_mdp(4000, seed=1, relevant=RELEVANT)
    g = fit_factored_graph(S, A, R, S2, method=method, temperature=0.1)
    assert np.flatnonzero(g.reward_state_edges).tolist() == RELEVANT
    assert np.flatnonzero(g.reward_action_edges).tolist() == [0]
    assert g.causal_order[-1] == "r"  # reward is a sink
    assert sorted(g.causal_order) == sorted([f"s{i}" for i in range(8)] + ["a0", "a1", "a2", "r"])
    distractors = [i for i in range(8) if i not in RELEVANT]
    assert g.w_s[distractors].max() < 0.1 < g.w_s[RELEVANT].min()
    assert g.irrelevant_state_dims() == distractors
    assert g.w_s.sum() == pytest.approx(8) and g.w_a.sum() == pytest.approx(3)
    assert g.n_samples == 4000 and g.fit_seconds > 0 and g.method == method


def test_transition_block_recovers_self_and_action_edges():
    S, A, R, S2 = toy_mdp(4000, seed=2)
    g = fit_factored_graph(S, A, R, S2)
    expected = np.zeros((8, 11), dtype=bool)
    expected[np.arange(8), np.arange(8)] = True  # s_j -> s'_j
    expected[np.arange(3), 8 + np.arange(3)] = True  # a_k -> s'_k
    np.testing.assert_array_equal(g.transition_edges, expected)
    assert fit_factored_graph(S, A, R, transition=False).transition_coef is None


def test_constant_and_duplicate_columns_are_dropped_and_reported():
    S, A, R, S2 = toy_mdp(3000, seed=3)
    S[:, 4] = 2.5  # a padded slot
    S[:, 6] = -S[:, 1] * 2.0  # an exact copy (up to scale) of another dim
    A[:, 2] = 0.0
    g = fit_factored_graph(S, A, R, S2)
    assert g.dropped_state == [4, 6] and g.dropped_action == [2]
    assert g.w_s[4] == g.w_s[6] == 0.0 and g.w_a[2] == 1.0
    assert g.w_s.sum() == pytest.approx(8) and g.w_a.sum() == pytest.approx(3)
    assert "s4" not in g.causal_order and len(g.notes) == 3
    assert not g.transition_edges[:, [4, 6, 10]].any()


def test_nan_rows_are_dropped_and_counted():
    S, A, R, S2 = toy_mdp(2000, seed=9)
    S[:5, 0] = np.nan
    R[7] = np.inf
    with pytest.warns(UserWarning, match="dropped 6"):
        g = fit_factored_graph(S, A, R, S2)
    assert g.n_rows_dropped == 6 and g.n_samples == 1994
    assert np.flatnonzero(g.reward_state_edges).tolist() == RELEVANT


def test_too_few_samples_is_a_clear_error():
    S, A, R, S2 = toy_mdp(10, seed=0)
    with pytest.raises(ValueError, match="at least 14 finite transitions"):
        fit_factored_graph(S, A, R, S2)
    S, A, R, S2 = toy_mdp(40, seed=0)
    S[:30] = np.nan
    with pytest.raises(ValueError, match="30 dropped"), pytest.warns(UserWarning, match="dropped 30"):
        fit_factored_graph(S, A, R, S2)


def test_single_action_dim_and_one_dimensional_inputs():
    S, A, R, S2 = toy_mdp(1500, seed=5, action_dim=1)
    g = fit_factored_graph(S, A[:, 0], R, S2)
    assert g.action_dim == 1 and g.w_a.tolist() == [1.0]
    assert g.transition_coef.shape == (8, 9)


def test_constant_reward_gives_uniform_weights():
    S, A, _, S2 = toy_mdp(1000, seed=6)
    g = fit_factored_graph(S, A, np.zeros(1000), S2)
    assert g.reward_constant and not g.reward_state_edges.any()
    np.testing.assert_allclose(g.w_s, 1.0)


def test_bad_inputs_name_the_problem():
    S, A, R, S2 = toy_mdp(100, seed=0)
    with pytest.raises(ValueError, match="'actions' has 99 rows"):
        fit_factored_graph(S, A[:99], R, S2)
    with pytest.raises(ValueError, match="unknown method"):
        fit_factored_graph(S, A, R, S2, method="pc")
    with pytest.raises(ValueError, match="next_states"):
        fit_factored_graph(S, A, R)
    with pytest.raises(ValueError, match="one column"):
        fit_factored_graph(S, A, np.column_stack([R, R]), S2)


def test_max_samples_subsamples_deterministically():
    S, A, R, S2 = toy_mdp(3000, seed=7)
    a = fit_factored_graph(S, A, R, S2, max_samples=1000, seed=3, transition=False)
    b = fit_factored_graph(S, A, R, S2, max_samples=1000, seed=3, transition=False)
    assert a.n_samples == 1000
    np.testing.assert_array_equal(a.reward_state_coef, b.reward_state_coef)


def test_picture_is_written(tmp_path):
    S, A, R, S2 = toy_mdp(1000, seed=8)
    g = fit_factored_graph(S, A, R, S2)
    save_graph_png(g, tmp_path / "graph.png")
    assert (tmp_path / "graph.png").stat().st_size > 10_000


def test_default_weights_are_ordered_like_the_true_coefficients_and_not_flat():
    """A reward with known coefficients of different sizes (and a tiny scale): the default (relative) weights
    rank the dims like |b| and spread them, where the spec's absolute rule at T = 1 stays nearly flat."""
    rng = np.random.default_rng(3)
    n = 6000
    S = rng.laplace(size=(n, 6))
    A = rng.uniform(-1.0, 1.0, size=(n, 3))
    R = 0.01 * (1.0 * S[:, 0] - 0.5 * S[:, 2] + 0.25 * S[:, 4] + 0.8 * A[:, 0] - 0.4 * A[:, 1])
    R += 0.001 * rng.laplace(size=n)
    g = fit_factored_graph(S, A, R, transition=False)
    assert g.weight_scale == "relative"
    assert g.w_s[0] > g.w_s[2] > g.w_s[4] > max(g.w_s[[1, 3, 5]])
    assert g.w_a[0] > g.w_a[1] > g.w_a[2]
    assert g.w_a.max() / g.w_a.min() > 3.0 and g.w_s.max() / g.w_s.min() > 3.0
    spec = fit_factored_graph(S, A, R, transition=False, temperature=1.0, weight_scale="absolute")
    assert spec.w_a.max() / spec.w_a.min() < g.w_a.max() / g.w_a.min()
