"""The torch DirectLiNGAM backend (dense search, CPU here): the numpy path's order and edges, prior knowledge,
warm orders, tiles, entropies and errors. The GPU path is the same code with another ``device``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from causal_synth import random_sem, toy_mdp

from causal import fit_factored_graph
from causal.lingam import causal_order, direct_lingam, make_prior_knowledge
from causal.lingam_torch import _entropy_rows, causal_order_torch, default_chunk, torch_dtype
from causal.pwling import _entropy_rows as numpy_entropy_rows
from causal.synthetic import sem_family

CASES = [(5, 1000, 0), (8, 500, 1), (10, 5000, 2), (12, 2000, 3), (15, 3000, 4)]  # test_causal_reference's SEMs
FAMILIES = [("sparse", "laplace", 24), ("dense", "exponential", 24), ("sparse", "uniform", 30)]


def _standardised(X: np.ndarray) -> np.ndarray:
    return (X - X.mean(0)) / X.std(0)


@pytest.mark.parametrize("tolerance", [0.0, None])
@pytest.mark.parametrize("d,n,seed", CASES)
def test_same_order_and_edges_as_numpy(d, n, seed, tolerance):
    X = _standardised(random_sem(d, n, seed)[0])
    kw = {} if tolerance is None else {"tolerance": tolerance}
    ours = direct_lingam(X, **kw)
    dense = direct_lingam(X, backend="torch", device="cpu", **kw)
    assert dense.causal_order == ours.causal_order
    np.testing.assert_array_equal(dense.adjacency, ours.adjacency)  # same order -> the same (numpy) pruning
    assert dense.pairs_evaluated == sum(m * (m - 1) for m in range(2, d + 1))  # every pair of every step


@pytest.mark.parametrize("graph,noise,d", FAMILIES)
def test_same_order_as_numpy_on_benchmark_families(graph, noise, d):
    X = _standardised(sem_family(d, 4000, 7, graph, noise)[0])
    for tolerance in (0.0, 3e-8):
        assert causal_order_torch(X, tolerance=tolerance)[0] == causal_order(X, tolerance=tolerance)[0]


@pytest.mark.parametrize("tolerance", [0.0, 3e-8])
@pytest.mark.parametrize("seed", [5, 6, 7])
def test_float64_torch_equals_numpy_float64_in_order(seed, tolerance):
    X = _standardised(random_sem(12, 3000, seed, edge_prob=0.4)[0])
    ours = causal_order(X, tolerance=tolerance, dtype=np.float64)[0]
    assert causal_order_torch(X, tolerance=tolerance, dtype=torch.float64)[0] == ours
    assert causal_order_torch(X, tolerance=tolerance, dtype=np.float64)[0] == ours  # numpy dtypes are accepted


@pytest.mark.parametrize("seed", [0, 1])
def test_prior_knowledge_is_honoured_as_in_numpy(seed):
    X = _standardised(random_sem(9, 2000, 10 + seed)[0])
    pk = make_prior_knowledge(9, sinks=[8], no_paths=[(0, 3), (5, 1)], paths=[(2, 7)])
    for tolerance in (0.0, 3e-8):
        ours = direct_lingam(X, pk, tolerance=tolerance)
        dense = direct_lingam(X, pk, tolerance=tolerance, backend="torch")
        assert dense.causal_order == ours.causal_order
        np.testing.assert_array_equal(dense.adjacency, ours.adjacency)
        order = dense.causal_order
        assert order[-1] == 8 and order.index(2) < order.index(7)  # the sink last, the path's source first


def test_reward_sink_of_an_mdp_gives_the_same_factored_graph():
    S, A, R, S2 = toy_mdp(3000, seed=0)
    ours = fit_factored_graph(S, A, R, S2)
    dense = fit_factored_graph(S, A, R, S2, backend="torch", device="cpu")
    assert dense.causal_order == ours.causal_order and dense.causal_order[-1] == "r"
    np.testing.assert_array_equal(dense.reward_state_coef, ours.reward_state_coef)
    np.testing.assert_array_equal(dense.reward_action_coef, ours.reward_action_coef)
    np.testing.assert_array_equal(dense.w_s, ours.w_s)
    assert ours.reward_state_edges[[0, 2, 5]].all()  # the relevant dims of the toy MDP


def test_warm_order_gives_the_numpy_result():
    X = _standardised(sem_family(20, 4000, 3, "sparse", "laplace")[0])
    previous = causal_order(X[:3000])[0]
    for tolerance in (0.0, 3e-8):
        warm = causal_order(X, warm_order=previous, tolerance=tolerance)[0]
        assert causal_order_torch(X, warm_order=previous, tolerance=tolerance)[0] == warm
    cold = causal_order_torch(X, tolerance=0.0)[0]
    assert causal_order_torch(X, warm_order=previous[::-1], tolerance=0.0)[0] == cold  # exact: no effect


@pytest.mark.parametrize("chunk", [1, 7, 10_000])
def test_tiling_does_not_change_the_order(chunk):
    X = _standardised(random_sem(11, 1500, 9, edge_prob=0.5)[0])
    assert causal_order_torch(X, tolerance=0.0, chunk=chunk)[0] == causal_order(X, tolerance=0.0)[0]


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-13), (np.float32, 2e-6)])
def test_entropies_match_the_numpy_kernel_including_the_overflow_form(dtype, rtol):
    rng = np.random.default_rng(0)
    U = rng.laplace(size=(6, 5000))
    U[2, 7] = 400.0 if dtype == np.float32 else 800.0  # beyond cosh's range: the overflow-free form
    U = ((U - U.mean(1, keepdims=True)) / U.std(1, keepdims=True)).astype(dtype)
    want = numpy_entropy_rows(U.copy())
    got = _entropy_rows(torch.from_numpy(U.copy()).reshape(2, 3, -1)).reshape(-1).numpy()
    assert np.isfinite(got).all() and got[2] < want[0]  # the outlier row is finite (and far from Gaussian)
    np.testing.assert_allclose(got, want, rtol=rtol)


def test_errors_match_the_numpy_path():
    X, _ = random_sem(4, 200, 0)
    bad = X.copy()
    bad[:, 1] = 3.0
    with pytest.raises(ValueError, match="non-constant"):
        causal_order_torch(bad)
    with pytest.raises(ValueError, match="cyclic"):
        causal_order_torch(X[:, :3], make_prior_knowledge(3, paths=[(0, 1), (1, 2), (2, 0)]))
    with pytest.raises(ValueError, match="permutation"):
        causal_order_torch(X, warm_order=[0, 1, 1, 2])
    with pytest.raises(ValueError, match="float32 or float64"):
        causal_order_torch(X, dtype=torch.float16)
    with pytest.raises(ValueError, match="mps"):
        causal_order_torch(X, device="mps")
    with pytest.raises(ValueError, match="chunk"):
        causal_order_torch(X, chunk=0)
    with pytest.raises(ValueError, match="backend"):
        direct_lingam(X, backend="jax")
    S, A, R, S2 = toy_mdp(300)
    with pytest.raises(ValueError, match="backend"):
        fit_factored_graph(S, A, R, S2, backend="cuda")


def test_dtype_and_chunk_defaults():
    assert torch_dtype(np.float32) is torch.float32 and torch_dtype(torch.float64) is torch.float64
    assert default_chunk(torch.device("cpu"), 10_000) == 64
    assert default_chunk(torch.device("cuda"), 10_000) * 10_000 <= 2**28  # a GPU tile stays within 1 GiB (float32)
