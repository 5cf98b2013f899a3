"""``orca_residual``: a physics-structured hybrid -- the ORCA mechanism plus a learned residual (issue 14, item 1).

The invariant part is ``orca_style``'s mechanism: ORCA rolled out with a style (radius, speed, time horizon)
inferred from reference scenes, goals from the observed heading. The learned part is the shared backbone
(encoder, graph attention, MLP decoder) predicting per-step *corrections* to the mechanism's displacements;
its last layer starts at zero, so an untrained model is exactly ``orca_style``. Trained with the pooled squared
error (ERM) on the training radii only.

- Styles: training scenes use their domain's style, estimated once (``prepare``) from the domain's first
  ``model.orca_fit_scenes`` training scenes (the references the trainer's validation uses as well); scored
  scenes use their test domain's reference scenes, like ``orca_style`` and causal motion. A *training* batch
  of a domain with neither (low-shot adaptation scenes) estimates it from its own complete scenes; a
  *prediction* never does (that would read the scored scenes' futures): without reference scenes an
  unknown domain gets the default style, as in ``orca_style``.
- ``model.residual_reads_mechanism``: the decoder also reads the mechanism's predicted displacements (so the
  correction can depend on the avoidance the mechanism predicts); off, it reads the observed context only.
- Low-shot adaptation fine-tunes the residual's decoder; the adaptation scenes are the mechanism's references.
- The mechanism's roll-outs of training scenes are cached (the training set is fixed), so a training step
  costs about an ERM step after the first epoch.
- Devices: the mechanism is numpy and runs on the host whatever ``device`` says; the residual (backbone) runs
  on the method's device. Each call of :meth:`OrcaResidual.mechanism_positions` copies the batch's observed
  positions, agent mask and domain ids to the host (small copies; the cache is keyed on them), rolls out there
  and copies the roll-out to the batch's device in one transfer; the training styles are read from their buffer
  in one transfer too. On the CPU these copies cost nothing.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from forecasting.batch import SceneBatch
from forecasting.data import SceneDataset
from forecasting.mechanism import OrcaStyle, rollout_scenes
from forecasting.models.base import ForecastMethod, Metric, register
from forecasting.models.erm import PooledRisk
from forecasting.models.orca_style import OrcaStyleMethod

#: most cached mechanism roll-outs (training scenes); the cache is cleared beyond it
CACHE_LIMIT = 50_000


@register("orca_residual")
class OrcaResidual(PooledRisk):
    """ORCA with inferred style + a zero-initialised learned residual on the shared backbone."""

    def __init__(self, cfg, domain_names, extra_channels=0, total_steps=1):
        ForecastMethod.__init__(self, cfg, domain_names, extra_channels, total_steps)
        self.mechanism = OrcaStyleMethod(cfg, domain_names, extra_channels, total_steps)
        self.reads_mechanism = bool(cfg.residual_reads_mechanism)
        self.backbone = self.make_backbone(cond_dim=24 if self.reads_mechanism else 0)
        if self.backbone.decoder.kind != "mlp":
            from causal_priors.errors import ConfigError

            raise ConfigError("model.decoder: orca_residual needs the mlp decoder (per-step corrections)")
        last = self.backbone.decoder.body[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.register_buffer("train_styles", torch.full((len(self.domain_names), 3), float("nan"), dtype=torch.float64))
        self._rollouts: dict[bytes, np.ndarray] = {}

    def prepare(self, train: SceneDataset) -> None:
        """Estimate each training domain's style (and the mechanism's default style) from the training scenes."""
        n = int(self.cfg.orca_fit_scenes)
        self.mechanism.fit_default_style(train)
        for name, ds in train.by_domain().items():
            part = ds.subset(slice(0, n))
            style = self.mechanism._estimate(part.positions.astype(np.float64), part.agent_mask, part.obs_len)
            row = torch.tensor(style.as_list(), dtype=torch.float64, device=self.train_styles.device)
            self.train_styles[self.domain_names.index(name)] = row

    def _style(
        self,
        batch: SceneBatch,
        d: int,
        reference: SceneBatch | None,
        training: bool,
        train_styles: list[list[float]] | None = None,
    ) -> OrcaStyle:
        """Domain ``d``'s style: reference scenes, else the training style, else (training only) the batch's own.

        ``train_styles``: the ``train_styles`` buffer already read on the host (read here when None)."""
        if train_styles is None:
            train_styles = self.train_styles.tolist()
        name = batch.domain_names[d]
        if reference is not None:
            return self.mechanism.reference_style(name, reference)
        if name in self.domain_names:
            row = train_styles[self.domain_names.index(name)]
            if all(np.isfinite(row)):
                return OrcaStyle(*row)
        if not training:  # a prediction must not read the futures of the scenes it predicts
            return self.mechanism.style()
        own = batch.select(batch.domain == d)  # low-shot adaptation scenes of a new domain (training data)
        return self.mechanism.reference_style(name, own)

    def mechanism_positions(
        self, batch: SceneBatch, reference: SceneBatch | None, training: bool = False
    ) -> torch.Tensor:
        """``(B, K, P, 2)`` the mechanism's roll-out of the *observed* steps (cached per scene for training
        batches). ``training``: a batch of an unknown domain without references may take its style from its
        own complete scenes (adaptation); otherwise such a domain gets the default style."""
        c = self.cfg
        observed = batch.observed.cpu().numpy().astype(np.float64)
        mask = batch.agent_mask.cpu().numpy()
        domain = batch.domain.cpu().numpy()
        use_cache = reference is None and batch.domain_names == self.domain_names
        # keyed on the real agents only: batches grouped by agent count pad the same scene to different widths
        keys = [observed[i][mask[i]].tobytes() + bytes([int(domain[i])]) for i in range(len(domain))]
        out = np.repeat(observed[:, :, -1:], batch.pred_len, axis=2)  # padded agents: last observed position
        todo = np.ones(len(domain), dtype=bool)
        train_styles = self.train_styles.tolist() if reference is None else []
        if use_cache:
            for i, key in enumerate(keys):
                hit = self._rollouts.get(key)
                if hit is not None:
                    out[i][mask[i]], todo[i] = hit, False
        for d in np.unique(domain[todo]):
            sel = np.flatnonzero(todo & (domain == d))
            out[sel] = rollout_scenes(
                observed[sel],
                mask[sel],
                self._style(batch, int(d), reference, training, train_styles),
                observed_speed=c.orca_speed == "observed",
                pred_len=batch.pred_len,
                substeps=int(c.orca_substeps),
                goal_distance=float(c.orca_goal_distance),
                max_neighbours=int(c.orca_neighbours),
                heading=str(c.orca_heading),
            )
        if use_cache:
            if len(self._rollouts) > CACHE_LIMIT:
                self._rollouts.clear()
            for i in np.flatnonzero(todo):
                self._rollouts[keys[i]] = out[i][mask[i]].copy()
        return torch.from_numpy(out).to(device=batch.positions.device, dtype=batch.positions.dtype)

    def hybrid(self, batch: SceneBatch, reference: SceneBatch | None, training: bool = False) -> torch.Tensor:
        """Mechanism positions plus the cumulated learned per-step corrections."""
        orca = self.mechanism_positions(batch, reference, training)
        context = self.backbone.encode(batch)
        if self.reads_mechanism:
            steps = torch.diff(orca, dim=-2, prepend=batch.last_observed.unsqueeze(-2))
            context = torch.cat([context, steps.flatten(-2) * batch.agent_mask[..., None]], dim=-1)
        zero = torch.zeros_like(batch.last_observed)
        correction = self.backbone.decoder(context, zero)  # (B, K, P, 2): zero "constant velocity" + deltas
        return orca + torch.cumsum(correction, dim=-2)

    def loss(self, batch: SceneBatch, step: int) -> tuple[torch.Tensor, dict[str, Metric]]:
        pred = self.hybrid(batch, None, training=True)
        total, metrics = self.risk_and_penalty(batch, pred, step)
        metrics["loss"] = total.detach()
        return total, metrics

    def predict(self, batch, num_samples=None, reference=None):
        return self.repeat_samples(self.hybrid(batch, reference), num_samples)

    def adaptation_parameters(self) -> list[nn.Parameter]:
        """The residual's decoder (the mechanism has none; its references are the adaptation scenes)."""
        return list(self.backbone.decoder.parameters())
