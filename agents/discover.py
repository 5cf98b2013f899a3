"""``causal-priors discover``: collect transitions with a policy and fit the factored causal graph.

Example::

    causal-priors discover env=reacher_distractors steps=10000 temperature=0.1
    causal-priors discover env=HalfCheetah-v5 policy=runs/default/HalfCheetah-v5/cip/seed_0/checkpoints/x.zip

Writes into ``<run_root>/<experiment>/<env>/discover_<method>/seed_<seed>/``: ``graph.json`` (the
:class:`causal.FactoredGraph`), ``graph.png`` (block heat map, graph drawing, weights), ``config.yaml`` and
TensorBoard scalars ``causal/fit_seconds``, ``causal/w_s_<i>``, ``causal/w_a_<k>``, ``causal/n_irrelevant``
(state dims with ``w_s < irrelevant_threshold``) plus the figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import envs
from causal import METHODS, FactoredGraph, fit_factored_graph
from causal.plots import save_graph_png
from causal_priors.checks import NON_EMPTY, NON_NEGATIVE, POSITIVE, SEED, check_writable, one_of, validate
from causal_priors.config import ConfigError, load_config, save_config, to_typed
from causal_priors.errors import UserError
from causal_priors.provenance import write_provenance
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
    method: str = "direct_lingam"
    """``direct_lingam`` or ``regression`` (see ``causal.fit_factored_graph``)."""
    temperature: float = 1.0
    """Softmax temperature of the weights."""
    transition: bool = True
    """Also fit the (state, action) -> next-state block."""
    policy: str = "random"
    """``random`` (uniform actions) or the path of an SB3 ``.zip`` checkpoint (deterministic actions)."""
    irrelevant_threshold: float = 0.5
    """State dims with ``w_s`` below this count as reward-irrelevant in ``causal/n_irrelevant``."""
    run_root: str = "runs"
    """Root folder of run directories."""

    def __post_init__(self) -> None:
        validate(
            self,
            experiment=NON_EMPTY,
            steps=POSITIVE,
            seed=SEED,
            method=one_of(*METHODS),
            temperature=POSITIVE,
            policy=NON_EMPTY,
            irrelevant_threshold=NON_NEGATIVE,
            run_root=NON_EMPTY,
        )


def build_config(argv: Sequence[str]) -> DiscoverConfig:
    """Typed, checked config from ``key=value`` words (``env=`` takes a preset name or a gymnasium id).

    Also checks up front that ``run_root`` is writable and the policy file exists, before anything is collected.
    """
    cfg = to_typed(load_config(DiscoverConfig, argv, groups=("env",), group_fallbacks={"env": "id"}))
    check_writable(cfg.run_root, "run_root")
    if cfg.policy != "random" and not Path(cfg.policy).is_file():
        raise ConfigError(f"policy: no such checkpoint '{cfg.policy}' (expected 'random' or an SB3 .zip file)")
    return cfg


def _load_policy(path: str, env: Any) -> Callable[[np.ndarray], np.ndarray]:
    """Deterministic actions of an SB3 checkpoint (plain SAC or the project's causal SAC)."""
    if not Path(path).is_file():
        raise ConfigError(f"policy: no such checkpoint '{path}' (expected 'random' or an SB3 .zip file)")
    from stable_baselines3 import SAC

    classes: list[Any] = []
    try:
        from agents.causal_sac import CausalSAC

        classes.append(CausalSAC)
    except ImportError:  # pragma: no cover - only while that module is being written
        pass
    classes.append(SAC)
    errors = []
    for cls in classes:
        try:
            model = cls.load(path, device="cpu")
            break
        except Exception as err:  # noqa: BLE001 - report every loader's reason below
            errors.append(f"{cls.__name__}: {str(err).splitlines()[0] if str(err) else type(err).__name__}")
    else:
        raise UserError(f"policy: cannot load '{path}' as an SB3 checkpoint ({'; '.join(errors)})")
    if model.observation_space.shape != env.observation_space.shape:
        raise UserError(
            f"policy '{path}' expects observations of shape {model.observation_space.shape}, "
            f"the env gives {env.observation_space.shape}"
        )
    return lambda obs: model.predict(obs, deterministic=True)[0]


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


def _log(path: Path, graph: FactoredGraph, fig: Any, threshold: float, step: int) -> None:
    from stable_baselines3.common.logger import Figure

    logger = make_logger(path)
    logger.record("causal/fit_seconds", float(graph.fit_seconds))
    for i, w in enumerate(graph.w_s):
        logger.record(f"causal/w_s_{i}", float(w))
    for k, w in enumerate(graph.w_a):
        logger.record(f"causal/w_a_{k}", float(w))
    logger.record("causal/n_irrelevant", len(graph.irrelevant_state_dims(threshold)))
    logger.record("causal/graph", Figure(fig, close=True), exclude=("stdout", "log", "json", "csv"))
    logger.dump(step)
    logger.close()


def run(cfg: DiscoverConfig) -> tuple[Path, FactoredGraph]:
    """Collect, fit, and write ``graph.json``, ``graph.png``, ``config.yaml`` and TensorBoard logs."""
    single_thread()
    seed_everything(cfg.seed)
    path = run_dir(cfg.run_root, cfg.experiment, cfg.env.id, f"discover_{cfg.method}", cfg.seed)
    env = envs.make_from_config(cfg.env, seed=cfg.seed)
    try:
        policy = None if cfg.policy == "random" else _load_policy(cfg.policy, env)
        S, A, R, S2 = collect(env, int(cfg.steps), int(cfg.seed), policy)
    finally:
        env.close()
    graph = fit_factored_graph(
        S, A, R, S2, method=cfg.method, temperature=cfg.temperature, seed=cfg.seed, transition=cfg.transition
    )
    path.mkdir(parents=True, exist_ok=True)
    save_config(cfg, path / "config.yaml")
    write_provenance(path)
    write_json(path / "graph.json", graph.to_dict())
    fig = save_graph_png(graph, path / "graph.png", title=f"{cfg.env.id}: {cfg.method}, N={graph.n_samples}")
    _log(path, graph, fig, cfg.irrelevant_threshold, int(cfg.steps))
    return path, graph


def discover_main(argv: Sequence[str]) -> int:
    """``causal-priors discover [env=PRESET|ID] [steps=N] [method=...] [temperature=T] [policy=...]``."""
    path, graph = run(build_config(argv))
    irrelevant = graph.irrelevant_state_dims()
    print(f"run {path}: fit {graph.fit_seconds:.2f}s on {graph.n_samples} transitions")
    print(
        f"  reward parents: states {np.flatnonzero(graph.reward_state_edges).tolist()}, "
        f"actions {np.flatnonzero(graph.reward_action_edges).tolist()}"
    )
    print(f"  w_s = {np.round(graph.w_s, 3).tolist()}")
    print(f"  w_a = {np.round(graph.w_a, 3).tolist()}")
    print(f"  irrelevant state dims (w_s < 0.5): {irrelevant}; dropped: {graph.dropped_state}, {graph.dropped_action}")
    return 0
