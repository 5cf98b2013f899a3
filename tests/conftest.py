"""Shared test settings: one torch thread, headless MuJoCo, quiet warnings."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MUJOCO_GL", "egl")
# subprocesses (sweep children, CLI calls) import this checkout's code and its test fixtures
# (``python -m tests.core.toy_run``), whatever their working directory
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, os.environ.get("PYTHONPATH", "")) if p)

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture
def run_root(tmp_path):
    """A fresh folder for run directories."""
    return tmp_path / "runs"


class PicklePayload:
    """An object whose unpickling runs code (it creates the file ``marker``): a crafted-file attack."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


@pytest.fixture
def payload(tmp_path):
    """``(marker, obj)``: pickling ``obj`` into a file and unpickling it would create ``marker``.

    The fixture checks that the payload really runs under an unsafe load, so a test that finds no marker
    after a safe load has proven something.
    """
    import pickle

    marker = tmp_path / "PAYLOAD_RAN"
    obj = PicklePayload(marker)
    pickle.loads(pickle.dumps(obj))
    assert marker.exists(), "the payload does not run under pickle.loads"
    marker.unlink()
    return marker, obj
