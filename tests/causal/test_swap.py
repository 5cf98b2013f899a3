"""The swap rule (pure numpy): candidates, cap, global CoDA validity, local freedom from Jacobians, pair masks."""

from __future__ import annotations

import numpy as np

from causal import uniform_graph
from causal.swap import controllable_dims, irrelevant_mask, locally_free, pair_mask, swap_candidates


def test_mask_threshold_and_cap():
    w = np.array([0.1, 0.2, 3.0, 0.3, 0.4, 2.0])
    assert irrelevant_mask(w, 0.5, 1.0).tolist() == [True, True, False, True, True, False]
    # cap: at most floor(0.5 * 6) = 3 dims, the lowest weights first
    assert np.flatnonzero(irrelevant_mask(w, 0.5, 0.5)).tolist() == [0, 1, 3]
    assert not irrelevant_mask(np.ones(6), 0.5, 0.5).any()


def test_coda_validity_drops_dims_driven_by_actions_or_kept_controllable_dims():
    # 4 state dims, 1 action: s0' <- a ; s1' <- s0 (controllable parent) ; s2' <- s2, s3 ; s3' <- s3
    edges = np.zeros((4, 5), dtype=bool)
    edges[0, 4] = True
    edges[1, 0] = True
    edges[2, [2, 3]] = True
    edges[3, 3] = True
    assert controllable_dims(edges, 4).tolist() == [True, True, False, False]
    w = np.full(4, 0.1)
    assert irrelevant_mask(w, 0.5, 1.0, edges, coda_validity=True).tolist() == [False, False, True, True]
    assert irrelevant_mask(w, 0.5, 1.0, edges, coda_validity=False).all()
    # s2' depends on s3 which is uncontrollable: s2 stays valid even when s3 is not swapped
    w2 = np.array([0.1, 0.1, 0.1, 2.0])
    assert irrelevant_mask(w2, 0.5, 1.0, edges).tolist() == [False, False, True, False]
    # s2' <- s1 (controllable, not swapped) makes s2 invalid
    edges[2, 1] = True
    assert not irrelevant_mask(w, 0.5, 1.0, edges)[2]


def test_swap_candidates_follow_the_validity_rule():
    g = uniform_graph(4, 1)
    assert not swap_candidates(g).any()  # before any fit: nothing
    g.method = "direct_lingam"
    g.reward_state_edges = np.array([True, False, False, False])
    g.w_s = np.array([3.7, 0.1, 0.1, 0.1])
    edges = np.zeros((4, 5), dtype=bool)
    edges[1, 4] = True  # the action drives s1
    g.transition_edges = edges
    assert swap_candidates(g, validity="global", max_swap_frac=1.0).tolist() == [False, False, True, True]
    # the local rule leaves the action test to each transition: every reward-irrelevant dim is a candidate
    assert swap_candidates(g, validity="local", max_swap_frac=1.0).tolist() == [False, True, True, True]
    assert swap_candidates(g, validity="none", max_swap_frac=0.5).sum() == 2


def test_dims_the_fit_dropped_are_never_candidates_and_take_no_cap_slot():
    # 6 state dims, no reward edge; s4 and s5 were constant in the fit window (weight 0, dropped)
    g = uniform_graph(6, 1)
    g.method = "direct_lingam"
    g.reward_state_edges = np.zeros(6, dtype=bool)
    g.dropped_state = [4, 5]
    g.w_s = np.array([0.2, 0.3, 0.1, 0.4, 0.0, 0.0])
    g.transition_edges = np.zeros((6, 7), dtype=bool)
    for validity in ("local", "global", "none"):
        for irrelevance in ("edges", "weights"):
            mask = swap_candidates(g, irrelevance=irrelevance, validity=validity, max_swap_frac=1.0)
            assert mask.tolist() == [True, True, True, True, False, False], (validity, irrelevance)
    # under a cap of floor(0.5 * 6) = 3 dims the lowest-weight fitted dims are kept, not the dropped ones
    assert np.flatnonzero(swap_candidates(g, validity="none", max_swap_frac=0.5)).tolist() == [0, 1, 2]


def test_locally_free_reads_action_and_controllable_edges_per_row():
    # 3 state dims, 1 action. Row 0: a drives s0; s1 depends on s0 (controllable); s2 only on itself.
    # Row 1: the action drives nothing (e.g. no contact): every dim is free.
    jac = np.zeros((2, 3, 4))
    jac[0, 0, 3] = 0.8
    jac[0, 1, 0] = 0.5
    jac[0, 2, 2] = 0.9  # self-dependence never blocks a swap
    jac[1, 1, 0] = 0.5  # s0 is not controllable in row 1, so this edge does not matter
    jac[1, 2, 3] = 0.01  # below the threshold
    free = locally_free(jac, 3, threshold=0.05)
    assert free.tolist() == [[False, False, True], [True, True, True]]
    cand = np.array([True, True, True])
    assert pair_mask(cand, free[[0]], free[[1]]).tolist() == [[False, False, True]]
    assert pair_mask(np.array([False, True, False]), free[[1]], free[[1]]).tolist() == [[False, True, False]]
