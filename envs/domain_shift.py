"""Domain shift: scale a MuJoCo model's physical parameters, for out-of-distribution RL evaluation."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from causal_priors.errors import EnvIdError
from envs.config import DomainShiftConfig


def mujoco_model(env: gym.Env) -> Any:
    """The MuJoCo model of a gymnasium MuJoCo env or of a dm_control env behind shimmy.

    Both expose numpy views ``body_mass``, ``geom_friction``, ``opt.gravity`` and ``actuator_gainprm``.
    """
    base = env.unwrapped
    if hasattr(base, "model") and hasattr(base.model, "body_mass"):
        return base.model
    inner = getattr(base, "_env", None)
    physics = getattr(inner, "physics", None)
    if physics is not None:
        return physics.model
    raise EnvIdError(f"domain shift needs a MuJoCo-based env; '{env.spec.id if env.spec else base}' has no model")


class DomainShift(gym.Wrapper):
    """Multiply body masses, friction, gravity and actuator gains by fixed factors.

    The nominal values are read once; the scaled values are written at construction and again after
    every reset (some tasks rebuild parts of the model when an episode starts), so the shift holds for
    the whole episode. ``actuator_gain`` scales ``gainprm[:, 0]``, the force per unit control of motor
    and general actuators.
    """

    FIELDS = ("mass", "friction", "gravity", "actuator_gain")

    def __init__(self, env: gym.Env, shift: DomainShiftConfig) -> None:
        super().__init__(env)
        self.factors = {name: float(getattr(shift, name)) for name in self.FIELDS}
        for name, value in self.factors.items():
            if not np.isfinite(value) or value <= 0:
                raise EnvIdError(f"env.domain_shift.{name} must be a positive factor, got {value}")
        model = mujoco_model(env)
        self._nominal = {
            "mass": model.body_mass.copy(),
            "friction": model.geom_friction.copy(),
            "gravity": model.opt.gravity.copy(),
            "actuator_gain": model.actuator_gainprm[:, 0].copy(),
        }
        self._apply()

    def _apply(self) -> None:
        model = mujoco_model(self.env)
        model.body_mass[:] = self._nominal["mass"] * self.factors["mass"]
        model.geom_friction[:] = self._nominal["friction"] * self.factors["friction"]
        model.opt.gravity[:] = self._nominal["gravity"] * self.factors["gravity"]
        model.actuator_gainprm[:, 0] = self._nominal["actuator_gain"] * self.factors["actuator_gain"]

    def reset(self, **kwargs: Any):
        out = self.env.reset(**kwargs)
        self._apply()
        return out
