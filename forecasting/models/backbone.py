"""The one shared backbone: per-agent LSTM encoder, graph attention across a scene's agents, and a decoder.

Every method reuses these pieces. The encoder reads relative displacements (plus optional extra channels),
the interaction module attends over the other real agents of the scene using their *relative* positions and
velocities, and the decoder rolls out future displacements, which :func:`forecasting.batch.rollout_positions`
turns into absolute positions. Nothing reads absolute positions, so every model is translation invariant.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from forecasting.batch import SceneBatch, rollout_positions


def mlp(sizes: list[int], act: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """A plain MLP with ``act`` between layers (none after the last)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def encoder_inputs(batch: SceneBatch) -> torch.Tensor:
    """``(B, K, obs_len - 1, 2 + C)``: observed displacements, with extra channels aligned to their end step."""
    disp = batch.observed_displacements
    if batch.extra is None:
        return disp
    return torch.cat([disp, batch.extra[:, :, 1:]], dim=-1)


class GraphAttention(nn.Module):
    """One head of scaled dot-product attention from each agent to every real agent of its scene.

    Keys and values carry the neighbour's hidden state and an embedding of its position and last
    displacement relative to the attending agent; padded agents are masked out (each agent always sees
    itself, so the softmax is defined for lone agents).
    """

    def __init__(self, hidden: int, rel_dim: int = 16) -> None:
        super().__init__()
        self.rel = mlp([4, rel_dim, rel_dim])
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden + rel_dim, hidden)
        self.value = nn.Linear(hidden + rel_dim, hidden)
        self.scale = 1.0 / math.sqrt(hidden)

    def forward(self, h: torch.Tensor, batch: SceneBatch) -> torch.Tensor:
        """``h``: ``(B, K, H)`` per-agent states -> ``(B, K, H)`` aggregated messages."""
        last = batch.last_observed
        vel = batch.observed_displacements[:, :, -1]
        rel_pos = last.unsqueeze(1) - last.unsqueeze(2)  # [b, i, j] = x_j - x_i
        rel_vel = vel.unsqueeze(1) - vel.unsqueeze(2)
        rel = self.rel(torch.cat([rel_pos, rel_vel], dim=-1))  # (B, K, K, R)
        keys = self._pairwise(self.key, h, rel)
        scores = (self.query(h).unsqueeze(2) * keys).sum(-1) * self.scale  # (B, K, K)
        k = h.shape[1]
        eye = torch.eye(k, dtype=torch.bool, device=h.device)
        allowed = batch.agent_mask.unsqueeze(1) | eye
        scores = scores.masked_fill(~allowed, float("-inf"))
        attn = torch.softmax(scores, dim=-1)
        return (attn.unsqueeze(-1) * self._pairwise(self.value, h, rel)).sum(2)

    @staticmethod
    def _pairwise(layer: nn.Linear, h: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
        """``layer([h_j, rel_ij])`` for every pair, as ``W_h h_j`` (once per agent) + ``W_r rel_ij``.

        The same function as applying ``layer`` to the concatenation, without building the ``(B, K, K, H+R)``
        input: crowded scenes (ETH/UCY, up to 57 pedestrians) cost a third of the multiply-adds.
        """
        hidden = h.shape[-1]
        per_agent = nn.functional.linear(h, layer.weight[:, :hidden], layer.bias)  # (B, K, H)
        return per_agent.unsqueeze(1) + nn.functional.linear(rel, layer.weight[:, hidden:])


class SceneEncoder(nn.Module):
    """Per-agent LSTM over observed displacements + graph attention -> ``(B, K, 2H)`` context."""

    def __init__(self, hidden: int = 32, embed: int = 16, extra_channels: int = 0, attention: bool = True):
        super().__init__()
        self.embed = nn.Linear(2 + extra_channels, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.interaction = GraphAttention(hidden) if attention else None
        self.out_dim = 2 * hidden

    def forward(self, batch: SceneBatch) -> torch.Tensor:
        x = encoder_inputs(batch)
        mask = batch.agent_mask
        if bool(mask.all()):
            b, k, t, c = x.shape
            _, (h, _) = self.lstm(torch.relu(self.embed(x.reshape(b * k, t, c))))
            h = h[-1].reshape(b, k, -1)
        else:  # only real agents go through the LSTM; padded slots get a zero state (attention masks them)
            _, (h_real, _) = self.lstm(torch.relu(self.embed(x[mask])))
            h = h_real.new_zeros(*mask.shape, h_real.shape[-1]).masked_scatter(mask.unsqueeze(-1), h_real[-1])
        msg = self.interaction(h, batch) if self.interaction is not None else torch.zeros_like(h)
        return torch.cat([h, msg], dim=-1)


class Decoder(nn.Module):
    """Context (+ conditioning vector) -> ``(..., pred_len, 2)`` displacements; optional FiLM modulation.

    ``kind="mlp"`` predicts all steps at once; ``kind="lstm"`` rolls an LSTM cell out step by step, feeding
    back its own displacement. FiLM (``gamma``, ``beta`` of size ``hidden``) scales and shifts the hidden
    features (the MLP's first layer, or every LSTM output before the read-out).
    """

    def __init__(self, in_dim: int, hidden: int = 64, pred_len: int = 12, kind: str = "mlp") -> None:
        super().__init__()
        if kind not in ("mlp", "lstm"):
            raise ValueError(f"model.decoder: expected 'mlp' or 'lstm', got {kind!r}")
        self.kind, self.pred_len, self.hidden = kind, pred_len, hidden
        if kind == "mlp":
            self.inp = nn.Linear(in_dim, hidden)
            self.body = mlp([hidden, hidden, pred_len * 2])
        else:
            self.inp = nn.Linear(in_dim, hidden)
            self.cell = nn.LSTMCell(2, hidden)
            self.read = nn.Linear(hidden, 2)

    def forward(
        self,
        context: torch.Tensor,
        last_disp: torch.Tensor,
        film: tuple[torch.Tensor, torch.Tensor] | None = None,
        out_scale: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``context``: ``(..., in_dim)``; ``last_disp``: ``(..., 2)`` the last observed displacement.

        ``out_scale`` (``(..., pred_len, 1)``, optional) multiplies each step's predicted deviation from
        constant velocity (isotropic, so rotation and translation invariance are kept).
        """
        lead = context.shape[:-1]
        if self.kind == "mlp":
            h = self.inp(context)
            if film is not None:
                h = film[0] * h + film[1]
            delta = self.body(torch.relu(h)).reshape(*lead, self.pred_len, 2)
            if out_scale is not None:
                delta = delta * out_scale
            return last_disp.unsqueeze(-2) + delta  # residual on constant velocity
        ctx = context.reshape(-1, context.shape[-1])
        h = torch.tanh(self.inp(ctx))
        c = torch.zeros_like(h)
        d = last_disp.expand(*lead, 2).reshape(-1, 2)
        gamma = beta = None
        if film is not None:
            gamma = film[0].expand(*lead, self.hidden).reshape(-1, self.hidden)
            beta = film[1].expand(*lead, self.hidden).reshape(-1, self.hidden)
        scale = None
        if out_scale is not None:
            scale = out_scale.expand(*lead, self.pred_len, 1).reshape(-1, self.pred_len, 1)
        outs = []
        for t in range(self.pred_len):
            h, c = self.cell(d, (h, c))
            feat = h if gamma is None else gamma * h + beta
            step = self.read(feat)
            d = d + (step if scale is None else scale[:, t] * step)  # residual: constant velocity by default
            outs.append(d)
        return torch.stack(outs, dim=-2).reshape(*lead, self.pred_len, 2)


class Backbone(nn.Module):
    """Encoder + interaction + decoder predicting future displacements (the ERM model).

    Args:
        hidden: LSTM hidden size (the context is ``2 * hidden``).
        embed: input embedding size.
        extra_channels: number of extra observed channels (``SceneBatch.extra``).
        attention: use the graph-attention interaction module.
        decoder: ``"mlp"`` or ``"lstm"``.
        decoder_hidden: decoder width (also the FiLM size).
        cond_dim: size of an extra conditioning vector concatenated to the context (latents, noise).
        pred_len: predicted steps.
    """

    def __init__(
        self,
        hidden: int = 32,
        embed: int = 16,
        extra_channels: int = 0,
        attention: bool = True,
        decoder: str = "mlp",
        decoder_hidden: int = 64,
        cond_dim: int = 0,
        pred_len: int = 12,
    ) -> None:
        super().__init__()
        self.encoder = SceneEncoder(hidden, embed, extra_channels, attention)
        self.decoder = Decoder(self.encoder.out_dim + cond_dim, decoder_hidden, pred_len, decoder)

    def encode(self, batch: SceneBatch) -> torch.Tensor:
        """``(B, K, 2H)`` interaction-aware context."""
        return self.encoder(batch)

    def decode(
        self,
        batch: SceneBatch,
        context: torch.Tensor,
        cond: torch.Tensor | None = None,
        film: tuple[torch.Tensor, torch.Tensor] | None = None,
        out_scale: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Absolute future positions ``(..., B, K, pred_len, 2)`` (leading sample dims follow ``cond``)."""
        if cond is not None:
            context = torch.cat([context.expand(*cond.shape[:-1], context.shape[-1]), cond], dim=-1)
        disp = self.decoder(context, batch.observed_displacements[:, :, -1], film, out_scale)
        return rollout_positions(batch.last_observed, disp)

    def forward(self, batch: SceneBatch) -> torch.Tensor:
        """Deterministic prediction ``(B, K, pred_len, 2)``."""
        return self.decode(batch, self.encode(batch))
