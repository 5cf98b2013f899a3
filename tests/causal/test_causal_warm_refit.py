"""``fit_factored_graph(..., warm_order=previous.causal_order)``: a warm refit gives the cold refit's graph."""

from __future__ import annotations

import numpy as np
from causal_synth import toy_mdp

from causal.discovery import fit_factored_graph


def test_warm_refit_on_the_next_window_matches_the_cold_refit():
    S, A, R, S2 = toy_mdp(5000, seed=3)
    first = fit_factored_graph(S[:4000], A[:4000], R[:4000], S2[:4000], transition=False)
    cold = fit_factored_graph(S[1000:], A[1000:], R[1000:], S2[1000:], transition=False)
    warm = fit_factored_graph(S[1000:], A[1000:], R[1000:], S2[1000:], transition=False, warm_order=first.causal_order)
    np.testing.assert_array_equal(warm.reward_state_edges, cold.reward_state_edges)
    np.testing.assert_array_equal(warm.reward_action_edges, cold.reward_action_edges)
    np.testing.assert_allclose(warm.reward_state_coef, cold.reward_state_coef, atol=1e-10)
    np.testing.assert_allclose(warm.w_s, cold.w_s, atol=1e-10)
    assert warm.causal_order[-1] == "r"


def test_warm_order_with_other_columns_only_steers_the_search():
    S, A, R, S2 = toy_mdp(2000, seed=4)
    S[:, 6] = 0.0  # a column that is dropped now but was fitted before
    stale = ["s6", "a2", "s0", "zz", "s0", "r"]  # unknown and repeated names, most names missing
    cold = fit_factored_graph(S, A, R, S2, transition=False)
    warm = fit_factored_graph(S, A, R, S2, transition=False, warm_order=stale)
    assert sorted(warm.causal_order) == sorted(cold.causal_order)
    np.testing.assert_array_equal(warm.reward_state_edges, cold.reward_state_edges)
