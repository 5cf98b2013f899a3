"""Shared environment wrappers: one factory, ``envs.make``, for agents and the forecasting simulator.

Example::

    env = envs.make("Reacher-v5", distractor_dims=20, seed=0)
    env = envs.make("dm_control/reacher-easy-v0", action_repeat=2)
    env = envs.make("Hopper-v5", domain_shift={"mass": 1.5})
"""

from envs.config import DomainShiftConfig, EnvConfig
from envs.factory import make, make_from_config
from envs.metaworld import register as _register_metaworld

_register_metaworld()  # metaworld/<task>-v3 ids (building one needs the optional extra)

try:  # the crowd simulator registers CrowdCircleCrossing-v0
    import envs.crowd  # noqa: F401
except ImportError:  # pragma: no cover - only while the module is being written
    pass

__all__ = ["DomainShiftConfig", "EnvConfig", "make", "make_from_config"]
