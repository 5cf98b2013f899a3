"""Which state dims counterfactual augmentation may swap: the one rule, used by training and ``discover``.

Counterfactual data augmentation (CIP / CoDA, spec section 2) swaps reward-irrelevant state dims between two
transitions. A swap is only a plausible transition where the swapped dims are causally separate from the rest:

* **candidates**: reward-irrelevant dims, either without a pruned ``s_j -> r`` edge (``irrelevance="edges"``)
  or with ``w_s[j] < tau_s`` (``"weights"``, the spec's rule), capped at ``max_swap_frac`` of the dims
  (the lowest weights are kept); dims the fit dropped (constant or collinear in its window) never are;
* **validity** of a candidate:

  - ``"global"``: in the one fitted linear transition graph, no action reaches ``s'_j`` and every state parent
    of ``s'_j`` is swapped too or uncontrollable (:func:`coda_valid`). On Hopper, HalfCheetah and DMC reacher
    the action reaches every candidate this way, so nothing is swapped there;
  - ``"local"`` (CoDA's actual idea): per transition, from the Jacobian of a learned dynamics model at that
    ``(s, a)`` (:func:`locally_free`): dim ``j`` may be swapped between transitions ``t`` and ``u`` when it is
    locally independent of the action and of every locally controllable dim at both (:func:`pair_mask`);
  - ``"none"``: every candidate (a probe; swapping action-driven dims makes impossible transitions).

Pure numpy; the Jacobians come from :mod:`agents.local_validity`.
"""

from __future__ import annotations

import numpy as np

from causal.graph import FactoredGraph

__all__ = [
    "IRRELEVANCE_RULES",
    "VALIDITY_RULES",
    "cap_by_score",
    "coda_valid",
    "controllable_dims",
    "irrelevant_mask",
    "locally_free",
    "locally_free_dims",
    "pair_mask",
    "swap_candidates",
]

IRRELEVANCE_RULES = ("edges", "weights")
VALIDITY_RULES = ("local", "global", "none")


def controllable_dims(transition_edges: np.ndarray, state_dim: int) -> np.ndarray:
    """State dims reachable from an action in the transition graph (``|S| x (|S|+|A|)`` parent pattern)."""
    edges = np.asarray(transition_edges, dtype=bool)
    controllable = edges[:, state_dim:].any(axis=1)
    while True:
        grown = controllable | (edges[:, :state_dim] & controllable[None, :]).any(axis=1)
        if (grown == controllable).all():
            return controllable
        controllable = grown


def coda_valid(mask: np.ndarray, transition_edges: np.ndarray) -> np.ndarray:
    """Shrink ``mask`` until every swapped dim has no action parent and only state parents that are
    swapped too or uncontrollable (the global CoDA validity condition); a fixpoint."""
    n = mask.size
    edges = np.asarray(transition_edges, dtype=bool)
    state_parents, action_parents = edges[:, :n], edges[:, n:].any(axis=1)
    controllable = controllable_dims(edges, n)
    mask = mask.copy()
    while mask.any():
        offending = (state_parents & ~mask[None, :] & controllable[None, :]).any(axis=1) | action_parents
        bad = mask & offending
        if not bad.any():
            break
        mask &= ~bad
    return mask


def irrelevant_mask(
    w_s: np.ndarray,
    tau_s: float,
    max_swap_frac: float,
    transition_edges: np.ndarray | None = None,
    coda_validity: bool = True,
    candidates: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean mask of the state dims to swap under the global rule.

    1. Candidates: ``candidates`` when given (e.g. dims without a reward edge), else ``w_s[j] < tau_s``.
    2. Global CoDA validity (when ``coda_validity`` and ``transition_edges`` are given): :func:`coda_valid`.
    3. Cap: the lowest-weight ``floor(max_swap_frac * |S|)`` dims, then validity again (the cap can remove
       a swapped parent of a kept candidate).
    """
    w_s = np.asarray(w_s, dtype=np.float64)
    n = w_s.size
    check = coda_validity and transition_edges is not None
    mask = (w_s < tau_s) if candidates is None else np.asarray(candidates, dtype=bool).copy()
    if check:
        mask = coda_valid(mask, transition_edges)
    cap = int(np.floor(max_swap_frac * n))
    if mask.sum() > cap:
        keep = [int(j) for j in np.argsort(w_s, kind="stable") if mask[j]][:cap]
        mask = np.zeros(n, dtype=bool)
        mask[keep] = True
        if check:
            mask = coda_valid(mask, transition_edges)
    return mask


def swap_candidates(
    graph: FactoredGraph,
    *,
    irrelevance: str = "edges",
    tau_s: float = 0.5,
    max_swap_frac: float = 0.5,
    validity: str = "local",
) -> np.ndarray:
    """The state dims that augmentation may swap given ``graph`` (see the module doc).

    With ``validity="local"`` this is the uncapped candidate set before the per-transition test (the cap is
    applied after it, by :func:`cap_by_score`); with ``"global"`` it is the final swap set; with ``"none"`` the
    capped candidates. Before any fit (``method="uniform"``) nothing. Dims the fit dropped (constant or an
    exact linear function of other columns in its window, ``graph.dropped_state``) are never candidates: the
    fit has no evidence that they are reward-irrelevant, and a dim constant in the window may vary elsewhere in
    the buffer (as candidates they would also fill the ``max_swap_frac`` cap without changing any row).
    """
    if irrelevance not in IRRELEVANCE_RULES:
        raise ValueError(f"irrelevance must be one of {list(IRRELEVANCE_RULES)}, got '{irrelevance}'")
    if validity not in VALIDITY_RULES:
        raise ValueError(f"validity must be one of {list(VALIDITY_RULES)}, got '{validity}'")
    if graph.method == "uniform":
        return np.zeros(graph.state_dim, dtype=bool)
    if irrelevance == "edges":
        candidates = ~np.asarray(graph.reward_state_edges, dtype=bool)
    else:
        candidates = np.asarray(graph.w_s, dtype=np.float64) < tau_s
    candidates[list(graph.dropped_state)] = False  # the fit never saw them: no evidence either way
    use_graph = validity == "global" and graph.transition_edges is not None
    return irrelevant_mask(
        graph.w_s,
        tau_s,
        1.0 if validity == "local" else max_swap_frac,
        graph.transition_edges if use_graph else None,
        coda_validity=use_graph,
        candidates=candidates,
    )


def cap_by_score(candidates: np.ndarray, score: np.ndarray, max_swap_frac: float) -> np.ndarray:
    """Keep at most ``floor(max_swap_frac * |S|)`` candidates, those with the highest ``score`` (ties: lower
    index first). The local rule scores each candidate by the share of stored transitions where it is free, so
    the cap keeps the dims that can actually be swapped."""
    mask = np.asarray(candidates, dtype=bool).copy()
    cap = int(np.floor(max_swap_frac * mask.size))
    if mask.sum() > cap:
        order = [int(j) for j in np.argsort(-np.asarray(score, dtype=np.float64), kind="stable") if mask[j]]
        mask[:] = False
        mask[order[:cap]] = True
    return mask


def locally_free(jacobian: np.ndarray, state_dim: int, threshold: float) -> np.ndarray:
    """Per transition, the state dims that are locally independent of the action and of controllable dims.

    Args:
        jacobian: ``(rows, |S|, |S| + |A|)`` derivatives of the (standardised) next-state change with respect
            to the (standardised) ``[s | a]`` at each transition.
        state_dim: ``|S|``.
        threshold: an entry whose magnitude exceeds it is a local edge; for the action block the norm over
            action dims is compared.

    Returns:
        ``(rows, |S|)`` booleans: ``s'_j`` has no local action edge and no local edge from a dim ``k != j``
        that itself has a local action edge at that transition (a swapped dim is never action-driven, so
        "unswapped controllable" and "controllable" coincide in one step).
    """
    jac = np.asarray(jacobian)
    dims = np.arange(state_dim)
    return locally_free_dims(jac[:, :, state_dim:], jac[:, :, :state_dim], dims, threshold)


def locally_free_dims(
    action_jacobian: np.ndarray, state_jacobian: np.ndarray, dims: np.ndarray, threshold: float
) -> np.ndarray:
    """:func:`locally_free` for the next-state dims ``dims`` only, from the parts of the Jacobian it needs.

    Args:
        action_jacobian: ``(rows, |S|, |A|)`` derivatives of every next-state dim by the action.
        state_jacobian: ``(rows, len(dims), |S|)`` derivatives of the dims ``dims`` by the state.
        dims: the next-state dims to test.
        threshold: see :func:`locally_free`.

    Returns:
        ``(rows, len(dims))`` booleans.
    """
    dims = np.asarray(dims, dtype=int)
    action_driven = np.linalg.norm(np.asarray(action_jacobian), axis=2) > threshold  # (rows, |S|)
    state_edges = np.abs(np.asarray(state_jacobian)) > threshold  # (rows, len(dims), |S|)
    state_edges[:, np.arange(dims.size), dims] = False  # self-dependence never blocks a swap
    from_controllable = (state_edges & action_driven[:, None, :]).any(axis=2)
    return ~action_driven[:, dims] & ~from_controllable


def pair_mask(candidates: np.ndarray, free_rows: np.ndarray, free_partners: np.ndarray) -> np.ndarray:
    """``(rows, |S|)``: swap dim ``j`` between a row and its partner where it is a candidate and locally free
    at both transitions."""
    return np.asarray(candidates, dtype=bool)[None, :] & free_rows & free_partners
