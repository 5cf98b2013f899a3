"""Typed environment options, shared by every command that builds an environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from causal_priors.checks import NON_EMPTY, NON_NEGATIVE, POSITIVE, validate


@dataclass
class DomainShiftConfig:
    """Multiplicative factors on physical parameters (1.0 = nominal), for out-of-distribution evaluation."""

    mass: float = 1.0
    """Scale every body mass."""
    friction: float = 1.0
    """Scale every geom's sliding/torsional/rolling friction."""
    gravity: float = 1.0
    """Scale the gravity vector."""
    actuator_gain: float = 1.0
    """Scale every actuator's gain (force per unit control)."""

    def __post_init__(self) -> None:
        validate(self, mass=POSITIVE, friction=POSITIVE, gravity=POSITIVE, actuator_gain=POSITIVE)


@dataclass
class EnvConfig:
    """Options of ``envs.make``; a YAML preset under ``configs/env/`` fills some of them."""

    id: str = "HalfCheetah-v5"
    """Gymnasium id: MuJoCo ``*-v5``, ``dm_control/<domain>-<task>-v0``, ``Pendulum-v1``, ``CrowdCircleCrossing-v0``,
    ``metaworld/<task>-v3`` (optional extra)."""
    action_repeat: int = 1
    """Repeat each action this many simulator steps, summing rewards."""
    sparse_reward: bool = False
    """Replace the reward by 1 when the task's success signal passes ``sparse_threshold``, else 0."""
    sparse_threshold: float | None = None
    """Success threshold; ``None`` takes the task family's default (see ``envs.wrappers.SPARSE_DEFAULTS``)."""
    pixels: bool = False
    """Observe rendered frames: a dict ``{"pixels": stacked uint8 frames, "state": the flat state}`` (the state is
    the privileged view for CIP's causal parts; agents learn from ``pixels``; see ``envs.pixels``)."""
    image_size: int = 84
    """With ``pixels``: side of the square rendered frames."""
    frame_stack: int = 3
    """With ``pixels``: consecutive frames stacked along the channel axis."""
    distractor_dims: int = 0
    """Append this many state dims with their own random dynamics that never affect reward."""
    domain_shift: DomainShiftConfig = field(default_factory=DomainShiftConfig)
    """Physical parameter factors (mass, friction, gravity, actuator gain)."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Constructor arguments of the underlying env (e.g. ``{radius: 0.5}`` for ``CrowdCircleCrossing-v0``)."""
    max_episode_steps: int | None = None
    """Time limit in agent steps; ``None`` keeps the task's own (1000 for MuJoCo and dm_control, 500 for Meta-World)."""

    def __post_init__(self) -> None:
        """Ranges only; whether ``id`` names a registered env is checked by ``envs.make`` (needs the registry)."""
        validate(
            self,
            id=NON_EMPTY,
            action_repeat=POSITIVE,
            distractor_dims=NON_NEGATIVE,
            max_episode_steps=POSITIVE,
            image_size=POSITIVE,
            frame_stack=POSITIVE,
        )
