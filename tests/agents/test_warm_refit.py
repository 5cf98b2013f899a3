"""Warm refits of the causal prior: each DirectLiNGAM refit starts from the previous fit's causal order, gives the
cold refit's graph on the same data, logs what it kept, and carries its order through the state dict."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer

from agents.causal_prior import CausalPrior, warm_steps_kept
from agents.config import CausalConfig

OBS, ACT = 8, 3


def _transitions(n: int, seed: int) -> tuple[np.ndarray, ...]:
    """A linear non-Gaussian MDP: the reward depends on s0, s2, s5 and a0; s' on s and a."""
    rng = np.random.default_rng(seed)
    S = rng.laplace(size=(n, OBS))
    S[:, 1] += 0.8 * S[:, 0]  # a causal chain among the state dims, so the order is not arbitrary
    A = rng.uniform(-1.0, 1.0, size=(n, ACT))
    R = S[:, 0] - 0.8 * S[:, 2] + 0.9 * S[:, 5] + 0.7 * A[:, 0] + 0.2 * rng.laplace(size=n)
    S2 = 0.8 * S + 0.1 * rng.laplace(size=(n, OBS))
    S2[:, :ACT] += 0.5 * A
    return S, A, R, S2


def _fill(buffer: ReplayBuffer, data: tuple[np.ndarray, ...], rows: range) -> None:
    S, A, R, S2 = data
    for t in rows:
        buffer.add(S[t : t + 1], S2[t : t + 1], A[t : t + 1], R[t : t + 1], np.array([False]), [{}])


def _prior() -> CausalPrior:
    cfg = CausalConfig(entropy=True, window=2000, min_samples=2000, refit_every=1000, transition_graph=False)
    return CausalPrior(cfg, OBS, ACT, buffer_size=5000, seed=0, device="cpu")


def test_warm_steps_kept_counts_the_verified_steps():
    assert warm_steps_kept(["a", "b", "c", "r"], ["a", "b", "c", "r"]) == 1.0
    assert (
        warm_steps_kept(["a", "b", "c", "r"], ["b", "a", "c", "r"]) == 0.75
    )  # b was not the guess (a was); a, c, r then were
    assert warm_steps_kept(["a", "r"], ["a", "new", "r"]) == pytest.approx(2 / 3)  # a new variable is not kept
    assert warm_steps_kept(["a"], []) == 0.0


@pytest.fixture(scope="module")
def refits():
    """A warm and a cold prior refitted on the same buffer at steps 2000 and 3000 (windows 0-2000, 1000-3000)."""
    data = _transitions(3000, seed=5)
    buffer = ReplayBuffer(5000, spaces.Box(-9e9, 9e9, (OBS,)), spaces.Box(-1, 1, (ACT,)), device="cpu")
    warm, cold = _prior(), _prior()
    _fill(buffer, data, range(2000))
    first = [p.maybe_refit(2000, buffer) for p in (warm, cold)]
    cold.warm_order = []  # no previous order: the second refit searches from scratch
    _fill(buffer, data, range(2000, 3000))
    second = [p.maybe_refit(3000, buffer) for p in (warm, cold)]
    return warm, cold, first, second


def test_warm_refit_gives_the_cold_refits_graph(refits):
    warm, cold, first, second = refits
    assert first[0].metrics["causal/warm_start"] == 0.0  # nothing to start from at the first fit
    assert warm.n_refits == cold.n_refits == 2
    gw, gc = second[0].graph, second[1].graph
    np.testing.assert_array_equal(gw.reward_state_edges, gc.reward_state_edges)
    np.testing.assert_array_equal(gw.reward_action_edges, gc.reward_action_edges)
    np.testing.assert_allclose(gw.reward_state_coef, gc.reward_state_coef, atol=1e-10)
    np.testing.assert_allclose(gw.w_a, gc.w_a, atol=1e-10)
    assert set(np.flatnonzero(gw.reward_state_edges)) == {0, 2, 5}  # and it is the right graph
    assert gw.causal_order[-1] == "r"


def test_refit_logs_whether_and_how_much_of_the_warm_order_was_kept(refits):
    warm, cold, first, second = refits
    mw, mc = second[0].metrics, second[1].metrics
    assert mw["causal/warm_start"] == 1.0 and mc["causal/warm_start"] == 0.0
    assert mw["causal/warm_order_kept"] == warm_steps_kept(first[0].graph.causal_order, second[0].graph.causal_order)
    assert 0.5 < mw["causal/warm_order_kept"] <= 1.0  # neighbouring windows of one MDP: mostly the same order
    assert mc["causal/warm_order_kept"] == 0.0
    assert mw["causal/refit_seconds"] >= mw["causal/fit_seconds"] > 0.0
    assert mw["causal/n_dropped_state"] == 0.0 and mw["causal/n_dropped_action"] == 0.0
    assert warm.warm_order == second[0].graph.causal_order


def test_warm_order_goes_through_the_state_dict(refits):
    warm = refits[0]
    state = warm.state_dict()
    assert state["warm_order"] == warm.warm_order and all(isinstance(v, str) for v in state["warm_order"])
    fresh = _prior()
    fresh.load_state_dict(state)
    assert fresh.warm_order == warm.warm_order
    state["warm_order"] = ["s0", "r"]  # a changed saved order is taken as saved, not re-derived from the graph
    fresh.load_state_dict(state)
    assert fresh.warm_order == ["s0", "r"]
    del state["warm_order"]  # a checkpoint written before warm refits: the saved graph's order
    fresh.load_state_dict(state)
    assert fresh.warm_order == warm.graph.causal_order
