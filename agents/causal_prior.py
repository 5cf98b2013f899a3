"""The causal prior of a CausalSAC: graph, refit schedule, weights, swap rule, their generators and state.

One plain object, owned by :class:`agents.causal_sac.CausalSAC` and called from its ``train()``:

* :meth:`CausalPrior.maybe_refit` fits the factored graph (and, for the local swap rule, a dynamics model) on
  the most recent ``window`` real transitions once ``num_timesteps`` reaches the schedule, and returns the
  metrics to log;
* :attr:`CausalPrior.w_a` are the action weights the losses use;
* :meth:`CausalPrior.plan_swaps` is the swap rule the replay buffer asks at sampling time: partners and a
  per-row mask of the dims to swap (``causal.swap`` decides which dims; this object only holds the state);
* :meth:`CausalPrior.state_dict` / :meth:`CausalPrior.load_state_dict` carry everything through checkpoints
  (tensors, numbers, strings, lists and dicts only: no pickled objects).

Schedule: the first fit once ``max(min_samples, min(window, buffer_size))`` transitions exist, then every
``refit_every`` env steps. Exact resume: each fit gets its own seed from ``(run seed, refit index)`` and the
global RNG states are restored around it, so a refit never shifts the random draws of training.

Warm refits: each DirectLiNGAM refit is given the previous fit's causal order (:attr:`CausalPrior.warm_order`,
part of the state dict) to verify and repair instead of searching from scratch. There is no config key for it (a
new key would make the saved ``config.yaml`` of older runs differ, and they could not resume); an empty
``warm_order`` means a cold fit. A refit logs ``causal/warm_start`` and ``causal/warm_order_kept`` (the share of
steps whose variable was the warm order's guess, see :func:`warm_steps_kept`) next to ``causal/fit_seconds`` and
``causal/refit_seconds``.
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.buffers import ReplayBuffer

import causal
from agents.config import CausalConfig
from agents.local_validity import LocalDynamics
from agents.replay_rows import View, recent_transitions, rows_of, stored_slots
from causal.swap import cap_by_score, pair_mask, swap_candidates

PARTNER_SEED_OFFSET = 70_001
NOISE_SEED_OFFSET = 90_001
_NEVER = int(np.iinfo(np.int64).max)


def first_fit_step(window: int, min_samples: int, buffer_size: int) -> int:
    """Env step of the first fit: ``window`` transitions (or a full buffer), never fewer than ``min_samples``."""
    return int(max(min_samples, min(window, buffer_size)))


def fit_seed(seed: int | None, refit_index: int) -> int:
    """Seed of the ``refit_index``-th fit of a run with ``seed`` (independent of everything else)."""
    return int(np.random.SeedSequence([int(seed or 0), 7_433, int(refit_index)]).generate_state(1)[0])


def warm_steps_kept(warm_order: list[str], order: list[str]) -> float:
    """Share of the steps of ``order`` whose variable was the earliest remaining one of ``warm_order``.

    That is what a warm-started search verifies instead of searching (variables of ``order`` missing from
    ``warm_order`` count as not kept): 1.0 when the order is unchanged, 0.0 for an empty ``order``.
    """
    if not order:
        return 0.0
    remaining = [v for v in dict.fromkeys(warm_order) if v in set(order)]
    kept = 0
    for name in order:
        if remaining and remaining[0] == name:
            kept += 1
        if name in remaining:
            remaining.remove(name)
    return kept / len(order)


@contextmanager
def preserved_global_rng():
    """Restore python's, numpy's and torch's global RNG states on exit."""
    py, np_state, torch_state = random.getstate(), np.random.get_state(), th.get_rng_state()
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(np_state)
        th.set_rng_state(torch_state)


@dataclass
class Refit:
    """What one refit produced: the graph, the candidate swap dims and the scalars to log."""

    graph: causal.FactoredGraph
    candidates: np.ndarray
    metrics: dict[str, float]


class CausalPrior:
    """Graph, schedule, weights and swap rule of one agent (see the module doc).

    Args:
        cfg: the causal settings.
        obs_dim, action_dim: sizes of ``s`` and ``a``.
        buffer_size: replay capacity (the schedule's first fit and the local masks' size).
        seed: the run's seed.
        device: torch device of the weights.
        view: maps stored observations to the ``obs_dim`` causal view (default: the flat observation itself).
    """

    def __init__(
        self,
        cfg: CausalConfig,
        obs_dim: int,
        action_dim: int,
        buffer_size: int,
        seed: int | None,
        device: Any,
        view: View | None = None,
    ) -> None:
        self.cfg = cfg
        self.view = view
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.seed = int(seed or 0)
        self.device = device
        self.n_refits = 0
        self.next_fit_step = first_fit_step(cfg.window, cfg.min_samples, buffer_size) if cfg.any_active else _NEVER
        self.partner_rng = np.random.default_rng(self.seed + PARTNER_SEED_OFFSET)
        self.noise_generator = th.Generator(device=device)
        self.noise_generator.manual_seed(self.seed + NOISE_SEED_OFFSET)
        self.local = (
            LocalDynamics(obs_dim, action_dim, cfg.dynamics_net_arch, cfg.local_threshold, device)
            if cfg.augment and cfg.validity_rule == "local"
            else None
        )
        self.local_free = np.zeros((0, obs_dim), dtype=bool)
        self.scored_pos = 0
        self.warm_order: list[str] = []
        self.use_graph(causal.uniform_graph(obs_dim, action_dim, cfg.temperature, cfg.weight_scale))

    # ---- weights and swap rule ------------------------------------------------------------------------------

    def use_graph(self, graph: causal.FactoredGraph) -> None:
        """Take ``graph``: its action weights for the losses and its swap candidates for the buffer."""
        c = self.cfg
        self.graph = graph
        self.w_a = th.as_tensor(np.asarray(graph.w_a), dtype=th.float32, device=self.device)
        self.candidates = swap_candidates(
            graph, irrelevance=c.irrelevance, tau_s=c.tau_s, max_swap_frac=c.max_swap_frac, validity=c.validity_rule
        )

    @property
    def swaps_possible(self) -> bool:
        """Whether augmentation is on and some dim is a swap candidate."""
        return bool(self.cfg.augment and self.candidates.any())

    def plan_swaps(
        self, rows: np.ndarray, row_envs: np.ndarray, upper: int, n_envs: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Partners for ``rows`` (buffer slots ``< upper``) and the ``(len(rows), |S|)`` mask of dims to swap."""
        partners = self.partner_rng.integers(0, upper, size=len(rows))
        partner_envs = self.partner_rng.integers(0, n_envs, size=len(rows))
        if self.local is None:
            mask = np.broadcast_to(self.candidates, (len(rows), self.obs_dim))
        else:
            free = self.local_free
            mask = pair_mask(self.candidates, free[rows, row_envs], free[partners, partner_envs])
        return partners, partner_envs, mask

    # ---- refits ---------------------------------------------------------------------------------------------

    def maybe_refit(self, num_timesteps: int, buffer: ReplayBuffer) -> Refit | None:
        """Refit when the schedule says so (returns what to log), else ``None``; keeps local masks current."""
        if self.local is not None:
            self._ensure_capacity(buffer)
        if num_timesteps < self.next_fit_step:
            if self.local is not None and self.local.fitted:
                self._score_new_rows(buffer)
            return None
        start = time.perf_counter()
        c = self.cfg
        states, actions, rewards, next_states = recent_transitions(buffer, c.window, self.view)
        seed = fit_seed(self.seed, self.n_refits)
        warm = list(self.warm_order) if self.warm_order and c.method == "direct_lingam" else None
        with preserved_global_rng():
            graph = causal.fit_factored_graph(
                states,
                actions,
                rewards,
                next_states,
                method=c.method,
                temperature=c.temperature,
                weight_scale=c.weight_scale,
                seed=seed,
                transition=c.transition_graph,
                warm_order=warm,
                backend=c.lingam_backend(self.device),
                device=self.device,
            )
            graph_seconds = time.perf_counter() - start
            self.use_graph(graph)
            metrics = self._graph_metrics(graph, graph_seconds)
            metrics["causal/warm_start"] = float(warm is not None)
            metrics["causal/warm_order_kept"] = warm_steps_kept(warm, graph.causal_order) if warm else 0.0
            self.warm_order = list(graph.causal_order)
            if self.local is not None and self.candidates.any():
                local_start = time.perf_counter()
                loss = self.local.fit(states, actions, next_states, c.dynamics_steps, seed)
                self._score_all_rows(buffer)
                free_share = self.local_free[: stored_slots(buffer)].reshape(-1, self.obs_dim).mean(axis=0)
                self.candidates = cap_by_score(self.candidates, free_share, c.max_swap_frac)
                metrics["causal/n_irrelevant"] = float(np.count_nonzero(self.candidates))
                metrics["augment/swap_dim_fraction"] = float(np.count_nonzero(self.candidates)) / self.obs_dim
                metrics["causal/dynamics_loss"] = loss
                metrics["causal/local_threshold"] = self.local.threshold
                metrics["causal/local_seconds"] = time.perf_counter() - local_start
                metrics.update(self._local_metrics(buffer))
        self.n_refits += 1
        every = max(1, int(c.refit_every))
        while self.next_fit_step <= num_timesteps:
            self.next_fit_step += every
        metrics["causal/n_refits"] = float(self.n_refits)
        metrics["causal/refit_seconds"] = time.perf_counter() - start
        return Refit(graph=graph, candidates=self.candidates.copy(), metrics=metrics)

    def select_swaps(
        self, graph: causal.FactoredGraph, states: np.ndarray, actions: np.ndarray, next_states: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The swap rule on ``graph`` for these transitions, as a refit applies it (``discover`` prints it).

        Returns:
            The swap candidates and, for the local rule, every dim's share of transitions where it is locally
            free (``None`` for the other rules).
        """
        with preserved_global_rng():
            self.use_graph(graph)
            if self.local is None or not self.candidates.any():
                return self.candidates.copy(), None
            self.local.fit(states, actions, next_states, self.cfg.dynamics_steps, seed)
            share = self.local.free(states, actions, np.flatnonzero(self.candidates)).mean(axis=0)
        self.candidates = cap_by_score(self.candidates, share, self.cfg.max_swap_frac)
        return self.candidates.copy(), share

    def _graph_metrics(self, graph: causal.FactoredGraph, seconds: float) -> dict[str, float]:
        out: dict[str, float] = {f"causal/w_s_{i}": float(w) for i, w in enumerate(graph.w_s)}
        out.update({f"causal/w_a_{i}": float(w) for i, w in enumerate(graph.w_a)})
        out["causal/w_a_max_over_min"] = causal.max_over_min(graph.w_a)
        out["causal/w_s_max_over_min"] = causal.max_over_min(graph.w_s)
        out["causal/fit_seconds"] = float(seconds)
        out["causal/n_irrelevant"] = float(np.count_nonzero(self.candidates))
        out["causal/n_samples"] = float(graph.n_samples)
        out["causal/n_dropped_state"] = float(len(graph.dropped_state))
        out["causal/n_dropped_action"] = float(len(graph.dropped_action))
        out["augment/swap_dim_fraction"] = float(np.count_nonzero(self.candidates)) / max(1, graph.state_dim)
        return out

    def _ensure_capacity(self, buffer: ReplayBuffer) -> None:
        shape = (buffer.buffer_size, buffer.n_envs, self.obs_dim)
        if self.local_free.shape != shape:
            grown = np.zeros(shape, dtype=bool)
            if self.local_free.ndim == 3:
                n = min(len(self.local_free), shape[0])
                grown[:n] = self.local_free[:n]
            self.local_free = grown

    def _score(self, buffer: ReplayBuffer, slots: np.ndarray) -> None:
        assert self.local is not None
        if slots.size == 0:
            return
        obs = rows_of(buffer.observations, slots, self.view)
        act = buffer.actions[slots].reshape(-1, self.action_dim).astype(np.float64)
        free = self.local.free(obs, act, np.flatnonzero(self.candidates))
        free = free.reshape(len(slots), buffer.n_envs, self.obs_dim)
        self.local_free[slots] = free

    def _score_all_rows(self, buffer: ReplayBuffer) -> None:
        self._ensure_capacity(buffer)
        self.local_free[:] = False
        self._score(buffer, np.arange(stored_slots(buffer)))
        self.scored_pos = int(buffer.pos)

    def _score_new_rows(self, buffer: ReplayBuffer, min_rows: int = 256) -> None:
        """Score the slots written since the last scoring, in batches of at least ``min_rows``."""
        self._ensure_capacity(buffer)
        n_new = (int(buffer.pos) - self.scored_pos) % buffer.buffer_size
        if n_new < min_rows:
            return
        self._score(buffer, (self.scored_pos + np.arange(n_new)) % buffer.buffer_size)
        self.scored_pos = int(buffer.pos)

    def _local_metrics(self, buffer: ReplayBuffer) -> dict[str, float]:
        stored = stored_slots(buffer)
        free = self.local_free[:stored][..., self.candidates]
        out = {"augment/local_free_fraction": float(free.mean()) if free.size else 0.0}
        for j, frac in zip(np.flatnonzero(self.candidates), free.reshape(-1, free.shape[-1]).mean(axis=0), strict=True):
            out[f"augment/local_free_s{j}"] = float(frac)
        return out

    # ---- checkpoints ----------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs, as tensors, numbers, strings, lists and dicts."""
        return {
            "graph": self.graph.to_dict(),
            "candidates": [bool(x) for x in self.candidates],
            "n_refits": int(self.n_refits),
            "next_fit_step": int(self.next_fit_step),
            "partner_rng": _bit_generator_state(self.partner_rng),
            "noise_generator": self.noise_generator.get_state().cpu(),
            "local": self.local.state_dict() if self.local is not None else {},
            "local_free": th.as_tensor(self.local_free),
            "scored_pos": int(self.scored_pos),
            "warm_order": list(self.warm_order),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`."""
        self.use_graph(causal.FactoredGraph.from_dict(state["graph"]))
        self.candidates = np.asarray(state["candidates"], dtype=bool)
        self.n_refits = int(state["n_refits"])
        self.next_fit_step = int(state["next_fit_step"])
        self.partner_rng.bit_generator.state = _bit_generator_state_from(state["partner_rng"])
        self.noise_generator.set_state(state["noise_generator"])
        if self.local is not None:
            self.local.load_state_dict(state["local"])
        self.local_free = state["local_free"].numpy().astype(bool)
        self.scored_pos = int(state["scored_pos"])
        # checkpoints written before warm refits: the saved graph's order is the one the next refit would get
        self.warm_order = [str(v) for v in state.get("warm_order", self.graph.causal_order)]


def _bit_generator_state(rng: np.random.Generator) -> dict[str, Any]:
    """A numpy generator's state with every integer as a string (PCG64 states exceed 64 bits)."""
    state = rng.bit_generator.state
    return {
        "bit_generator": state["bit_generator"],
        "state": {k: str(v) for k, v in state["state"].items()},
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


def _bit_generator_state_from(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "bit_generator": data["bit_generator"],
        "state": {k: int(v) for k, v in data["state"].items()},
        "has_uint32": int(data["has_uint32"]),
        "uinteger": int(data["uinteger"]),
    }
