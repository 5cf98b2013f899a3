"""The data protocol of the forecasting study: which scenes train, validate, test and adapt.

- Synthetic: train/val = the fixed seeded 2400/600 split (per radius) of ``val/`` for the training radii, plus
  optional *simulated* training radii (``data.simulated_radii``: fresh scenes from the project's ORCA simulator,
  the same scenes in every run) split the same way -- a labelled protocol variant, not the papers';
  test = ``test/`` of every test radius; adaptation pool = ``val/`` of the target radius.
- ETH/UCY: train/val = the leave-one-out ``train/`` and ``val/`` folders; test = the left-out scene, once per
  test alpha when the spurious channel is on (environment names ``<scene>@alpha=<a>``).
- Every test environment's first ``eval.reference_scenes`` scenes are *reference* scenes (complete
  trajectories for causal motion's style encoder) and are left out of scoring for every method.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from causal_priors.errors import ConfigError
from forecasting.config import DataConfig
from forecasting.data import (
    SceneDataset,
    add_spurious_channel,
    load_eth_ucy,
    load_synthetic,
    make_synthetic_domain,
    radius_name,
    split_train_val,
)

#: the train/val split of the synthetic ``val/`` pool is the same for every run (not the run's seed)
SPLIT_SEED = 0
#: the papers' training radii (the config default); runs trained on others name theirs in the run folder
PAPER_TRAIN_RADII = sorted(DataConfig().train_radii)


def _root(cfg: Any) -> str | None:
    return cfg.data.root or None


def _max(cfg: Any) -> int | None:
    return int(cfg.data.max_scenes) or None


def _simulated(cfg: Any) -> list[float]:
    """``data.simulated_radii`` (absent from the configs saved by runs older than the key: none)."""
    return list(getattr(cfg.data, "simulated_radii", None) or [])


def data_name(cfg: Any) -> str:
    """Run-directory name of the data protocol, e.g. ``synthetic`` (the papers' training radii),
    ``synthetic_train_0.1_0.2_0.3_0.4_0.5``, ``synthetic_sim_0.2_0.4`` or ``eth_ucy_hotel_spurious``."""
    d = cfg.data
    if d.name == "synthetic":
        name = "synthetic"
        if sorted(float(r) for r in d.train_radii) != PAPER_TRAIN_RADII:
            name += "_train_" + "_".join(radius_name(r) for r in sorted(d.train_radii))
        sim = "_".join(radius_name(r) for r in sorted(_simulated(cfg)))
        return f"{name}_sim_{sim}" if sim else name
    return f"eth_ucy_{d.test_scene}" + ("_spurious" if d.spurious_alphas else "")


def _check_name(cfg: Any) -> None:
    if cfg.data.name not in ("synthetic", "eth_ucy"):
        raise ConfigError(f"data.name: expected 'synthetic' or 'eth_ucy', got {cfg.data.name!r}")


def _with_spurious(cfg: Any, ds: SceneDataset) -> SceneDataset:
    alphas = list(cfg.data.spurious_alphas)
    if not alphas:
        return ds
    if len(alphas) != len(ds.domain_names):
        raise ConfigError(
            f"data.spurious_alphas: need one alpha per training scene {list(ds.domain_names)}, got {alphas}"
        )
    return add_spurious_channel(ds, dict(zip(ds.domain_names, alphas, strict=True)))


def train_val(cfg: Any) -> tuple[SceneDataset, SceneDataset]:
    """Training and (in-distribution) validation scenes."""
    _check_name(cfg)
    d = cfg.data
    if d.name == "synthetic":
        domains = {r: load_synthetic("val", [r], _root(cfg), _max(cfg)) for r in d.train_radii}
        domains.update({r: simulated_domain(cfg, r) for r in _simulated(cfg)})
        pool = SceneDataset.concat([domains[r] for r in sorted(domains)])
        return split_train_val(pool, int(d.n_train_per_domain), SPLIT_SEED)
    train = load_eth_ucy(d.test_scene, "train", _root(cfg), min_agents=int(d.min_agents), max_scenes=_max(cfg))
    val = load_eth_ucy(d.test_scene, "val", _root(cfg), min_agents=int(d.min_agents), max_scenes=_max(cfg))
    return _with_spurious(cfg, train), _with_spurious(cfg, val)


def training_environments(cfg: Any) -> list[str]:
    """Names of the training environments (synthetic: file and simulated radii; ETH/UCY: the other scenes)."""
    d = cfg.data
    if d.name == "synthetic":
        return [radius_name(r) for r in sorted([*d.train_radii, *_simulated(cfg)])]
    return []


def simulated_domain(cfg: Any, radius: float) -> SceneDataset:
    """Training scenes of one simulated radius, identical in every run (seeded by the radius' name).

    Raises:
        ConfigError: the radius is also a file training radius, or too few scenes are asked for the split.
    """
    d, name = cfg.data, radius_name(radius)
    if name in {radius_name(r) for r in d.train_radii}:
        raise ConfigError(f"data.simulated_radii: {name} is already in data.train_radii; list each radius once")
    n = int(d.simulated_scenes) if not _max(cfg) else min(int(d.simulated_scenes), int(_max(cfg)))
    if n <= int(d.n_train_per_domain):
        raise ConfigError(
            f"data.simulated_scenes={n} leaves no validation scenes after n_train_per_domain={d.n_train_per_domain}"
        )
    return make_synthetic_domain(float(radius), n, seed=zlib.crc32(f"simulated:{name}".encode()))


def test_sets(cfg: Any) -> dict[str, SceneDataset]:
    """Test scenes per environment name (each a one-environment dataset)."""
    _check_name(cfg)
    d = cfg.data
    if d.name == "synthetic":
        return {radius_name(r): load_synthetic("test", [r], _root(cfg), _max(cfg)) for r in d.test_radii}
    test = load_eth_ucy(d.test_scene, "test", _root(cfg), min_agents=int(d.min_agents), max_scenes=_max(cfg))
    if not d.spurious_alphas:
        return {d.test_scene: test}
    out = {}
    for a in d.test_alphas:
        ds = add_spurious_channel(test, float(a))
        out[f"{d.test_scene}@alpha={a:g}"] = SceneDataset(
            ds.positions, ds.agent_mask, ds.domain, (f"{d.test_scene}@alpha={a:g}",), ds.extra, ds.obs_len
        )
    return out


def check_test_files(cfg: Any) -> None:
    """Fail fast (before training) when a synthetic test radius or the adaptation target has no file.

    Raises:
        DataError: naming the missing file's path pattern (``data.test_radii`` accepts any radius whose
            ``test/`` file exists under the data root).
    """
    from forecasting.data.synthetic import synthetic_file

    if cfg.data.name != "synthetic":
        return
    for r in cfg.data.test_radii:
        synthetic_file("test", float(r), _root(cfg))
    if getattr(cfg, "adapt_after", False):
        synthetic_file("val", float(cfg.adapt.domain), _root(cfg))
        synthetic_file("test", float(cfg.adapt.domain), _root(cfg))


def split_reference(ds: SceneDataset, n_reference: int) -> tuple[SceneDataset, SceneDataset]:
    """``(reference, scored)``: the first ``n_reference`` scenes and the rest.

    Raises:
        ConfigError: when the references would take half of the scenes or more (a small test scene such as
            ETH, 70 windows, would be scored on a handful): lower ``eval.reference_scenes`` (0 when no
            evaluated method reads reference scenes).
    """
    if n_reference and 2 * n_reference >= len(ds):
        name = ",".join(ds.domain_names)
        raise ConfigError(
            f"eval.reference_scenes={n_reference} would leave {max(len(ds) - n_reference, 0)} of the {len(ds)} "
            f"test scenes of '{name}' to score; use fewer reference scenes (0 if no method reads them)"
        )
    return ds.subset(slice(0, n_reference)), ds.subset(slice(n_reference, None))


def adaptation_pool(cfg: Any) -> SceneDataset:
    """Scenes the low-shot adaptation may draw from: ``val/`` of the target radius (synthetic only)."""
    if cfg.data.name != "synthetic":
        raise ConfigError("forecast adapt: low-shot adaptation is defined for data=synthetic (target radius)")
    return load_synthetic("val", [float(cfg.adapt.domain)], _root(cfg), _max(cfg))


def adaptation_target(cfg: Any) -> SceneDataset:
    """Test scenes of the adaptation target radius."""
    return load_synthetic("test", [float(cfg.adapt.domain)], _root(cfg), _max(cfg))


def draw_adaptation_scenes(pool: SceneDataset, n_scenes: int, seed: int) -> SceneDataset:
    """``n_scenes`` scenes drawn without replacement (nested: a larger draw contains every smaller one)."""
    if n_scenes > len(pool):
        raise ConfigError(f"adaptation needs {n_scenes} scenes but the pool has {len(pool)}")
    order = np.random.default_rng(seed).permutation(len(pool))
    return pool.subset(np.sort(order[:n_scenes]))
