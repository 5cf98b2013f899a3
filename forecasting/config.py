"""Typed configuration of the ``forecast`` commands (defaults here; presets in ``configs/model`` and
``configs/data``; ``key=value`` overrides on the command line)."""

from __future__ import annotations

from dataclasses import dataclass, field

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
from causal_priors.devices import DEVICE_PATTERN

#: forecasting methods (``forecasting.models`` registers exactly these; a test keeps the two in step)
METHOD_NAMES = ("erm", "vrex", "irm", "causal_motion", "gcrl", "orca_style", "orca_residual")
#: ETH/UCY scenes (``forecasting.data.eth_ucy.SCENES``)
ETH_UCY_SCENES = ("eth", "hotel", "univ", "zara1", "zara2")
#: ``[a, b]`` with 0 <= a <= b <= 1
STAGE_FRACTIONS = Rule(
    "two fractions [a, b] with 0 <= a <= b <= 1",
    lambda v: len(v) == 2 and all(PROBABILITY.ok(x) for x in v) and v[0] <= v[1],
)


@dataclass
class ModelConfig:
    """One forecasting method on the shared backbone (fields unused by a method are ignored)."""

    name: str = "erm"  #: erm | vrex | irm | causal_motion | gcrl | orca_style | orca_residual
    label: str = ""  #: run-directory name of this variant ("" = ``name``), e.g. ``causal_motion_film``
    hidden: int = 32  #: encoder LSTM size (context = 2 * hidden)
    embed: int = 16  #: input embedding size
    attention: bool = True  #: graph-attention interaction across a scene's agents
    decoder: str = "mlp"  #: mlp | lstm
    decoder_hidden: int = 64  #: decoder width (and FiLM size)
    # invariance (vrex, irm, causal_motion)
    penalty_weight: float = 0.0  #: beta of V-REx / lambda of IRMv1
    penalty_anneal_steps: int = 0  #: penalty off before this step
    # causal motion
    style_dim: int = 8  #: style vector size
    style_hidden: int = 32  #: style encoder / projection / FiLM width
    proj_dim: int = 8  #: SupCon projection size
    film_hidden: int = 0  #: hidden width of the style -> FiLM map (0 = linear)
    style_film: bool = True  #: FiLM on the decoder's hidden features
    style_output_scale: bool = True  #: the style also scales each step's deviation from constant velocity
    style_linear_stats: bool = False  #: add a linear map of time-pooled features to the style encoder
    contrastive_weight: float = 1.0  #: weight of SupCon in the joint stage
    temperature: float = 0.1  #: SupCon temperature
    stage_fractions: list[float] = field(default_factory=lambda: [0.4, 0.55])  #: invariant / style stage ends
    # gcrl
    z_dim: int = 8  #: invariant latent per agent
    s_dim: int = 4  #: variant latent per scene
    flows: int = 0  #: RealNVP coupling layers per latent (0 = none)
    elbo_samples: int = 10  #: posterior samples for the x and KL terms
    variety_k: int = 20  #: samples for the best-of-K y term
    sigma: float = 0.1  #: std of the Gaussian likelihoods (metres)
    kl_weight: float = 1.0  #: weight of the KL terms
    mean_weight: float = 0.0  #: extra weight on the posterior-mean prediction's y term
    gcrl_context: bool = True  #: y decoder also reads the z encoder's interaction context
    # orca_style (forecasting.mechanism): no training, style inferred from reference scenes
    orca_radius: float = 0.3  #: radius before any style is estimated (replaced by the training scenes' fit)
    orca_time_horizons: list[float] = field(default_factory=lambda: [1.0, 1.5, 2.0, 3.0, 4.0])  #: fitted grid
    orca_substeps: int = 10  #: ORCA decisions per 0.4 s step
    orca_goal_distance: float = 20.0  #: goal this far ahead along the first observed heading (m)
    orca_speed: str = "style"  #: style (median reference speed) | observed (each agent's observed speed)
    orca_fit_scenes: int = 64  #: most reference (and training) scenes one style is estimated from
    orca_neighbours: int = 6  #: each agent avoids at most this many nearest agents
    orca_heading: str = "first"  #: goal direction: first observed step | whole observed path | last step
    residual_reads_mechanism: bool = True  #: orca_residual: the decoder reads the mechanism's displacements

    def __post_init__(self) -> None:
        validate(
            self,
            name=one_of(*METHOD_NAMES),
            decoder=one_of("mlp", "lstm"),
            **dict.fromkeys(
                ("hidden", "embed", "decoder_hidden", "style_dim", "style_hidden", "proj_dim", "z_dim", "s_dim"),
                POSITIVE,
            ),
            **dict.fromkeys(
                ("penalty_weight", "penalty_anneal_steps", "film_hidden", "contrastive_weight", "flows", "kl_weight"),
                NON_NEGATIVE,
            ),
            mean_weight=NON_NEGATIVE,
            temperature=POSITIVE,
            stage_fractions=STAGE_FRACTIONS,
            elbo_samples=POSITIVE,
            variety_k=POSITIVE,
            sigma=POSITIVE,
            orca_radius=POSITIVE,
            orca_time_horizons=each(POSITIVE, nonempty=True),
            orca_substeps=POSITIVE,
            orca_goal_distance=POSITIVE,
            orca_speed=one_of("style", "observed"),
            orca_fit_scenes=POSITIVE,
            orca_neighbours=POSITIVE,
            orca_heading=one_of("first", "whole", "last"),
        )


@dataclass
class DataConfig:
    """Which scenes: the synthetic radius protocol or ETH/UCY leave-one-out."""

    name: str = "synthetic"  #: synthetic | eth_ucy
    root: str = ""  #: data root ("" = $CAUSAL_PRIORS_DATA or ../shared/data)
    train_radii: list[float] = field(default_factory=lambda: [0.1, 0.3, 0.5])  #: synthetic training radii (files)
    test_radii: list[float] = field(default_factory=lambda: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])  #: test radii
    n_train_per_domain: int = 2400  #: per-domain train/val split of the synthetic val/ pool
    simulated_radii: list[float] = field(default_factory=list)  #: extra training radii from envs.crowd's ORCA
    simulated_scenes: int = 3000  #: scenes per simulated radius (split like the files' val/ pools)
    max_scenes: int = 0  #: keep only the first N scenes per file (0 = all; for quick tests)
    test_scene: str = "hotel"  #: ETH/UCY left-out scene
    min_agents: int = 2  #: ETH/UCY: keep windows with at least this many pedestrians (the papers' loaders: 2)
    group_by_agents: int = 0  #: training batches of similar agent counts, sorted in pools of N batches (0 = off)
    spurious_alphas: list[float] = field(default_factory=list)  #: per training scene (ETH/UCY), [] = no channel
    test_alphas: list[float] = field(default_factory=lambda: [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0])  #: test alphas

    def __post_init__(self) -> None:
        validate(
            self,
            name=one_of("synthetic", "eth_ucy"),
            train_radii=each(POSITIVE, nonempty=True),
            test_radii=each(POSITIVE, nonempty=True),
            n_train_per_domain=POSITIVE,
            simulated_radii=each(POSITIVE),
            simulated_scenes=POSITIVE,
            max_scenes=NON_NEGATIVE,
            test_scene=one_of(*ETH_UCY_SCENES),
            min_agents=in_range(1),
            group_by_agents=NON_NEGATIVE,
            spurious_alphas=each(NON_NEGATIVE),
            test_alphas=each(NON_NEGATIVE),
        )


@dataclass
class EvalConfig:
    """Evaluation: deterministic + best-of-K numbers, per environment."""

    num_samples: list[int] = field(default_factory=lambda: [20, 100])  #: K of minADE_K / minFDE_K
    reference_scenes: int = 64  #: first N test scenes per environment: style references, not scored
    batch_size: int = 500  #: scenes per evaluation forward pass
    plots: bool = True  #: write the plots next to the results
    mcc_seeds: list[int] = field(default_factory=lambda: [0, 1, 2])  #: seeds compared by ``forecast mcc``

    def __post_init__(self) -> None:
        validate(
            self,
            num_samples=each(POSITIVE, nonempty=True),
            reference_scenes=NON_NEGATIVE,
            batch_size=POSITIVE,
            mcc_seeds=each(SEED),
        )


@dataclass
class AdaptConfig:
    """Low-shot adaptation on an unseen environment (honest: fixed step budget, no target validation)."""

    domain: str = "0.6"  #: target environment (a synthetic radius)
    batches: list[int] = field(default_factory=lambda: [0, 1, 2, 4, 6])  #: adaptation set sizes
    batch_size: int = 64  #: scenes per adaptation batch
    steps: int = 100  #: gradient steps per adaptation run (fixed budget)
    lr: float = 1e-3  #: Adam learning rate of the adaptation steps
    seed: int = 0  #: which adaptation scenes are drawn

    def __post_init__(self) -> None:
        validate(
            self,
            domain=matches(r"\d+(\.\d+)?", "a synthetic radius such as '0.6'"),
            batches=each(NON_NEGATIVE, nonempty=True),
            batch_size=POSITIVE,
            steps=NON_NEGATIVE,
            lr=LEARNING_RATE,
            seed=SEED,
        )


@dataclass
class ForecastConfig:
    """``causal-priors forecast {train,evaluate,adapt}``."""

    model: ModelConfig = field(default_factory=ModelConfig)  #: the method (preset: ``model=<configs/model/*>``)
    data: DataConfig = field(default_factory=DataConfig)  #: the scenes (preset: ``data=<configs/data/*>``)
    eval: EvalConfig = field(default_factory=EvalConfig)  #: test-time evaluation
    adapt: AdaptConfig = field(default_factory=AdaptConfig)  #: low-shot adaptation
    seed: int = 0  #: seeds initialisation, batch order and sampling
    steps: int = 20000  #: optimiser steps (erm ~4 min, gcrl ~15 min on one core)
    batch_size: int = 64  #: scenes per step
    lr: float = 3e-3  #: Adam learning rate (cosine-decayed to lr_min_fraction * lr)
    lr_min_fraction: float = 0.05  #: final learning rate as a fraction of ``lr``
    weight_decay: float = 0.0  #: Adam weight decay
    grad_clip: float = 1.0  #: max gradient norm (0 = off)
    log_every: int = 200  #: steps between training-scalar dumps
    val_every: int = 2000  #: steps between validation passes (0 = only at the end)
    checkpoint_every: int = 2000  #: steps between checkpoints
    keep_checkpoints: int = 2  #: newest checkpoints kept (>= 2, so a damaged newest one has a fallback)
    run_root: str = "runs"  #: root folder of run directories
    experiment: str = "forecast"  #: experiment name: the first level of the run directory
    resume: bool = False  #: continue from the run directory's checkpoint
    test_after: bool = True  #: evaluate on the test environments when training ends
    adapt_after: bool = False  #: then run the low-shot adaptation curve (``adapt.*``) before writing done.json
    progress: bool = True  #: show a progress bar while training (on a terminal)
    device: str = "auto"  #: torch device: auto (CUDA when torch sees one, else CPU) | cpu | cuda | cuda:<n>

    def __post_init__(self) -> None:
        validate(
            self,
            seed=SEED,
            steps=POSITIVE,
            batch_size=POSITIVE,
            lr=LEARNING_RATE,
            lr_min_fraction=PROBABILITY,
            weight_decay=NON_NEGATIVE,
            grad_clip=NON_NEGATIVE,
            log_every=POSITIVE,
            val_every=NON_NEGATIVE,
            checkpoint_every=POSITIVE,
            run_root=NON_EMPTY,
            experiment=NON_EMPTY,
            device=matches(DEVICE_PATTERN, "'auto', 'cpu', 'cuda', 'cuda:<n>' or 'mps'"),
        )
