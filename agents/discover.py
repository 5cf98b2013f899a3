"""``causal-priors discover``: collect transitions with a policy and fit the factored causal graph.

Example::

    causal-priors discover env=reacher_distractors steps=10000 causal.temperature=0.1
    causal-priors discover env=HalfCheetah-v5 policy=runs/default/HalfCheetah-v5/cip/seed_0

Writes into ``<run_root>/<experiment>/<env>/discover_<method>/seed_<seed>/``: ``graph.json`` (the
:class:`causal.FactoredGraph`), ``swap_rule.json`` (what training's swap rule makes of it), ``graph.png`` (block
heat map, graph drawing, weights), ``config.yaml`` and TensorBoard scalars ``causal/fit_seconds``, ``causal/w_s_<i>``,
``causal/w_a_<k>``, ``causal/n_irrelevant`` (swap candidates) plus the figure. The causal settings are training's
(``causal.*`` keys, the defaults of ``agent.causal``), so what ``discover`` prints is what a CIP refit would do.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import envs
from agents.config import CausalConfig
from agents.policy_file import load_policy
from causal import FactoredGraph, fit_factored_graph, max_over_min
from causal.plots import save_graph_png
from causal_priors.checks import NON_EMPTY, POSITIVE, SEED, check_writable, validate
from causal_priors.config import ConfigError, load_config, save_config, to_typed
from causal_priors.errors import UserError
from causal_priors.provenance import write_provenance
from causal_priors.rundir import claim_run
from causal_priors.runs import make_logger, run_dir, write_json
from causal_priors.seeding import seed_everything, single_thread
from envs.config import EnvConfig


@dataclass
class DiscoverConfig:
    """One discovery run: ``causal-priors discover env=<preset or id> steps=N key=value ...``."""

    experiment: str = "discover"
    """Experiment name (first level of the run directory)."""
    env: EnvConfig = field(default_factory=EnvConfig)
    """Environment (preset name or gymnasium id)."""
    steps: int = 10_000
    """Transitions to collect (episodes are reset as needed)."""
    seed: int = 0
    """Seeds the env, the random policy and the fit's subsampling."""
    causal: CausalConfig = field(default_factory=CausalConfig)
    """The causal settings, as in training (``causal.method``, ``causal.temperature``, ``causal.validity``, ...):
    the fit, the weights and the swap rule are those a CIP refit would give on the same data."""
    policy: str = "random"
    """``random`` (uniform actions), or deterministic actions of a SAC policy: an SB3 ``.zip`` (only its weights
    are read, never its pickled data), a ``checkpoints/step_<n>`` folder or a ``train`` run directory."""
    run_root: str = "runs"
    """Root folder of run directories."""

    def __post_init__(self) -> None:
        validate(
            self,
            experiment=NON_EMPTY,
            steps=POSITIVE,
            seed=SEED,
            policy=NON_EMPTY,
            run_root=NON_EMPTY,
        )


def build_config(argv: Sequence[str]) -> DiscoverConfig:
    """Typed, checked config from ``key=value`` words (``env=`` takes a preset name or a gymnasium id).

    Also checks up front that ``run_root`` is writable and the policy file exists, before anything is collected.
    """
    cfg = to_typed(load_config(DiscoverConfig, argv, groups=("env",), group_fallbacks={"env": "id"}))
    check_writable(cfg.run_root, "run_root")
    if cfg.policy != "random" and not Path(cfg.policy).exists():
        raise ConfigError(
            f"policy: no such file or folder '{cfg.policy}' (expected 'random', an SB3 .zip file, a checkpoint"
            " folder or a train run directory)"
        )
    return cfg


def collect(env: Any, steps: int, seed: int, policy: Callable[[np.ndarray], np.ndarray] | None = None):
    """Roll out ``steps`` transitions; returns ``(S, A, R, S_next)`` as float64 arrays.

    ``S_next`` is the true next observation also at time-limit truncations (gymnasium returns it).
    """
    obs_shape, act_shape = env.observation_space.shape, getattr(env.action_space, "shape", None)
    if obs_shape is None or len(obs_shape) != 1:
        raise UserError(f"discover needs flat vector observations, the env gives shape {obs_shape}")
    if not act_shape or len(act_shape) != 1:
        raise UserError(f"discover needs a continuous (Box) action space, the env has {env.action_space}")
    S = np.empty((steps, obs_shape[0]))
    A = np.empty((steps, act_shape[0]))
    R = np.empty(steps)
    S2 = np.empty_like(S)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    for t in range(steps):
        action = env.action_space.sample() if policy is None else policy(obs)
        nxt, reward, terminated, truncated, _ = env.step(action)
        S[t], A[t], R[t], S2[t] = obs, action, reward, nxt
        obs = env.reset()[0] if (terminated or truncated) else nxt
    return S, A, R, S2


def _log(path: Path, graph: FactoredGraph, fig: Any, n_candidates: int, step: int) -> None:
    from stable_baselines3.common.logger import Figure

    logger = make_logger(path)
    logger.record("causal/fit_seconds", float(graph.fit_seconds))
    for i, w in enumerate(graph.w_s):
        logger.record(f"causal/w_s_{i}", float(w))
    for k, w in enumerate(graph.w_a):
        logger.record(f"causal/w_a_{k}", float(w))
    logger.record("causal/n_irrelevant", n_candidates)
    logger.record("causal/graph", Figure(fig, close=True), exclude=("stdout", "log", "json", "csv"))
    logger.dump(step)
    logger.close()


def run(cfg: DiscoverConfig) -> tuple[Path, FactoredGraph]:
    """Collect, fit, and write ``graph.json`` (with the swap rule's outcome), ``graph.png``, ``config.yaml`` and
    TensorBoard logs. The run directory is claimed first (one writer at a time)."""
    single_thread()
    path = run_dir(cfg.run_root, cfg.experiment, cfg.env.id, f"discover_{cfg.causal.method}", cfg.seed)
    with claim_run(path, cfg, resume=True, what="discover"):
        return _discover(cfg, path)


def _discover(cfg: DiscoverConfig, path: Path) -> tuple[Path, FactoredGraph]:
    seed_everything(cfg.seed)
    env = envs.make_from_config(cfg.env, seed=cfg.seed)
    try:
        policy = None if cfg.policy == "random" else load_policy(cfg.policy, env)
        S, A, R, S2 = collect(env, int(cfg.steps), int(cfg.seed), policy)
    finally:
        env.close()
    c = cfg.causal
    try:
        graph = fit_factored_graph(
            S,
            A,
            R,
            S2,
            method=c.method,
            temperature=c.temperature,
            weight_scale=c.weight_scale,
            seed=cfg.seed,
            transition=c.transition_graph,
            backend=c.lingam_backend("cpu"),
        )
    except ValueError as err:
        raise UserError(str(err)) from None
    swaps = swap_rule_report(c, graph, S, A, S2, seed=cfg.seed)
    path.mkdir(parents=True, exist_ok=True)
    save_config(cfg, path / "config.yaml")
    write_provenance(path)
    write_json(path / "graph.json", graph.to_dict())
    write_json(path / "swap_rule.json", swaps)
    fig = save_graph_png(graph, path / "graph.png", title=f"{cfg.env.id}: {c.method}, N={graph.n_samples}")
    _log(path, graph, fig, len(swaps["candidates"]), int(cfg.steps))
    return path, graph


def swap_rule_report(
    c: CausalConfig, graph: FactoredGraph, S: np.ndarray, A: np.ndarray, S2: np.ndarray, seed: int
) -> dict[str, Any]:
    """What training's swap rule would do with ``graph`` on these transitions: the candidate dims and, for the
    local rule, the share of transitions where each is locally free (the same code as a training refit)."""
    from agents.causal_prior import CausalPrior

    prior = CausalPrior(CausalConfig(**{**asdict(c), "augment": True}), S.shape[1], A.shape[1], len(S), seed, "cpu")
    candidates, free_share = prior.select_swaps(graph, S, A, S2, seed)
    return {
        "validity": c.validity_rule,
        "candidates": [int(j) for j in np.flatnonzero(candidates)],
        "local_free_share": {str(j): float(free_share[j]) for j in np.flatnonzero(candidates)}
        if free_share is not None
        else {},
    }


def discover_main(argv: Sequence[str]) -> int:
    """``causal-priors discover [env=PRESET|ID] [steps=N] [causal.key=value ...] [policy=...]``."""
    cfg = build_config(argv)
    path, graph = run(cfg)
    swaps = json.loads((path / "swap_rule.json").read_text())
    print(f"run {path}: fit {graph.fit_seconds:.2f}s on {graph.n_samples} transitions")
    print(
        f"  reward parents: states {np.flatnonzero(graph.reward_state_edges).tolist()}, "
        f"actions {np.flatnonzero(graph.reward_action_edges).tolist()}"
    )
    print(f"  w_s = {np.round(graph.w_s, 3).tolist()}")
    print(f"  w_a = {np.round(graph.w_a, 3).tolist()} (max/min {max_over_min(graph.w_a):.2f})")
    print(f"  dropped: states {graph.dropped_state}, actions {graph.dropped_action}")
    rule = f"swap candidates ({cfg.causal.irrelevance} rule, {swaps['validity']} validity)"
    print(f"  {rule}: {swaps['candidates']}")
    if swaps["local_free_share"]:
        shares = ", ".join(f"s{j}: {share:.2f}" for j, share in swaps["local_free_share"].items())
        print(f"  share of transitions where each is locally free: {shares}")
    return 0
