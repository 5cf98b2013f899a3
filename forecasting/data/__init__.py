"""The forecasting data layer: scenes with domain labels from files or the crowd simulator.

``SceneDataset`` (numpy) holds scenes; ``batches()`` / ``to_batch()`` turn them into ``SceneBatch`` tensors.
Loaders: :func:`load_synthetic` (``synthetic_v4``), :func:`make_synthetic_domain` (own ORCA simulator),
:func:`load_eth_ucy` (leave-one-scene-out); :func:`add_spurious_channel` adds the robustness channel.
"""

from forecasting.data.dataset import DATA_ENV_VAR, SceneDataset, default_data_root, split_train_val
from forecasting.data.eth_ucy import (
    SCENES,
    add_spurious_channel,
    load_eth_ucy,
    source_scene,
    spurious_channel,
)
from forecasting.data.synthetic import load_synthetic, make_synthetic_domain, radius_name, synthetic_file

__all__ = [
    "DATA_ENV_VAR",
    "SCENES",
    "SceneDataset",
    "add_spurious_channel",
    "default_data_root",
    "load_eth_ucy",
    "load_synthetic",
    "make_synthetic_domain",
    "radius_name",
    "source_scene",
    "split_train_val",
    "spurious_channel",
    "synthetic_file",
]
