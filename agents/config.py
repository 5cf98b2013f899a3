"""Typed configuration of agents and training runs (CleanRL-style: a docstring under every field)."""

from __future__ import annotations

from dataclasses import dataclass, field

from causal import METHODS
from causal_priors.checks import (
    LEARNING_RATE,
    NON_EMPTY,
    NON_NEGATIVE,
    POSITIVE,
    PROBABILITY,
    SEED,
    Rule,
    each,
    in_range,
    matches,
    one_of,
    validate,
)
from envs.config import EnvConfig

#: ``ent_coef``: learned (``auto``, ``auto_<initial value>``) or a fixed positive float (SB3's forms)
ENT_COEF = Rule(
    "'auto', 'auto_<float > 0>' or a float > 0",
    lambda v: isinstance(v, str) and (v == "auto" or _positive_float(v[5:] if v.startswith("auto_") else v)),
)


def _positive_float(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return 0 < value <= 1e6


@dataclass
class CausalConfig:
    """Switches and settings of the causal parts (spec: ../shared/specs/cip.md). All off = plain SAC."""

    entropy: bool = False
    """Causality-aware entropy (ACE): action dims weighted by w_a in log pi for critic, actor and alpha losses."""
    augment: bool = False
    """Counterfactual data augmentation: swap reward-irrelevant state dims between sampled transitions."""
    empowerment: bool = False
    """Causal empowerment bonus from an inverse-dynamics model in the actor loss."""
    method: str = "direct_lingam"
    """Causal discovery method: ``direct_lingam`` or ``regression`` (cheap baseline)."""
    window: int = 10_000
    """Fit the graph on the most recent this-many real transitions."""
    refit_every: int = 10_000
    """Refit the graph every this-many env steps (first fit once ``window`` transitions exist)."""
    min_samples: int = 1_000
    """Do not fit before this many transitions exist (then fit on all available up to ``window``)."""
    temperature: float = 1.0
    """Softmax temperature T of the weights w = n * softmax(|b| / T)."""
    transition_graph: bool = True
    """Also fit the (state, action) -> next-state graph (for the CoDA validity check)."""
    irrelevance: str = "edges"
    """Which state dims are reward-irrelevant (augmentation candidates): ``edges`` — no ``s_j -> r`` edge survives
    the adaptive-lasso pruning (independent of T); ``weights`` — the spec's ``w_s < tau_s``. Default ``edges``:
    on standardised data the coefficients are small (|b| < 1), so at T = 1 every weight stays near 1 and the
    weight rule finds nothing (measured on HalfCheetah and Reacher)."""
    tau_s: float = 0.5
    """With ``irrelevance=weights``: state dims with w_s below this are reward-irrelevant."""
    max_swap_frac: float = 0.5
    """At most this fraction of the state dims is swapped."""
    rho: float = 0.5
    """Fraction of each training batch that is counterfactual."""
    coda_validity: bool = True
    """Only swap dims whose next-state parents are themselves irrelevant or uncontrollable."""
    empowerment_coef: float = 0.01
    """lambda: weight of the causal empowerment term in the actor loss (0 turns it off)."""
    inverse_lr: float = 3e-4
    """Learning rate of the inverse-dynamics model's own Adam optimizer."""

    def __post_init__(self) -> None:
        """Range and name checks of the fields above (kept last in the class so new fields merge above it)."""
        validate(
            self,
            method=one_of(*METHODS),
            irrelevance=one_of("edges", "weights"),
            window=POSITIVE,
            refit_every=POSITIVE,
            min_samples=POSITIVE,
            temperature=POSITIVE,
            tau_s=PROBABILITY,
            max_swap_frac=PROBABILITY,
            rho=PROBABILITY,
            empowerment_coef=NON_NEGATIVE,
            inverse_lr=LEARNING_RATE,
        )


@dataclass
class AgentConfig:
    """SAC hyperparameters (stable-baselines3 semantics) plus the causal switches."""

    name: str = "sac"
    """Agent label used in run directories and reports (``sac``, ``ace``, ``cip``, ablation names)."""
    learning_rate: float = 3e-4
    """Adam learning rate of actor, critics and temperature."""
    buffer_size: int = 1_000_000
    """Replay capacity (capped at the run's total steps, since SB3 allocates it up front)."""
    learning_starts: int = 5_000
    """Random-action steps before the first gradient update."""
    batch_size: int = 256
    """Transitions per gradient step."""
    tau: float = 0.005
    """Polyak coefficient of the target critics."""
    gamma: float = 0.99
    """Discount factor."""
    train_freq: int = 1
    """Env steps between updates."""
    gradient_steps: int = 1
    """Gradient steps per update."""
    ent_coef: str = "auto"
    """Entropy temperature: ``auto`` or ``auto_<initial value>`` (learned, SB3 semantics) or a fixed float > 0."""
    net_arch: list[int] = field(default_factory=lambda: [256, 256])
    """Hidden layer sizes of actor and critics."""
    causal: CausalConfig = field(default_factory=CausalConfig)
    """Causal parts (off for ``sac``)."""

    def __post_init__(self) -> None:
        validate(
            self,
            name=NON_EMPTY,
            learning_rate=LEARNING_RATE,
            buffer_size=POSITIVE,
            learning_starts=NON_NEGATIVE,
            batch_size=POSITIVE,
            tau=in_range(0, 1, low_open=True),
            gamma=in_range(0, 1, low_open=True),
            train_freq=POSITIVE,
            gradient_steps=POSITIVE,
            ent_coef=ENT_COEF,
            net_arch=each(POSITIVE, nonempty=True),
        )


@dataclass
class TrainConfig:
    """One training run: ``causal-priors train agent=<preset> env=<preset or id> key=value ...``."""

    experiment: str = "default"
    """Experiment name: the first level of the run directory."""
    env: EnvConfig = field(default_factory=EnvConfig)
    """Environment (see ``envs.make``)."""
    agent: AgentConfig = field(default_factory=AgentConfig)
    """Agent and its causal parts."""
    seed: int = 0
    """Seeds env resets, action sampling, torch, numpy and the causal fit."""
    total_steps: int = 20_000
    """Env steps to train for."""
    eval_every: int = 5_000
    """Evaluate every this-many env steps (and at the end)."""
    eval_episodes: int = 5
    """Deterministic episodes per evaluation (fixed seeds, the same at every evaluation)."""
    checkpoint_every: int = 5_000
    """Checkpoint every this-many env steps (a kill loses at most this much work)."""
    resume: bool = False
    """Continue from the run directory's latest checkpoint, if there is one."""
    run_root: str = "runs"
    """Root folder of run directories."""
    log_interval: int = 4
    """Dump rollout/train scalars every this-many episodes."""
    progress: bool = True
    """Show a progress bar."""
    device: str = "cpu"
    """Torch device (``cpu``, ``cuda``, ``cuda:<n>``, ``auto``)."""

    def __post_init__(self) -> None:
        validate(
            self,
            experiment=NON_EMPTY,
            seed=SEED,
            total_steps=POSITIVE,
            eval_every=POSITIVE,
            eval_episodes=POSITIVE,
            checkpoint_every=POSITIVE,
            run_root=NON_EMPTY,
            log_interval=POSITIVE,
            device=matches(r"cpu|auto|mps|cuda(:\d+)?", "'cpu', 'cuda', 'cuda:<n>', 'mps' or 'auto'"),
        )


@dataclass
class EvaluateConfig:
    """``causal-priors evaluate run=<run dir> [episodes=N] [env.<key>=value ...]``.

    ``env.*`` keys (the :class:`EnvConfig` fields) override the run's saved environment, e.g.
    ``env.domain_shift.mass=1.5`` to score the policy out of distribution.
    """

    run: str = ""
    """Run directory written by ``causal-priors train`` (holds ``config.yaml`` and ``checkpoints/``)."""
    episodes: int | None = None
    """Deterministic episodes to score (default: the run's ``eval_episodes``)."""

    def __post_init__(self) -> None:
        validate(self, run=NON_EMPTY, episodes=POSITIVE)
