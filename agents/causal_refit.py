"""Refit the factored causal graph on a schedule, from the most recent real transitions in replay.

:class:`CausalRefitCallback` is added by :meth:`agents.causal_sac.CausalSAC.learn` itself, so every
caller gets it. It acts at the end of a rollout (the newest transition is stored, the next gradient
step has not happened yet): once ``num_timesteps`` reaches the model's ``next_fit_step`` it fits
:func:`causal.fit_factored_graph` on the last ``window`` transitions and hands the graph to the model
(weights for the losses, swap mask for the replay buffer).

Schedule (see :class:`agents.config.CausalConfig`): the first fit once
``max(min_samples, min(window, buffer_size))`` transitions exist, then every ``refit_every`` env steps.
The schedule and refit counter live on the model and travel through ``extra_state()``.

Exact resume: the fit gets its own seed from ``(run seed, refit index)``, and the global RNG states are
restored around it, so a refit never shifts the random draws of training.
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Figure

import causal
from causal_priors.runs import write_json


def first_fit_step(window: int, min_samples: int, buffer_size: int) -> int:
    """Env step of the first fit: ``window`` transitions (or a full buffer), never fewer than ``min_samples``."""
    return int(max(min_samples, min(window, buffer_size)))


def fit_seed(seed: int | None, refit_index: int) -> int:
    """Seed of the ``refit_index``-th fit of a run with ``seed`` (independent of everything else)."""
    return int(np.random.SeedSequence([int(seed or 0), 7_433, int(refit_index)]).generate_state(1)[0])


def recent_transitions(buffer: ReplayBuffer, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The most recent ``n`` stored transitions (fewer if fewer exist), oldest first.

    Handles a wrapped buffer and several envs (SB3 arrays are ``(buffer_size, n_envs, dim)``; the newest
    ``ceil(n / n_envs)`` slots of every env are taken).

    Returns:
        ``S (m, |S|)``, ``A (m, |A|)``, ``R (m,)``, ``S' (m, |S|)`` as float64.
    """
    stored = buffer.buffer_size if buffer.full else buffer.pos
    slots = min(stored, -(-int(n) // buffer.n_envs))
    idx = (buffer.pos - slots + np.arange(slots)) % buffer.buffer_size

    def take(array: np.ndarray) -> np.ndarray:
        block = array[idx]
        return block.reshape(slots * buffer.n_envs, -1).astype(np.float64)

    return (
        take(buffer.observations),
        take(buffer.actions),
        take(buffer.rewards)[:, 0],
        take(buffer.next_observations),
    )


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


def fit_graph(buffer: ReplayBuffer, cfg: Any, seed: int | None, refit_index: int) -> causal.FactoredGraph:
    """Fit the graph on the last ``cfg.window`` transitions of ``buffer`` (``cfg``: a ``CausalConfig``)."""
    states, actions, rewards, next_states = recent_transitions(buffer, cfg.window)
    with preserved_global_rng():
        return causal.fit_factored_graph(
            states,
            actions,
            rewards,
            next_states,
            method=cfg.method,
            temperature=cfg.temperature,
            seed=fit_seed(seed, refit_index),
            transition=cfg.transition_graph,
        )


def graph_metrics(graph: causal.FactoredGraph, swap_mask: np.ndarray, seconds: float) -> dict[str, float]:
    """Scalars logged at each refit: every weight, the fit time and the size of the swap set."""
    out: dict[str, float] = {f"causal/w_s_{i}": float(w) for i, w in enumerate(graph.w_s)}
    out.update({f"causal/w_a_{i}": float(w) for i, w in enumerate(graph.w_a)})
    out["causal/fit_seconds"] = float(seconds)
    out["causal/n_irrelevant"] = float(np.count_nonzero(swap_mask))
    out["causal/n_samples"] = float(graph.n_samples)
    out["augment/swap_dim_fraction"] = float(np.count_nonzero(swap_mask)) / max(1, graph.state_dim)
    return out


def graph_figure(graph: causal.FactoredGraph):
    """A matplotlib figure of the graph for TensorBoard (``causal.plots``)."""
    from causal import plots

    return plots.plot_graph(graph)


class CausalRefitCallback(BaseCallback):
    """Refit the causal graph of a :class:`~agents.causal_sac.CausalSAC` when its schedule says so.

    Args:
        log_figure: also log a picture of the graph at each refit (TensorBoard ``causal/graph``).
    """

    def __init__(self, log_figure: bool = True) -> None:
        super().__init__()
        self.log_figure = log_figure

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        model = self.model
        if model.num_timesteps < model.next_fit_step:
            return
        start = time.perf_counter()
        graph = fit_graph(model.replay_buffer, model.causal_config, model.seed, model.n_refits)
        mask = model.set_graph(graph)
        seconds = time.perf_counter() - start
        model.n_refits += 1
        every = max(1, int(model.causal_config.refit_every))
        while model.next_fit_step <= model.num_timesteps:
            model.next_fit_step += every
        metrics = graph_metrics(graph, mask, seconds)
        metrics["causal/n_refits"] = float(model.n_refits)
        for key, value in metrics.items():
            self.logger.record(key, value)
        if self.log_figure:
            self.logger.record(
                "causal/graph", Figure(graph_figure(graph), close=True), exclude=("stdout", "log", "json", "csv")
            )
        self._save_graph(graph, mask)

    def _save_graph(self, graph: causal.FactoredGraph, mask: np.ndarray) -> None:
        """``<log dir>/causal_graphs/step_<n>.json``: the fitted graph and the dims the buffer swaps (diagnostics)."""
        folder = self.logger.get_dir()
        if not folder:
            return
        data = graph.to_dict()
        data["swapped_state_dims"] = [int(i) for i in np.flatnonzero(mask)]
        write_json(Path(folder) / "causal_graphs" / f"step_{self.model.num_timesteps}.json", data)
