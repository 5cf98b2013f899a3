"""Typed configuration of agents and training runs (CleanRL-style: a docstring under every field)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any

from causal import METHODS, WEIGHT_SCALES
from causal.swap import IRRELEVANCE_RULES, VALIDITY_RULES
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

CAUSAL_VIEWS = ("state", "features")
"""``causal.view`` with pixel observations: the simulator's state (privileged) or the encoder's features."""

CAUSAL_BACKENDS = ("auto", "numpy", "torch")
"""``causal.backend``: the order search; ``auto`` = ``torch`` when the policy's device is CUDA, else ``numpy``."""

EMPOWERMENT_FORMS = ("intrinsic_reward", "entropy_bonus")
"""``causal.empowerment_form``: the critic-target reward (spec section 3, corrected) or the first release's form."""

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
    """Causal empowerment from an inverse-dynamics model q(a | s, s') (form: ``empowerment_form``)."""
    method: str = "direct_lingam"
    """Causal discovery method: ``direct_lingam`` or ``regression`` (cheap baseline)."""
    window: int = 10_000
    """Fit the graph on the most recent this-many real transitions."""
    refit_every: int = 10_000
    """Refit the graph every this-many env steps (first fit once ``window`` transitions exist)."""
    min_samples: int = 1_000
    """Do not fit before this many transitions exist (then fit on all available up to ``window``)."""
    temperature: float = 0.5
    """Softmax temperature T of the weights w = n * softmax(x / T); x is set by ``weight_scale``."""
    weight_scale: str = "relative"
    """``relative``: x = |b| / max |b| per block, so T alone sets the spread (w_max / w_min <= exp(1/T)) on any
    reward scale; ``absolute``: the spec's x = |b| (nearly flat at T = 1 on standardised data; old results)."""
    transition_graph: bool = True
    """Also fit the (state, action) -> next-state graph (the global validity rule and diagnostics)."""
    irrelevance: str = "edges"
    """Which state dims are reward-irrelevant (augmentation candidates): ``edges`` — no ``s_j -> r`` edge survives
    the adaptive-lasso pruning (independent of T); ``weights`` — the spec's ``w_s < tau_s``."""
    tau_s: float = 0.5
    """With ``irrelevance=weights``: state dims with w_s below this are reward-irrelevant."""
    max_swap_frac: float = 0.5
    """At most this fraction of the state dims is swapped."""
    rho: float = 0.5
    """Fraction of each training batch that is counterfactual."""
    validity: str = "local"
    """When a candidate dim may be swapped: ``local`` — per transition, locally independent of the action and of
    controllable dims at both transitions (Jacobian of a learned dynamics model); ``global`` — the one fitted
    transition graph (no action path); ``none`` — always (a probe)."""
    coda_validity: bool = True
    """Deprecated switch of the first release: ``false`` means ``validity=none`` (kept so old runs load)."""
    local_threshold: float = 0.3
    """Local rule: a Jacobian entry of the dynamics model (standardised units) is a local edge when it exceeds this
    fraction of the typical action effect on the most action-driven dim (see ``agents.local_validity``)."""
    dynamics_steps: int = 1_000
    """Local rule: Adam steps (batch 256) that fit the dynamics model from scratch at each refit."""
    dynamics_net_arch: list[int] = field(default_factory=lambda: [128, 128])
    """Local rule: hidden layers of the dynamics model f(s, a) -> s' - s."""
    empowerment_form: str = "intrinsic_reward"
    """``intrinsic_reward`` (spec section 3): r + lambda * bonus in the critic target, the bonus being the causally
    weighted log q(a | s, s') of the inverse model, standardised per batch, clipped to +-``empowerment_clip`` and
    scaled by the batch's reward std; ``entropy_bonus``: the first release's -lambda * E_c(s) in the actor loss
    (acts like extra entropy; kept to reproduce old results)."""
    empowerment_coef: float = 0.1
    """lambda: weight of the empowerment term (0 turns it off; the entropy-bonus form used 0.01)."""
    empowerment_clip: float = 3.0
    """Intrinsic form: clip of the standardised bonus (in batch standard deviations)."""
    inverse_lr: float = 3e-4
    """Learning rate of the inverse-dynamics model's own Adam optimizer."""
    inverse_net_arch: list[int] = field(default_factory=lambda: [128, 128])
    """Hidden layers of the inverse-dynamics model q(a | s, s') (256x256 made CIP 1.3x SAC per update; 128x128 costs
    about a quarter of that)."""
    view: str = "state"
    """With pixel observations, the low-dimensional view the graph, inverse model and dynamics model use: ``state``
    (the simulator's state, privileged) or ``features`` (the encoder's output; see docs/cip.md, pixels)."""
    backend: str = "auto"
    """DirectLiNGAM's order search: ``numpy`` (branch and bound on the CPU), ``torch`` (the dense search of
    ``causal.lingam_torch`` on the policy's device) or ``auto`` (``torch`` when that device is CUDA, else ``numpy``).
    Same graph up to rounding; may change on resume."""

    def __post_init__(self) -> None:
        """Range and name checks of the fields above (kept last in the class so new fields merge above it)."""
        validate(
            self,
            method=one_of(*METHODS),
            weight_scale=one_of(*WEIGHT_SCALES),
            irrelevance=one_of(*IRRELEVANCE_RULES),
            validity=one_of(*VALIDITY_RULES),
            empowerment_form=one_of(*EMPOWERMENT_FORMS),
            window=POSITIVE,
            refit_every=POSITIVE,
            min_samples=POSITIVE,
            temperature=POSITIVE,
            tau_s=PROBABILITY,
            max_swap_frac=PROBABILITY,
            rho=PROBABILITY,
            local_threshold=POSITIVE,
            dynamics_steps=POSITIVE,
            dynamics_net_arch=each(POSITIVE, nonempty=True),
            empowerment_coef=NON_NEGATIVE,
            empowerment_clip=POSITIVE,
            inverse_lr=LEARNING_RATE,
            inverse_net_arch=each(POSITIVE, nonempty=True),
            view=one_of(*CAUSAL_VIEWS),
            backend=one_of(*CAUSAL_BACKENDS),
        )

    @property
    def any_active(self) -> bool:
        """Whether any causal part is on (otherwise the agent is plain SAC and no graph is ever fitted)."""
        return bool(self.entropy or self.augment or self.empowerment)

    def lingam_backend(self, device: Any) -> str:
        """The order-search backend on the policy's ``device``: ``backend``, with ``auto`` resolved."""
        if self.backend != "auto":
            return self.backend
        import torch

        return "torch" if torch.device(device).type == "cuda" else "numpy"

    @property
    def validity_rule(self) -> str:
        """The effective validity rule (``coda_validity=false`` of old configs means ``none``)."""
        return self.validity if self.coda_validity else "none"


def causal_config(cfg: Any) -> CausalConfig:
    """A :class:`CausalConfig` from a dataclass, a dict of its fields or an OmegaConf node (``None``: all off)."""
    if cfg is None:
        return CausalConfig()
    if is_dataclass(cfg):
        return CausalConfig(**asdict(cfg))
    if not isinstance(cfg, dict):
        from omegaconf import OmegaConf

        cfg = OmegaConf.to_container(cfg, resolve=True)
    names = {f.name for f in fields(CausalConfig)}
    unknown = sorted(set(cfg) - names)
    if unknown:
        raise ValueError(f"unknown causal config keys {unknown}")
    return CausalConfig(**cfg)


@dataclass
class EncoderConfig:
    """The pixel encoder and its augmentation (used only with ``env.pixels=true``; see ``agents.encoder``)."""

    features_dim: int = 50
    """Output size of the encoder's trunk (DrQ-v2: 50)."""
    n_filters: int = 32
    """Channels of each of the four 3x3 convolutions (DrQ-v2: 32)."""
    shift_pad: int = 4
    """Random-shift augmentation: pad by this many pixels and crop back at a random offset (0 = off)."""

    def __post_init__(self) -> None:
        validate(self, features_dim=POSITIVE, n_filters=POSITIVE, shift_pad=NON_NEGATIVE)


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
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    """Pixel encoder (only with ``env.pixels=true``)."""

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
