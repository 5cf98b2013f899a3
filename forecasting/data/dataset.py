"""``SceneDataset``: numpy-backed scenes with domain labels, turned into ``SceneBatch`` tensors on demand.

Storage convention: real agents come first in every scene (``agent_mask[n, :k_n]`` is True, the rest
False) and padded slots hold zeros. Scenes are stored padded to the dataset's largest agent count; every
batch is trimmed to the largest agent count *of that batch*, so crowded scenes cost only where they are.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from causal_priors.errors import DataError
from forecasting.batch import OBS_LEN, SceneBatch

DATA_ENV_VAR = "CAUSAL_PRIORS_DATA"


def default_data_root() -> Path:
    """The data folder.

    ``$CAUSAL_PRIORS_DATA`` if set, else ``<repo>/../shared/data``, else ``<repo>/shared/data``.
    """
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        root = Path(env).expanduser()
        if not root.is_dir():
            raise DataError(f"{DATA_ENV_VAR}={env}: not a directory")
        return root
    repo = Path(__file__).resolve().parents[2]
    candidates = [repo.parent / "shared" / "data", repo / "shared" / "data"]
    for root in candidates:
        if root.is_dir():
            return root
    raise DataError(f"no data folder: set {DATA_ENV_VAR} or provide one of {', '.join(str(c) for c in candidates)}")


@dataclass(frozen=True, eq=False)
class SceneDataset:
    """Scenes with environment (domain) labels.

    Attributes:
        positions: ``(N, K, T, 2)`` float32 absolute positions (metres).
        agent_mask: ``(N, K)`` bool, real agents first in every scene.
        domain: ``(N,)`` int64 index into ``domain_names``.
        domain_names: the environment labels (e.g. ``("0.1", "0.3")`` or ``("hotel", "univ")``).
        extra: optional ``(N, K, obs_len, C)`` float32 extra input channels of the observed steps.
        obs_len: number of observed steps.
    """

    positions: np.ndarray
    agent_mask: np.ndarray
    domain: np.ndarray
    domain_names: tuple[str, ...]
    extra: np.ndarray | None = None
    obs_len: int = OBS_LEN

    def __post_init__(self) -> None:
        pos = np.asarray(self.positions, dtype=np.float32)
        if pos.ndim != 4 or pos.shape[-1] != 2:
            raise DataError(f"SceneDataset.positions: expected (N, K, T, 2), got {pos.shape}")
        n, k, t, _ = pos.shape
        mask = np.asarray(self.agent_mask, dtype=bool)
        dom = np.asarray(self.domain, dtype=np.int64)
        if mask.shape != (n, k):
            raise DataError(f"SceneDataset.agent_mask: expected {(n, k)}, got {mask.shape}")
        if dom.shape != (n,):
            raise DataError(f"SceneDataset.domain: expected ({n},), got {dom.shape}")
        names = tuple(str(x) for x in self.domain_names)
        if n and (dom.min() < 0 or dom.max() >= len(names)):
            raise DataError(f"SceneDataset.domain: indices must lie in [0, {len(names)}) for {names}")
        if not 1 < self.obs_len < t:
            raise DataError(f"SceneDataset.obs_len={self.obs_len} must be in (1, T={t})")
        extra = self.extra
        if extra is not None:
            extra = np.asarray(extra, dtype=np.float32)
            if extra.ndim != 4 or extra.shape[:3] != (n, k, self.obs_len):
                raise DataError(f"SceneDataset.extra: expected ({n}, {k}, {self.obs_len}, C), got {extra.shape}")
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "agent_mask", mask)
        object.__setattr__(self, "domain", dom)
        object.__setattr__(self, "domain_names", names)
        object.__setattr__(self, "extra", extra)

    def __len__(self) -> int:
        return self.positions.shape[0]

    @property
    def num_agents(self) -> np.ndarray:
        """``(N,)`` number of real agents per scene."""
        return self.agent_mask.sum(axis=1)

    def subset(self, indices: np.ndarray | Sequence[int] | slice) -> SceneDataset:
        """The scenes at ``indices`` (index array, boolean mask or slice); keeps ``domain_names``."""
        if not isinstance(indices, slice):
            indices = np.asarray(indices)
        mask = self.agent_mask[indices]
        k = max(int(mask.sum(axis=1).max(initial=0)), 1)
        return SceneDataset(
            positions=self.positions[indices][:, :k],
            agent_mask=mask[:, :k],
            domain=self.domain[indices],
            domain_names=self.domain_names,
            extra=None if self.extra is None else self.extra[indices][:, :k],
            obs_len=self.obs_len,
        )

    @classmethod
    def concat(cls, datasets: Sequence[SceneDataset]) -> SceneDataset:
        """Scenes of several datasets in order; domain names are merged (first-seen order), agents padded."""
        if not datasets:
            raise DataError("SceneDataset.concat: no datasets given")
        t, obs_len = datasets[0].positions.shape[2], datasets[0].obs_len
        has_extra = datasets[0].extra is not None
        names: list[str] = []
        for ds in datasets:
            if ds.positions.shape[2] != t or ds.obs_len != obs_len:
                raise DataError(
                    f"SceneDataset.concat: sequence lengths differ (T={ds.positions.shape[2]} vs {t}, "
                    f"obs_len={ds.obs_len} vs {obs_len})"
                )
            if (ds.extra is not None) != has_extra:
                raise DataError("SceneDataset.concat: either all datasets have `extra` channels or none")
            names += [x for x in ds.domain_names if x not in names]
        k = max(ds.positions.shape[1] for ds in datasets)

        def pad(a: np.ndarray) -> np.ndarray:
            return np.pad(a, [(0, 0), (0, k - a.shape[1])] + [(0, 0)] * (a.ndim - 2))

        return cls(
            positions=np.concatenate([pad(ds.positions) for ds in datasets]),
            agent_mask=np.concatenate([pad(ds.agent_mask) for ds in datasets]),
            domain=np.concatenate(
                [np.array([names.index(x) for x in ds.domain_names], dtype=np.int64)[ds.domain] for ds in datasets]
            ),
            domain_names=tuple(names),
            extra=np.concatenate([pad(ds.extra) for ds in datasets]) if has_extra else None,
            obs_len=obs_len,
        )

    def by_domain(self) -> dict[str, SceneDataset]:
        """One sub-dataset per domain present (in ``domain_names`` order); each keeps all ``domain_names``."""
        return {
            name: self.subset(np.flatnonzero(self.domain == i))
            for i, name in enumerate(self.domain_names)
            if np.any(self.domain == i)
        }

    def _batch(self, indices: np.ndarray) -> SceneBatch:
        mask = self.agent_mask[indices]
        k = max(int(mask.sum(axis=1).max(initial=0)), 1)
        return SceneBatch(
            positions=torch.from_numpy(np.ascontiguousarray(self.positions[indices][:, :k])),
            agent_mask=torch.from_numpy(np.ascontiguousarray(mask[:, :k])),
            domain=torch.from_numpy(self.domain[indices]),
            domain_names=self.domain_names,
            extra=None if self.extra is None else torch.from_numpy(np.ascontiguousarray(self.extra[indices][:, :k])),
            obs_len=self.obs_len,
        )

    def to_batch(self) -> SceneBatch:
        """All scenes as one ``SceneBatch`` (padded to the largest agent count present)."""
        return self._batch(np.arange(len(self)))

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        rng: np.random.Generator | None = None,
        drop_last: bool = False,
        group_by_agents: int = 0,
    ) -> Iterator[SceneBatch]:
        """Iterate over ``SceneBatch`` es of ``batch_size`` scenes (order drawn from ``rng`` when shuffling).

        Each batch is padded only to its own largest agent count. With ``group_by_agents = G > 0`` (and
        shuffling), the shuffled scenes are taken in pools of ``G`` batches, each pool is sorted by agent
        count and cut into batches, and the batch order is shuffled again: batches hold scenes of similar
        size, so crowded data sets (ETH/UCY: 1 to 57 pedestrians) waste far less compute on padding.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if shuffle and rng is None:
            raise ValueError("batches(shuffle=True) needs an explicit rng (seeds control everything)")
        order = rng.permutation(len(self)) if shuffle else np.arange(len(self))
        stop = len(self) - len(self) % batch_size if drop_last else len(self)
        if shuffle and group_by_agents > 0:
            chunks = self._grouped_chunks(order[:stop], batch_size, group_by_agents, rng)
        else:
            chunks = [order[start : start + batch_size] for start in range(0, stop, batch_size)]
        for chunk in chunks:
            yield self._batch(chunk)

    def _grouped_chunks(
        self, order: np.ndarray, batch_size: int, pool_batches: int, rng: np.random.Generator
    ) -> list[np.ndarray]:
        """Batches of similar agent counts: sort pools of ``pool_batches`` batches, then shuffle the batches."""
        counts = self.num_agents
        pool = batch_size * pool_batches
        chunks: list[np.ndarray] = []
        for start in range(0, len(order), pool):
            part = order[start : start + pool]
            part = part[np.argsort(counts[part], kind="stable")]
            chunks.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
        return [chunks[i] for i in rng.permutation(len(chunks))]


def split_train_val(
    ds: SceneDataset, n_train_per_domain: int = 2400, seed: int = 0
) -> tuple[SceneDataset, SceneDataset]:
    """Fixed, seeded train/validation split made separately in each domain.

    For each domain present, its scenes (in dataset order) are permuted with
    ``np.random.default_rng([seed, crc32(domain_name)])``; the first ``n_train_per_domain`` of the
    permutation go to training, the rest to validation. Keying the generator on the domain *name* makes a
    domain's split independent of which other domains were loaded with it. Both outputs keep the
    original scene order and all ``domain_names``.

    Raises:
        DataError: a domain has no more than ``n_train_per_domain`` scenes (empty validation part).
    """
    train_idx, val_idx = [], []
    for i, name in enumerate(ds.domain_names):
        idx = np.flatnonzero(ds.domain == i)
        if idx.size == 0:
            continue
        if idx.size <= n_train_per_domain:
            raise DataError(
                f"split_train_val: domain {name!r} has {idx.size} scenes, needs more than "
                f"n_train_per_domain={n_train_per_domain}"
            )
        perm = np.random.default_rng([seed, zlib.crc32(name.encode())]).permutation(idx.size)
        train_idx.append(idx[perm[:n_train_per_domain]])
        val_idx.append(idx[perm[n_train_per_domain:]])
    if not train_idx:
        raise DataError("split_train_val: the dataset is empty")
    return ds.subset(np.sort(np.concatenate(train_idx))), ds.subset(np.sort(np.concatenate(val_idx)))
