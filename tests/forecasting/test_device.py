"""The forecasters' ``device`` key: resolution, one training step per method family kept on the method's device
with no host read of its data, and checkpoints written on a GPU loading here.

No GPU here: ``auto`` is tested with ``torch.cuda.is_available`` patched; a step runs with torch's default device
set to ``meta`` (on a GPU machine the default device is not the method's), so a tensor made without an explicit
device shows up on ``meta``; and the host reads of the step (``.item()``, ``float()``, ``.numpy()``, ...) are
recorded by a torch-function mode, so a per-step round trip through the host is seen although the host *is* the
device here. Planted faults of both kinds prove that the checks catch them. A checkpoint "written on a GPU" is
made by saving with torch's storage location tag patched to ``cuda:0``: such a file fails to load without
``map_location`` on this machine, so it proves the loaders pass one.
"""

from __future__ import annotations

import warnings
from collections import Counter
from unittest import mock

import pytest
import torch
from device_log import DeviceLog
from torch.overrides import TorchFunctionMode

from causal_priors.cli import main
from causal_priors.errors import ConfigError
from forecasting import losses
from forecasting.devices import loading_device, method_device, training_device
from forecasting.models.base import build_method
from forecasting.models.erm import ERM
from forecasting.step_metrics import StepMetrics
from forecasting.train import _load_checkpoint, _lr_lambda, _save_checkpoint, build_config, train_step

#: tensor methods that copy a tensor's data to the host
HOST_READS = {"item", "tolist", "numpy", "cpu", "__float__", "__int__", "__bool__"}
#: each method's one-step host reads, all control flow on shapes the data decide (no value leaves the step):
#: the encoder's "every agent real?" branch (one per scene encoder), SupCon's "any anchor with a positive?"
ALLOWED_READS = {"erm": {"__bool__": 1}, "causal_motion": {"__bool__": 2}, "gcrl": {"__bool__": 2}}
#: orca_residual's mechanism (numpy) reads the batch on the host: observed steps, agent mask, domain ids (numpy),
#: the training styles (tolist), the encoder branch as above; one transfer back (not a read)
ORCA_RESIDUAL_READS = {"cpu": 3, "numpy": 3, "tolist": 1, "__bool__": 1}


class HostReadLog(TorchFunctionMode):
    """How often a tensor's data is read on the host (:data:`HOST_READS`)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: Counter[str] = Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in HOST_READS:
            self.reads[name] += 1
        return func(*args, **(kwargs or {}))


def _setup(name, make_batch, make_model_cfg):
    """A method, its optimiser and scheduler after one ordinary step (the optimiser's state exists)."""
    torch.manual_seed(0)
    batch = make_batch(b=12)
    cfg = make_model_cfg(name, **({"orca_substeps": 2, "orca_time_horizons": "[2.0]"} if "orca" in name else {}))
    method = build_method(name, cfg, batch.domain_names, 0, 10)
    if name == "orca_residual":
        method.prepare(_as_dataset(batch))
    method.to(training_device(build_config(["device=cpu"])))  # the checks below need the host as the device
    opt = torch.optim.Adam(method.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(10, 0.1))
    train_step(method, batch, opt, sched, 0, 1.0)
    return method, opt, sched, batch


def _as_dataset(batch):
    from forecasting.data import SceneDataset

    return SceneDataset(batch.positions.numpy(), batch.agent_mask.numpy(), batch.domain.numpy(), batch.domain_names)


def _checked_step(method, opt, sched, batch, step):
    """Under a ``meta`` default device: the host reads of the method's loss and backward pass, then the devices
    seen in those and in a whole :func:`train_step` (optimiser and scheduler included)."""
    devices, reads = DeviceLog(), HostReadLog()
    with torch.device("meta"), devices:
        with reads:  # the optimiser's own step counter lives on the host by design: not logged
            loss, metrics = method.loss(batch, step)
            loss.backward()
        opt.zero_grad(set_to_none=True)
        train_step(method, batch, opt, sched, step, 1.0)
    return devices, reads, metrics


def test_a_bad_device_is_a_config_error_naming_the_key(tiny_argv, capsys):
    with pytest.raises(ConfigError, match="device"):
        build_config(["device=gpu"])
    assert main(["forecast", "train", *tiny_argv, "device=tpu"]) == 2
    err = capsys.readouterr().err
    assert "device" in err and "'auto', 'cpu', 'cuda'" in err and err.count("\n") == 1


def test_auto_is_the_cpu_here_and_cuda_when_torch_sees_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert build_config([]).device == "auto"
    assert training_device(build_config([])) == torch.device("cpu")
    with pytest.raises(ConfigError, match="device=cuda: torch sees no CUDA device"):
        training_device(build_config(["device=cuda"]))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert training_device(build_config([])) == torch.device("cuda", 0)
    assert training_device(build_config(["device=cuda:0"])) == torch.device("cuda", 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    with pytest.raises(ConfigError, match="device=mps: the forecasters compute in float64"):
        training_device(build_config(["device=mps"]))


def test_training_on_a_missing_gpu_is_a_one_line_error(tiny_argv, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["forecast", "train", "model=erm", *tiny_argv, "device=cuda"]) == 2
    assert "device=cuda: torch sees no CUDA device" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["erm", "causal_motion", "gcrl", "orca_residual"])
def test_one_step_stays_on_the_method_device(name, make_batch, make_model_cfg):
    method, opt, sched, batch = _setup(name, make_batch, make_model_cfg)
    step = 9 if name == "causal_motion" else 1  # causal motion's joint stage: style encoder, FiLM, SupCon, V-REx
    before = {k: v.clone() for k, v in method.state_dict().items()}
    devices, reads, metrics = _checked_step(method, opt, sched, batch, step)
    assert set(devices.seen) == {"cpu"}, {d: sorted(ops)[:5] for d, ops in devices.seen.items()}
    expected = ORCA_RESIDUAL_READS if name == "orca_residual" else ALLOWED_READS[name]
    assert dict(reads.reads) == expected
    assert all(not isinstance(v, torch.Tensor) or v.device == method_device(method) for v in metrics.values())
    assert any(not torch.equal(before[k], v) for k, v in method.state_dict().items())  # the step did update


def test_a_tensor_made_on_the_host_in_the_update_is_caught(make_batch, make_model_cfg, monkeypatch):
    """Planted: a loss term built without a device (as ``torch.ones(n)`` would be on a GPU machine)."""
    method, opt, sched, batch = _setup("erm", make_batch, make_model_cfg)
    original = losses.scene_risk

    def planted(pred, future, agent_mask):
        risk = original(pred, future, agent_mask)
        return risk + torch.zeros(risk.shape[0])  # no device=: lands on the default device

    monkeypatch.setattr("forecasting.models.erm.scene_risk", planted)
    with pytest.raises(RuntimeError, match="meta"):
        _checked_step(method, opt, sched, batch, 1)


def test_a_host_round_trip_in_the_update_is_caught(make_batch, make_model_cfg, monkeypatch):
    """Planted: a metric read on the host per step and a mask built in numpy (``.cpu().numpy()`` and back)."""
    method, opt, sched, batch = _setup("erm", make_batch, make_model_cfg)
    original = ERM.loss

    def planted(self, b, step):
        mask = torch.from_numpy(b.agent_mask.cpu().numpy()).to(b.positions.device)
        loss, metrics = original(self, type(b)(b.positions, mask, b.domain, b.domain_names), step)
        metrics["risk"] = float(metrics["risk"])
        return loss, metrics

    monkeypatch.setattr(ERM, "loss", planted)
    devices, reads, _ = _checked_step(method, opt, sched, batch, 1)
    assert set(devices.seen) == {"cpu"}  # the device check alone cannot see it on a CPU-only machine ...
    assert reads.reads["numpy"] == 1 and reads.reads["__float__"] == 1  # ... the host-read log does


def test_step_metrics_are_read_in_one_transfer_and_the_guard_names_the_first_bad_step():
    window = StepMetrics({"loss": [0.5]})
    for step in range(5):
        window.add(step, torch.tensor(1.0 + step), {"loss": torch.tensor(float(step)), "stage": 2.0})
    with HostReadLog() as log:
        means = window.means()
    assert log.reads == Counter({"tolist": 1})
    assert means == {"loss": pytest.approx((0.5 + 0 + 1 + 2 + 3 + 4) / 6), "stage": 2.0}
    window.clear()
    window.add(7, torch.tensor(1.0), {"risk": torch.tensor(1.0)})
    window.add(8, torch.tensor(float("nan")), {"risk": torch.tensor(1.0)})
    window.add(9, torch.tensor(1.0), {"risk": torch.tensor(float("inf"))})
    with pytest.raises(Exception, match="step 8: non-finite training metric 'loss'"):
        window.read()


def _saved_as_if_on_a_gpu():
    """Patch torch's storage location tag: files written now claim ``cuda:0`` storages."""
    return mock.patch("torch.serialization.location_tag", lambda storage: "cuda:0")


def test_a_checkpoint_written_on_a_gpu_resumes_here(tmp_path, make_batch, make_model_cfg, monkeypatch):
    from causal_priors.checkpoints import Checkpoint

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    method, opt, sched, _ = _setup("gcrl", make_batch, make_model_cfg)
    folder = tmp_path / "step_1"
    folder.mkdir()
    with _saved_as_if_on_a_gpu():
        _save_checkpoint(folder, method, opt, sched, 1, 0.5, {"loss": [1.0]})
    with pytest.raises(RuntimeError, match="CUDA"):  # the file really names a CUDA device
        torch.load(folder / "model.pt", weights_only=True)
    fresh, fresh_opt, fresh_sched, _ = _setup("gcrl", make_batch, make_model_cfg)
    torch.manual_seed(123)
    ckpt = mock.Mock(spec=Checkpoint, path=folder, file=lambda name: folder / name)
    step, wall, pending = _load_checkpoint(ckpt, fresh, fresh_opt, fresh_sched)
    assert (step, wall, pending) == (1, 0.5, {"loss": [1.0]})
    for key, value in method.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value) and fresh.state_dict()[key].device.type == "cpu", key
    assert fresh_opt.state_dict()["state"].keys() == opt.state_dict()["state"].keys()


def test_a_model_trained_on_a_gpu_evaluates_here(tiny_argv, monkeypatch):
    """``forecast train device=cuda`` on a GPU machine, then ``evaluate`` on a CPU-only one (same keys)."""
    from forecasting.runfiles import load_trained, run_dir_for
    from forecasting.train import run

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    argv = ["model=erm", *tiny_argv, "test_after=false", "device=cpu"]
    run(build_config(argv))
    trained = load_trained(build_config(argv))
    rd = run_dir_for(build_config(argv))
    with _saved_as_if_on_a_gpu():  # rewrite the final weights as a GPU run writes them
        from causal_priors.checkpoints import save_tensors

        save_tensors(trained.state_dict(), rd / "model.pt")
    gpu_cfg = build_config([*argv[:-1], "device=cuda"])
    with pytest.warns(UserWarning, match="device=cuda is not available here: loading on cpu"):
        loaded = load_trained(gpu_cfg)
    assert method_device(loaded) == torch.device("cpu")
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in trained.state_dict().items())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert loading_device(build_config(["device=cpu"])) == torch.device("cpu")


def test_a_run_may_resume_under_another_device(tiny_argv):
    """``device`` does not define a run: one started on a GPU may finish on a CPU (here: cpu -> auto)."""
    from forecasting.train import run

    argv = ["model=erm", *tiny_argv, "test_after=false"]
    first = run(build_config([*argv, "steps=6", "device=cpu"]))
    assert "val/ade/all" in first
    done = run(build_config([*argv, "steps=6", "device=auto", "resume=true"]))
    assert done == first
