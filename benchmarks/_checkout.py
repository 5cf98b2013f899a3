"""Make a benchmark script, run as a file, import the library from its own checkout.

``python benchmarks/<script>.py`` puts ``benchmarks/`` (not the repository root) first on ``sys.path``, so
without this the script would import whichever copy of the library is installed, which need not be the
checkout the script belongs to (a study pinned to an older commit, a second worktree). Every script calls
:func:`use_this_checkout` before it imports ``agents``, ``causal``, ``envs``, ``forecasting`` or
``causal_priors``.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def use_this_checkout() -> Path:
    """Put this checkout's root first on ``sys.path`` (once) and return it."""
    root = str(REPO_ROOT)
    if root in sys.path:
        sys.path.remove(root)
    sys.path.insert(0, root)
    return REPO_ROOT
