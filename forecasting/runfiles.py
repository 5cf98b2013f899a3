"""Where a forecasting run lives and how its trained model is stored and loaded (no pickles).

A finished run holds ``model.pt`` (the method's state dict, read with ``torch.load(weights_only=True)``)
and ``model.json`` (what is needed to rebuild the method: name, environments, channels, step budget,
model config). Shared by ``forecast train`` (writes them), ``evaluate``, ``adapt`` and ``mcc`` (read them),
so neither of :mod:`forecasting.train` and :mod:`forecasting.adapt` imports the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from causal_priors.checkpoints import load_json, load_tensors, save_tensors
from causal_priors.config import to_container
from causal_priors.errors import ConfigError, DataError
from causal_priors.runs import run_dir, write_json
from forecasting.devices import loading_device
from forecasting.models.base import ForecastMethod, build_method
from forecasting.splits import data_name

__all__ = ["load_trained", "run_dir_for", "save_model"]

#: run-directory protocol name of forecast commands (messages, lock holder)
WHAT = "forecast"


def run_dir_for(cfg: Any) -> Path:
    """``<run_root>/<experiment>/<data>/<model label or name>/seed_<seed>``."""
    return run_dir(cfg.run_root, cfg.experiment, data_name(cfg), cfg.model.label or cfg.model.name, int(cfg.seed))


def save_model(method: ForecastMethod, cfg: Any, folder: Path) -> None:
    """``model.pt`` (state dict) and ``model.json`` (how to rebuild the method) in ``folder``."""
    meta = {
        "name": cfg.model.name,
        "domain_names": list(method.domain_names),
        "extra_channels": int(method.extra_channels),
        "total_steps": int(method.total_steps),
        "model_cfg": to_container(cfg.model),
    }
    write_json(folder / "model.json", meta)
    save_tensors(method.state_dict(), folder / "model.pt")


def load_trained(cfg: Any) -> ForecastMethod:
    """The trained method of ``cfg``'s run directory (``model.pt`` + ``model.json``), in eval mode, on
    :func:`forecasting.devices.loading_device` (``cfg.device``, or ``auto`` with a warning when it is missing here;
    the file is read with ``map_location="cpu"``, so a model trained on a GPU loads anywhere).

    Raises:
        ConfigError: the run has no trained model.
        DataError: a file is unreadable, holds anything but tensors, or does not fit the method.
    """
    folder = run_dir_for(cfg)
    path = folder / "model.pt"
    if not path.is_file():
        raise ConfigError(f"no trained model at {path}: run `causal-priors forecast train` with the same keys first")
    if not (folder / "model.json").is_file():
        raise DataError(
            f"{folder / 'model.json'} is missing: {path} was written by an older version; train the run again"
        )
    meta = load_json(folder / "model.json")
    state = load_tensors(path)
    from forecasting.config import ModelConfig

    try:
        # defaults first, so a model written before a config field existed still loads
        model_cfg = OmegaConf.merge(OmegaConf.structured(ModelConfig), meta["model_cfg"])
        method = build_method(
            meta["name"], model_cfg, tuple(meta["domain_names"]), int(meta["extra_channels"]), int(meta["total_steps"])
        )
        method.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{path}: does not fit the model described by model.json ({text[:200]})") from None
    method.eval()
    return method.to(loading_device(cfg))
