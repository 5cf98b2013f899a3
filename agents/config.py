"""Typed configuration of agents and training runs (CleanRL-style: a docstring under every field)."""

from __future__ import annotations

from dataclasses import dataclass, field

from envs.config import EnvConfig


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
    """Entropy temperature: ``auto`` (learned, SB3 semantics) or a fixed float as a string."""
    net_arch: list[int] = field(default_factory=lambda: [256, 256])
    """Hidden layer sizes of actor and critics."""
    causal: CausalConfig = field(default_factory=CausalConfig)
    """Causal parts (off for ``sac``)."""


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
    keep_checkpoints: int = 2
    """Newest checkpoints kept (>= 2: a damaged newest checkpoint falls back to the previous one)."""
    resume: bool = False
    """Continue from the run directory's latest checkpoint, if there is one."""
    run_root: str = "runs"
    """Root folder of run directories."""
    log_interval: int = 4
    """Dump rollout/train scalars every this-many episodes."""
    progress: bool = True
    """Show a progress bar."""
    device: str = "cpu"
    """Torch device (``cpu``, ``cuda``, ``auto``)."""
