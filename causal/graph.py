"""The factored causal graph of an MDP and the CIP weights derived from it.

Blocks (all coefficients are on standardised variables, so they are comparable across dims):

* ``reward_state_coef`` / ``reward_action_coef``: signed coefficients of ``s_i -> r`` and ``a_k -> r``;
* ``transition_coef``: ``|S| x (|S| + |A|)``, row ``j`` holds the parents of ``s'_j`` among ``[s | a]``;
* the ``*_edges`` booleans are the non-zero pattern of those blocks.

Weights (ACE/CIP): ``w = n * softmax(x / T)`` over the fitted (non-dropped) dims of a block, so that a
block with ``n`` dims sums to ``n`` and a flat block gives weight 1 everywhere. We use ``|b|`` (a strong
negative effect is still a strong effect; the released CIP code used signed values). The scale ``x`` is
``weight_scale``:

* ``relative`` (default): ``x = |b| / max |b|`` over the block's kept dims, so the strongest dim has ``x = 1``
  and ``T`` alone sets the spread (the largest ratio ``w_max / w_min`` is ``exp(1 / T)``) on any reward scale.
  On standardised data the coefficients are small (|b| < 1), so the spec's absolute rule at T = 1 gives
  nearly flat weights (0.95 / 1.05 on Reacher and HalfCheetah): ACE would be SAC by construction.
* ``absolute``: the spec's ``x = |b|`` (the earlier default; reproduces old results with T = 1). Dropped (constant
or collinear) dims: state dims get weight 0 and the remaining state weights are rescaled so that the
block still sums to ``|S|``; dropped action dims get weight 1 and the remaining action weights share
``|A| - n_dropped``, so that every action dim keeps a positive entropy weight and the block sums to
``|A|``. A single action dim therefore always gets ``w_a = [1.0]``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DEFAULT_TEMPERATURE", "WEIGHT_SCALES", "FactoredGraph", "cip_weights", "max_over_min", "uniform_graph"]

WEIGHT_SCALES = ("relative", "absolute")
"""How coefficients are scaled before the softmax (see the module doc)."""

DEFAULT_TEMPERATURE = 0.5
"""Default ``T`` with the relative scale: the strongest dim of a block gets up to ``exp(2) = 7.4`` times the
weight of a dim without effect (chosen on Hopper / HalfCheetah graphs: T = 1 gives at most 2.7x, T = 0.25 up to
55x, which starves the weakest action dims of entropy)."""


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max())
    return z / z.sum()


def cip_weights(
    coef: np.ndarray,
    dropped: list[int],
    temperature: float,
    *,
    dropped_value: float,
    scale: str = "relative",
) -> np.ndarray:
    """``n * softmax(x / T)`` over the kept dims, ``x`` = ``|coef|`` scaled by ``scale`` (see module doc);
    dropped dims get ``dropped_value``.

    The block always sums to ``n = len(coef)``: the kept dims share ``n - dropped_value * len(dropped)``.
    A block whose kept coefficients are all zero gets flat weights under either scale.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if scale not in WEIGHT_SCALES:
        raise ValueError(f"weight scale must be one of {list(WEIGHT_SCALES)}, got '{scale}'")
    coef = np.asarray(coef, dtype=np.float64)
    n = coef.size
    w = np.full(n, float(dropped_value))
    keep = np.setdiff1d(np.arange(n), np.asarray(dropped, dtype=int))
    if keep.size:
        x = np.abs(coef[keep])
        if scale == "relative" and x.max() > 0:
            x = x / x.max()
        w[keep] = (n - dropped_value * (n - keep.size)) * _softmax(x / temperature)
    return w


def max_over_min(weights: np.ndarray) -> float:
    """Spread of a weight block: ``max / min`` over its positive entries (1.0 for a flat block)."""
    w = np.asarray(weights, dtype=np.float64)
    w = w[w > 0]
    return float(w.max() / w.min()) if w.size else 1.0


@dataclass
class FactoredGraph:
    """Reward and transition structure of an MDP, as fitted by :func:`causal.fit_factored_graph`."""

    state_dim: int
    action_dim: int
    reward_state_coef: np.ndarray
    reward_action_coef: np.ndarray
    reward_state_edges: np.ndarray
    reward_action_edges: np.ndarray
    transition_coef: np.ndarray | None
    transition_edges: np.ndarray | None
    causal_order: list[str]
    dropped_state: list[int]
    dropped_action: list[int]
    w_s: np.ndarray
    w_a: np.ndarray
    temperature: float = 1.0
    weight_scale: str = "absolute"
    """How |b| was scaled before the softmax (``relative`` or ``absolute``; graphs saved before the option
    existed were ``absolute``)."""
    method: str = "uniform"
    n_samples: int = 0
    fit_seconds: float = 0.0
    n_rows_dropped: int = 0
    """Rows removed because they held NaN or inf."""
    reward_constant: bool = False
    """True when the reward never varied in the data (no reward graph could be fitted; weights uniform)."""
    notes: list[str] = field(default_factory=list)

    def irrelevant_state_dims(self, threshold: float = 0.5, by_edges: bool = False) -> list[int]:
        """Reward-irrelevant state dims.

        Args:
            threshold: with ``by_edges=False``, dims whose weight is below this (default: half the uniform
                weight). On standardised coefficients the weights are flat unless ``T`` is small (e.g. with
                all ``|b| <= 0.3`` and ``T = 1`` every weight is above 0.5), so this finds nothing at ``T = 1``.
            by_edges: instead, dims without a pruned ``s_i -> r`` edge (dropped dims included); independent
                of the temperature.
        """
        if by_edges:
            return [int(i) for i in np.flatnonzero(~self.reward_state_edges)]
        return [int(i) for i in np.flatnonzero(self.w_s < threshold)]

    def reweighted(self, temperature: float, scale: str | None = None) -> FactoredGraph:
        """The same graph with weights recomputed at another temperature (and scale, if given)."""
        scale = self.weight_scale if scale is None else scale
        out = FactoredGraph(**{f.name: getattr(self, f.name) for f in fields(self)})
        out.temperature = float(temperature)
        out.weight_scale = scale
        out.w_s = cip_weights(self.reward_state_coef, self.dropped_state, temperature, dropped_value=0.0, scale=scale)
        out.w_a = cip_weights(self.reward_action_coef, self.dropped_action, temperature, dropped_value=1.0, scale=scale)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (arrays become nested lists)."""
        out = {}
        for key, value in asdict(self).items():
            out[key] = value.tolist() if isinstance(value, np.ndarray) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FactoredGraph:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError`` naming them."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown FactoredGraph keys {unknown}")
        kw = dict(data)
        for key in ("reward_state_coef", "reward_action_coef", "w_s", "w_a"):
            kw[key] = np.asarray(kw[key], dtype=np.float64)
        for key in ("reward_state_edges", "reward_action_edges"):
            kw[key] = np.asarray(kw[key], dtype=bool)
        if kw.get("transition_coef") is not None:
            kw["transition_coef"] = np.asarray(kw["transition_coef"], dtype=np.float64)
            kw["transition_edges"] = np.asarray(kw["transition_edges"], dtype=bool)
        return cls(**kw)

    def save_json(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as JSON, atomically (a synced temporary file renamed over ``path``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w") as fh:
            fh.write(json.dumps(self.to_dict(), indent=2))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)

    @classmethod
    def load_json(cls, path: str | Path) -> FactoredGraph:
        """Read a graph written by :meth:`save_json`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def uniform_graph(
    state_dim: int, action_dim: int, temperature: float = 1.0, weight_scale: str = "relative"
) -> FactoredGraph:
    """The graph before any fit: no edges, every weight 1."""
    return FactoredGraph(
        state_dim=state_dim,
        action_dim=action_dim,
        reward_state_coef=np.zeros(state_dim),
        reward_action_coef=np.zeros(action_dim),
        reward_state_edges=np.zeros(state_dim, dtype=bool),
        reward_action_edges=np.zeros(action_dim, dtype=bool),
        transition_coef=None,
        transition_edges=None,
        causal_order=[],
        dropped_state=[],
        dropped_action=[],
        w_s=np.ones(state_dim),
        w_a=np.ones(action_dim),
        temperature=float(temperature),
        weight_scale=weight_scale,
        method="uniform",
    )
