"""Causal motion (Liu et al., CVPR 2022): invariant predictor + style encoder + style-modulated decoder.

- The *invariant* part is the shared backbone trained with the pooled risk plus a V-REx penalty.
- A separate *style encoder* reads complete trajectories (observed + future) of reference scenes of an
  environment and outputs a style vector; a projection head feeds the supervised contrastive loss
  (environment label = class), so styles of one environment cluster and others separate.
- The decoder is FiLM-modulated by the environment's style: ``h -> gamma(s) * h + beta(s)``, and (with
  ``model.style_output_scale``) each step's deviation from constant velocity is scaled by ``1 + a_t(s)``.
  The style -> modulation map is linear by default (``model.film_hidden = 0``) so that styles beyond the
  training ones extrapolate smoothly; it starts at the identity.
- Staged training (fractions of the run, ``model.stage_fractions = [a, b]``): ``invariant`` (backbone only,
  no modulation) until ``a``, then ``style`` (style encoder + projection, contrastive loss only) until
  ``b``, then ``joint`` (everything, risk + penalty + contrastive).

In training, a scene's style is the mean style of the *other* scenes of its environment in the batch
(leave-one-out, so a scene never sees its own future). At prediction, the style is the mean over the
``reference`` scenes of the same environment. Low-shot adaptation fine-tunes only the modulation map (``film``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from causal_priors.errors import ConfigError
from forecasting.batch import OBS_LEN, PRED_LEN, SceneBatch
from forecasting.losses import domain_risks, scene_risk, supcon_loss, vrex_penalty
from forecasting.models.backbone import mlp
from forecasting.models.base import Metric, register
from forecasting.models.erm import PooledRisk


def nearest_neighbour_offsets(positions: torch.Tensor, agent_mask: torch.Tensor) -> torch.Tensor:
    """``(B, K, T, 2)`` position of each agent's nearest other real agent relative to it (0 when alone)."""
    rel = positions.unsqueeze(1) - positions.unsqueeze(2)  # [b, i, j, t] = x_j - x_i
    dist = rel.norm(dim=-1)
    k = positions.shape[1]
    invalid = torch.eye(k, dtype=torch.bool, device=positions.device).unsqueeze(0) | ~agent_mask.unsqueeze(1)
    dist = dist.masked_fill(invalid.unsqueeze(-1), float("inf"))
    idx = dist.argmin(dim=2, keepdim=True)  # (B, K, 1, T)
    gathered = torch.gather(rel, 2, idx.unsqueeze(-1).expand(-1, -1, -1, -1, 2)).squeeze(2)
    alone = torch.isinf(dist.min(dim=2).values).unsqueeze(-1)
    return gathered.masked_fill(alone, 0.0)


class StyleEncoder(nn.Module):
    """Complete scene trajectory -> style vector ``(B, style_dim)``.

    Per agent and step: its displacement, the offset to its nearest neighbour and that distance. Two paths
    give a per-agent code, averaged over the scene's real agents: an MLP over the flattened sequence, and
    (``linear_stats``) a *linear* map of the features' mean / min / max over time, so that e.g. a larger
    closest approach moves the style proportionally (styles of unseen environments extrapolate linearly).
    """

    def __init__(self, seq_len: int, hidden: int = 32, style_dim: int = 8, linear_stats: bool = False) -> None:
        super().__init__()
        self.agent = mlp([seq_len * 5, hidden, hidden])
        self.head = mlp([hidden, hidden, style_dim])
        self.linear = nn.Linear(3 * 5, style_dim) if linear_stats else None

    def forward(self, batch: SceneBatch) -> torch.Tensor:
        nn_off = nearest_neighbour_offsets(batch.positions, batch.agent_mask)[:, :, 1:]
        feats = torch.cat([batch.displacements, nn_off, nn_off.norm(dim=-1, keepdim=True)], dim=-1)
        code = torch.relu(self.agent(feats.flatten(2)))  # (B, K, H)
        m = batch.agent_mask.to(code.dtype).unsqueeze(-1)
        style = self.head((code * m).sum(1) / m.sum(1).clamp_min(1.0))
        if self.linear is None:
            return style
        stats = torch.cat([feats.mean(2), feats.min(2).values, feats.max(2).values], dim=-1)  # (B, K, 15)
        return style + self.linear((stats * m).sum(1) / m.sum(1).clamp_min(1.0))


def leave_one_out_styles(styles: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
    """Each scene's style = mean of the other scenes of its environment (its own when it is alone)."""
    ids, inverse = torch.unique(domain, return_inverse=True)
    sums = torch.zeros(len(ids), styles.shape[1], dtype=styles.dtype, device=styles.device).index_add(
        0, inverse, styles
    )
    counts = torch.zeros(len(ids), dtype=styles.dtype, device=styles.device).index_add(
        0, inverse, torch.ones_like(styles[:, 0])
    )
    n = counts[inverse].unsqueeze(-1)
    loo = (sums[inverse] - styles) / (n - 1).clamp_min(1.0)
    return torch.where(n > 1, loo, styles)


@register("causal_motion")
class CausalMotion(PooledRisk):
    """Invariant backbone (V-REx) + SupCon style encoder + FiLM-modulated decoder, trained in stages."""

    def __init__(self, cfg, domain_names, extra_channels=0, total_steps=1):
        super().__init__(cfg, domain_names, extra_channels, total_steps)
        seq_len = OBS_LEN + PRED_LEN - 1  # displacements of a complete scene
        self.style_encoder = StyleEncoder(seq_len, cfg.style_hidden, cfg.style_dim, cfg.style_linear_stats)
        self.projection = mlp([cfg.style_dim, cfg.style_hidden, cfg.proj_dim])
        self.n_scale = PRED_LEN if cfg.style_output_scale else 0
        self.n_film = cfg.decoder_hidden if cfg.style_film else 0
        if not (self.n_scale or self.n_film):
            raise ConfigError("causal_motion: model.style_film and model.style_output_scale are both off")
        out = 2 * self.n_film + self.n_scale
        film_sizes = [cfg.style_dim] + ([cfg.film_hidden] if cfg.film_hidden > 0 else []) + [out]
        self.film = mlp(film_sizes)  # linear by default: styles outside the training ones map smoothly
        nn.init.zeros_(self.film[-1].weight)
        nn.init.zeros_(self.film[-1].bias)

    def penalty(self, batch, pred, risk):
        return vrex_penalty(domain_risks(risk, batch.domain))

    def stage(self, step: int) -> str:
        a, b = (float(f) for f in self.cfg.stage_fractions)
        if step < a * self.total_steps:
            return "invariant"
        if step < b * self.total_steps:
            return "style"
        return "joint"

    def modulation(self, styles: torch.Tensor) -> dict[str, Any]:
        """``(B, style_dim)`` -> decoder keywords: FiLM ``(gamma, beta)`` ``(B, 1, H)`` and, with
        ``model.style_output_scale``, a per-step scale ``(B, 1, pred_len, 1)`` of the deviation from constant
        velocity (how strongly the environment's style bends the path). All start at the identity."""
        out = self.film(styles).unsqueeze(1)
        d = self.n_film
        kw: dict[str, Any] = {"film": (1.0 + out[..., :d], out[..., d : 2 * d])} if d else {}
        if self.n_scale:
            kw["out_scale"] = (1.0 + out[..., 2 * d :]).unsqueeze(-1)
        return kw

    def contrastive(self, batch: SceneBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """(style vectors ``(B, S)``, SupCon loss on their projections)."""
        styles = self.style_encoder(batch)
        return styles, supcon_loss(self.projection(styles), batch.domain, float(self.cfg.temperature))

    def loss(self, batch: SceneBatch, step: int) -> tuple[torch.Tensor, dict[str, Metric]]:
        stage = self.stage(step)
        metrics: dict[str, Metric] = {"stage": float(("invariant", "style", "joint").index(stage))}
        if stage == "style":
            _, con = self.contrastive(batch)
            metrics.update(contrastive=con.detach(), loss=con.detach())
            return con, metrics
        kw: dict[str, Any] = {}
        con = None
        if stage == "joint":
            styles, con = self.contrastive(batch)
            kw = self.modulation(leave_one_out_styles(styles, batch.domain))
        backbone = self.backbone
        pred = backbone.decode(batch, backbone.encode(batch), **kw)
        total, m = self.risk_and_penalty(batch, pred, step)
        metrics.update(m)
        if con is not None:
            total = total + float(self.cfg.contrastive_weight) * con
            metrics["contrastive"] = con.detach()
        metrics["loss"] = total.detach()
        return total, metrics

    def reference_styles(self, batch: SceneBatch, reference: SceneBatch) -> torch.Tensor:
        """``(B, S)``: for each scene, the mean style of the reference scenes of its environment."""
        ref_styles = self.style_encoder(reference)
        per_domain = []
        for name in batch.domain_names:
            if name in reference.domain_names:
                sel = reference.domain == reference.domain_names.index(name)
                if bool(sel.any()):
                    per_domain.append(ref_styles[sel].mean(0))
                    continue
            per_domain.append(torch.full_like(ref_styles[0], float("nan")))
        table = torch.stack(per_domain)
        styles = table[batch.domain]
        if torch.isnan(styles).any():
            missing = sorted({batch.domain_names[int(d)] for d in batch.domain[torch.isnan(styles[:, 0])]})
            raise ValueError(f"causal_motion.predict: no reference scenes for environment(s) {missing}")
        return styles

    def predict(self, batch, num_samples=None, reference=None):
        if reference is None:
            raise ValueError("causal_motion.predict needs reference scenes of the batch's environments")
        kw = self.modulation(self.reference_styles(batch, reference))
        pred = self.backbone.decode(batch, self.backbone.encode(batch), **kw)
        return self.repeat_samples(pred, num_samples)

    def adaptation_parameters(self) -> list[nn.Parameter]:
        """Only the style-modulation (FiLM) layers adapt; the invariant backbone and style encoder stay."""
        return list(self.film.parameters())

    def adaptation_loss(self, batch: SceneBatch, step: int) -> tuple[torch.Tensor, dict[str, Metric]]:
        """Risk of the style-modulated prediction, styles from the other adaptation scenes (leave-one-out)."""
        with torch.no_grad():
            styles = leave_one_out_styles(self.style_encoder(batch), batch.domain)
        pred = self.backbone.decode(batch, self.backbone.encode(batch), **self.modulation(styles))
        risk = scene_risk(pred, batch.future, batch.agent_mask).mean()
        return risk, {"risk": risk.detach(), "loss": risk.detach()}


__all__ = ["CausalMotion", "StyleEncoder", "leave_one_out_styles", "nearest_neighbour_offsets"]
