"""``orca_style``: the ORCA mechanism with a style inferred from each environment's reference scenes.

No training: the invariant part is the project's ORCA (``envs.orca``); the domain-specific part, the style
(radius, preferred speed, time horizon), is estimated by ``forecasting.mechanism.estimate_style`` from the
complete trajectories of the test environment's reference scenes -- the same scenes, and so the same
information budget, as causal motion's style encoder. Goals come from the observed motion only.

- ``predict(batch, reference=...)``: each scene is rolled out with the style of its environment's
  reference scenes; an environment without reference scenes (the ETH/UCY studies use none) gets the
  *default style*, estimated from the pooled training scenes by :meth:`OrcaStyleMethod.fit_default_style`
  (what ``forecast train model=orca_style`` does instead of gradient steps).
- Low-shot adaptation = more reference scenes: the method has no adaptation parameters
  (``trainable = False``); ``forecast adapt`` passes the adaptation scenes as references.
- The style is held in buffers (``default_style``), so ``model.pt`` round-trips like any other method.
- Devices: the mechanism is numpy, so it runs on the host whatever ``device`` says; ``predict`` copies the
  batch's observed steps (and reference scenes) to the host, rolls out there and returns the positions on the
  batch's device in one transfer.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import nn

from forecasting.batch import SceneBatch
from forecasting.data import SceneDataset
from forecasting.mechanism import HEADINGS, OrcaStyle, estimate_style, rollout_scenes
from forecasting.models.base import ForecastMethod, register


@register("orca_style")
class OrcaStyleMethod(ForecastMethod):
    """ORCA roll-out with a per-environment style inferred from reference scenes (deterministic)."""

    trainable = False

    def __init__(self, cfg, domain_names, extra_channels=0, total_steps=1):
        super().__init__(cfg, domain_names, extra_channels, total_steps)
        if str(cfg.orca_speed) not in ("style", "observed"):
            from causal_priors.errors import ConfigError

            raise ConfigError(f"model.orca_speed: expected 'style' or 'observed', got {cfg.orca_speed!r}")
        if str(cfg.orca_heading) not in HEADINGS:
            from causal_priors.errors import ConfigError

            raise ConfigError(f"model.orca_heading: expected one of {HEADINGS}, got {cfg.orca_heading!r}")
        initial = OrcaStyle(float(cfg.orca_radius), 1.0, 2.0)
        self.register_buffer("default_style", torch.tensor(initial.as_list(), dtype=torch.float64))
        self._cache: dict[str, OrcaStyle] = {}

    # -- style -------------------------------------------------------------------------------------------
    def _estimate(self, positions: np.ndarray, mask: np.ndarray, obs_len: int) -> OrcaStyle:
        c = self.cfg
        key = hashlib.sha1(positions.tobytes() + mask.tobytes() + repr(obs_len).encode()).hexdigest()
        if key not in self._cache:
            self._cache[key] = estimate_style(
                positions,
                mask,
                obs_len=obs_len,
                horizons=[float(h) for h in c.orca_time_horizons],
                substeps=int(c.orca_substeps),
                goal_distance=float(c.orca_goal_distance),
                fallback=self.style(),
                heading=str(c.orca_heading),
                observed_speed=str(c.orca_speed) == "observed",
            )
        return self._cache[key]

    def style(self) -> OrcaStyle:
        """The default style (from the training environments once fitted)."""
        r, s, t = self.default_style.tolist()
        return OrcaStyle(r, s, t)

    def fit_default_style(self, scenes: SceneDataset, max_scenes: int = 0, seed: int = 0) -> OrcaStyle:
        """Estimate the default style from (a seeded draw of ``max_scenes`` of) pooled training scenes."""
        n = int(max_scenes) or int(self.cfg.orca_fit_scenes)
        idx = np.sort(np.random.default_rng(seed).permutation(len(scenes))[: min(n, len(scenes))])
        part = scenes.subset(idx)
        style = self._estimate(part.positions.astype(np.float64), part.agent_mask, part.obs_len)
        self.default_style.copy_(torch.tensor(style.as_list(), dtype=torch.float64, device=self.default_style.device))
        return style

    def reference_style(self, name: str, reference: SceneBatch | None) -> OrcaStyle:
        """The style of environment ``name`` from its reference scenes (the default style when it has none)."""
        if reference is None or name not in reference.domain_names:
            return self.style()
        sel = (reference.domain == reference.domain_names.index(name)).cpu().numpy()
        if not sel.any():
            return self.style()
        n = int(self.cfg.orca_fit_scenes)
        positions = reference.positions.cpu().numpy()[sel][:n].astype(np.float64)
        return self._estimate(positions, reference.agent_mask.cpu().numpy()[sel][:n], reference.obs_len)

    # -- ForecastMethod ----------------------------------------------------------------------------------
    def loss(self, batch: SceneBatch, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError("orca_style has no training objective (its style is estimated, not trained)")

    @torch.no_grad()
    def predict(self, batch, num_samples=None, reference=None):
        observed = batch.observed.cpu().numpy().astype(np.float64)
        mask = batch.agent_mask.cpu().numpy()
        domain = batch.domain.cpu().numpy()
        out = np.zeros((*mask.shape, batch.pred_len, 2))
        for d in np.unique(domain):
            sel = np.flatnonzero(domain == d)
            out[sel] = rollout_scenes(
                observed[sel],
                mask[sel],
                self.reference_style(batch.domain_names[int(d)], reference),
                observed_speed=self.cfg.orca_speed == "observed",
                pred_len=batch.pred_len,
                substeps=int(self.cfg.orca_substeps),
                goal_distance=float(self.cfg.orca_goal_distance),
                max_neighbours=int(self.cfg.orca_neighbours),
                heading=str(self.cfg.orca_heading),
            )
        pred = torch.from_numpy(out).to(device=batch.positions.device, dtype=batch.positions.dtype)
        return self.repeat_samples(pred, num_samples)

    def adaptation_parameters(self) -> list[nn.Parameter]:
        """None: low-shot adaptation feeds the adaptation scenes as reference scenes instead."""
        return []
