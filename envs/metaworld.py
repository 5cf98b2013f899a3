"""Meta-World manipulation tasks as ``metaworld/<task>-v3`` ids (MT1: one task, 50 seeded goal positions).

Meta-World is an optional extra (``pip install -e ".[metaworld]"``, best in its own venv: it pins
``mujoco==3.3.0`` and ``dm-control==1.0.28``, older than the default install). The ids are registered with
gymnasium whether or not the extra is installed; building one without it raises a one-line error.

Protocol (standard MT1): ``metaworld.MT1(task, seed=task_seed)`` fixes the task's list of 50 goal/object
positions (``task_seed`` defaults to 0, so training and evaluation envs share the goals); every reset draws
one of them with the env's own generator, seeded by ``reset(seed=...)`` and continued by unseeded resets.
Observations are Meta-World's 39-dim state (hand, gripper, two object slots, previous frame, goal); on
single-object tasks the second object slot is constant zero padding. Episodes last 500 steps; the env never
terminates on success, it reports ``info["success"]`` (0.0 or 1.0) every step.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Any

import gymnasium as gym
import numpy as np

from causal_priors.errors import EnvIdError

PREFIX = "metaworld/"
#: The supported (tested) Meta-World tasks; ``metaworld/<task>`` is the env id.
SUPPORTED_TASKS = (
    "reach-v3",
    "button-press-v3",
    "drawer-close-v3",
    "door-open-v3",
    "push-v3",
    "pick-place-v3",
)
SUPPORTED_IDS = tuple(PREFIX + task for task in SUPPORTED_TASKS)
EPISODE_STEPS = 500
INSTALL_HINT = (
    'Meta-World ids need the optional extra: pip install -e ".[metaworld]" in its own venv '
    "(it pins mujoco==3.3.0 and dm-control==1.0.28; README, section Meta-World)"
)


def is_metaworld_id(env_id: str) -> bool:
    """Whether ``env_id`` names a Meta-World task (supported or not)."""
    return env_id.startswith(PREFIX)


def import_metaworld() -> Any:
    """The ``metaworld`` module, or a one-line :class:`EnvIdError` naming the install command."""
    try:
        import metaworld
    except ImportError as err:
        raise EnvIdError(f"{INSTALL_HINT}; import failed: {err}") from None
    return metaworld


def check_id(env_id: str) -> None:
    """Raise :class:`EnvIdError` for an unsupported task (with close matches) or a missing extra."""
    if env_id not in SUPPORTED_IDS:
        close = difflib.get_close_matches(env_id, SUPPORTED_IDS, n=3, cutoff=0.5)
        hint = f"close matches: {', '.join(close)}" if close else f"supported: {', '.join(SUPPORTED_IDS)}"
        raise EnvIdError(f"unknown Meta-World id '{env_id}'; {hint}")
    import_metaworld()


def register() -> None:
    """Register the supported ids with gymnasium (idempotent; the extra is imported only when one is built)."""
    for env_id, task in zip(SUPPORTED_IDS, SUPPORTED_TASKS, strict=True):
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point="envs.metaworld:MT1Env",
                max_episode_steps=EPISODE_STEPS,
                kwargs={"task": task},
            )


@lru_cache(maxsize=16)
def mt1_tasks(task: str, task_seed: int) -> tuple[Any, ...]:
    """``metaworld.MT1(task, seed=task_seed).train_tasks`` (50 goals; cached: building them takes seconds)."""
    return tuple(import_metaworld().MT1(task, seed=int(task_seed)).train_tasks)


class MT1Env(gym.Env):
    """One Meta-World task whose goal is drawn from the MT1 task list at every reset.

    Args:
        task: Meta-World task name, e.g. ``"reach-v3"``.
        task_seed: seed of ``metaworld.MT1``'s list of 50 goals (the same for every env built with it).
        render_mode, width, height, camera_name: passed to the Meta-World env (``rgb_array`` for frames).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 80}

    def __init__(
        self,
        task: str,
        task_seed: int = 0,
        render_mode: str | None = None,
        width: int = 480,
        height: int = 480,
        camera_name: str | None = "corner",
    ) -> None:
        metaworld = import_metaworld()
        if task not in metaworld.MT1.ENV_NAMES:
            raise EnvIdError(f"'{task}' is not a Meta-World v3 task")
        self.task = task
        self.tasks = mt1_tasks(task, int(task_seed))
        self.render_mode = render_mode
        self.sim = metaworld.ALL_V3_ENVIRONMENTS[task](
            render_mode=render_mode, width=width, height=height, camera_name=camera_name
        )
        self.sim.set_task(self.tasks[0])
        self.sim.max_path_length = 2**31  # the time limit is gymnasium's TimeLimit (EPISODE_STEPS by default)
        # unbounded: Meta-World's reset observation is not clipped to its own (partly degenerate) bounds
        dim = int(self.sim.observation_space.shape[0])
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(dim,), dtype=np.float64)
        self.action_space = self.sim.action_space
        self.task_index = 0

    @property
    def model(self) -> Any:
        """The MuJoCo model (for :class:`envs.domain_shift.DomainShift`)."""
        return self.sim.model

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Draw a goal from the task list with this env's generator, then reset the simulator."""
        super().reset(seed=seed)
        if seed is not None:
            self.sim.seed(seed)
        self.task_index = int(self.np_random.integers(len(self.tasks)))
        self.sim.set_task(self.tasks[self.task_index])
        obs, info = self.sim.reset()
        return obs, dict(info, task_index=self.task_index)

    def step(self, action: Any):
        return self.sim.step(np.asarray(action, dtype=np.float32))

    def render(self) -> Any:
        return self.sim.render()

    def close(self) -> None:
        self.sim.close()
