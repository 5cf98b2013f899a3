"""Silence two known, harmless messages that every command used to print -- and nothing else.

1. ``GLFWError: X11: The DISPLAY environment variable is missing``: with ``MUJOCO_GL`` unset, dm_control tries
   its renderers in order and GLFW, the first, warns on a machine without a display before EGL is chosen.
   Fix: on such a machine pick the headless backend up front (``egl``, else ``osmesa``) -- what dm_control
   would end up with anyway -- and ignore that one warning should GLFW still be tried.
2. ``WARNING:absl:compiler attribute 'settotalmass' is deprecated ...``: MuJoCo's compiler warns about the
   attribute in dm_control's own ``cheetah.xml``; dm_control forwards it to absl logging at every model load.
   Fix: a filter on the ``absl`` logger that drops exactly that message.

:func:`quiet_known_noise` runs once at the start of the ``causal-priors`` command, before dm_control is imported.
"""

from __future__ import annotations

import ctypes.util
import logging
import os
import warnings

#: substrings of the two messages (matched on the message text only)
DISPLAY_WARNING = r".*DISPLAY environment variable is missing"
SETTOTALMASS_WARNING = "compiler attribute 'settotalmass' is deprecated"


class _DropSettotalmass(logging.Filter):
    """Drops the absl record of MuJoCo's ``settotalmass`` deprecation, passes every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        return SETTOTALMASS_WARNING not in record.getMessage()


def headless_gl_backend() -> str | None:
    """``egl`` or ``osmesa`` when the machine has no display and that library is installed, else ``None``."""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    for backend, library in (("egl", "EGL"), ("osmesa", "OSMesa")):
        if ctypes.util.find_library(library):
            return backend
    return None


def quiet_known_noise() -> None:
    """Pick a headless MuJoCo GL backend if none is set, and filter the two known messages (idempotent)."""
    if "MUJOCO_GL" not in os.environ:
        backend = headless_gl_backend()
        if backend is not None:
            os.environ["MUJOCO_GL"] = backend
    warnings.filterwarnings("ignore", message=DISPLAY_WARNING)
    absl = logging.getLogger("absl")
    if not any(isinstance(f, _DropSettotalmass) for f in absl.filters):
        absl.addFilter(_DropSettotalmass())
