"""Causal structure of MDPs for CIP: DirectLiNGAM, adaptive lasso, the factored graph and its weights.

Pure numpy (matplotlib only in :mod:`causal.plots`, torch only in :mod:`causal.lingam_torch`, the optional dense
DirectLiNGAM search of ``backend="torch"``; both imported on demand). Main entry point::

    from causal import fit_factored_graph
    graph = fit_factored_graph(S, A, R, S_next, method="direct_lingam", temperature=1.0)
    graph.w_s, graph.w_a           # CIP weights
    graph.save_json("graph.json")
"""

from causal.discovery import METHODS, fit_factored_graph, ols_t_test
from causal.graph import DEFAULT_TEMPERATURE, WEIGHT_SCALES, FactoredGraph, cip_weights, max_over_min, uniform_graph
from causal.lasso import adaptive_lasso_bic, lars_lasso_path, moments
from causal.lingam import LingamResult, causal_order, direct_lingam, estimate_adjacency, make_prior_knowledge
from causal.swap import swap_candidates

__all__ = [
    "DEFAULT_TEMPERATURE",
    "METHODS",
    "WEIGHT_SCALES",
    "max_over_min",
    "FactoredGraph",
    "LingamResult",
    "adaptive_lasso_bic",
    "causal_order",
    "cip_weights",
    "direct_lingam",
    "estimate_adjacency",
    "fit_factored_graph",
    "lars_lasso_path",
    "make_prior_knowledge",
    "moments",
    "ols_t_test",
    "swap_candidates",
    "uniform_graph",
]
