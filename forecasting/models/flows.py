"""RealNVP affine coupling flows (Dinh et al. 2017) for GCRL's latents.

``Flow(dim, layers)`` maps a latent ``x`` to ``u = f(x)`` and returns ``log |det df/dx|`` so that
``log p(x) = log p_base(u) + logdet``. Layers alternate which half of the coordinates is transformed; the
log-scales pass through ``tanh`` to keep the flow well conditioned at initialisation and in training.
"""

from __future__ import annotations

import torch
from torch import nn

from forecasting.models.backbone import mlp


class AffineCoupling(nn.Module):
    """``y_b = x_b * exp(s(x_a)) + t(x_a)`` on the coordinates where ``mask`` is False; ``y_a = x_a``."""

    def __init__(self, dim: int, mask: torch.Tensor, hidden: int = 32) -> None:
        super().__init__()
        self.register_buffer("mask", mask.float())
        self.net = mlp([dim, hidden, hidden, 2 * dim])
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xa = x * self.mask
        s, t = self.net(xa).chunk(2, dim=-1)
        s = torch.tanh(s) * (1 - self.mask)
        t = t * (1 - self.mask)
        y = xa + (1 - self.mask) * (x * torch.exp(s) + t)
        return y, s.sum(-1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        ya = y * self.mask
        s, t = self.net(ya).chunk(2, dim=-1)
        s = torch.tanh(s) * (1 - self.mask)
        t = t * (1 - self.mask)
        return ya + (1 - self.mask) * ((y - t) * torch.exp(-s))


class Flow(nn.Module):
    """A stack of ``layers`` affine couplings with alternating masks (``dim >= 2``)."""

    def __init__(self, dim: int, layers: int = 2, hidden: int = 32) -> None:
        super().__init__()
        if dim < 2:
            raise ValueError(f"a coupling flow needs a latent of size >= 2, got {dim}")
        base = torch.arange(dim) % 2 == 0
        self.layers = nn.ModuleList(AffineCoupling(dim, base if i % 2 == 0 else ~base, hidden) for i in range(layers))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` ``(..., dim)`` -> ``(u, logdet)`` with ``logdet`` ``(...)``."""
        logdet = torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, u: torch.Tensor) -> torch.Tensor:
        for layer in reversed(self.layers):
            u = layer.inverse(u)
        return u
