"""The one batch type every forecasting loader produces and every model consumes.

A batch holds ``B`` scenes padded to ``K`` agents. Positions are absolute (metres); models read the
relative displacements, which makes them translation invariant. Every synthetic scene has exactly 2
agents (no padding); ETH/UCY scenes vary, so ``agent_mask`` marks the real agents.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

OBS_LEN = 8
PRED_LEN = 12


@dataclass(frozen=True)
class SceneBatch:
    """Scenes for forecasting.

    Attributes:
        positions: ``(B, K, T, 2)`` float32 absolute positions, ``T = obs_len + pred_len``.
        agent_mask: ``(B, K)`` bool, True for real (non-padded) agents.
        domain: ``(B,)`` int64 index of the scene's environment (domain) in ``domain_names``.
        domain_names: the environment labels, e.g. ``("0.1", "0.3", "0.5")`` or ``("hotel", "univ")``.
        extra: optional ``(B, K, obs_len, C)`` float32 extra input channels for the observed steps
            (e.g. the spurious channel of the ETH/UCY robustness protocol); ``None`` when absent.
        obs_len: number of observed steps (default 8).
    """

    positions: torch.Tensor
    agent_mask: torch.Tensor
    domain: torch.Tensor
    domain_names: tuple[str, ...]
    extra: torch.Tensor | None = None
    obs_len: int = OBS_LEN

    def __post_init__(self) -> None:
        b, k, t, two = self.positions.shape
        if two != 2:
            raise ValueError(f"SceneBatch.positions: expected (B, K, T, 2), got {tuple(self.positions.shape)}")
        if self.agent_mask.shape != (b, k):
            raise ValueError(f"SceneBatch.agent_mask: expected {(b, k)}, got {tuple(self.agent_mask.shape)}")
        if self.domain.shape != (b,):
            raise ValueError(f"SceneBatch.domain: expected ({b},), got {tuple(self.domain.shape)}")
        if not 1 < self.obs_len < t:
            raise ValueError(f"SceneBatch.obs_len={self.obs_len} must be in (1, T={t})")
        if self.extra is not None and self.extra.shape[:3] != (b, k, self.obs_len):
            raise ValueError(f"SceneBatch.extra: expected ({b}, {k}, {self.obs_len}, C), got {tuple(self.extra.shape)}")

    @property
    def num_scenes(self) -> int:
        return self.positions.shape[0]

    @property
    def pred_len(self) -> int:
        return self.positions.shape[2] - self.obs_len

    @property
    def observed(self) -> torch.Tensor:
        """``(B, K, obs_len, 2)`` absolute observed positions."""
        return self.positions[:, :, : self.obs_len]

    @property
    def future(self) -> torch.Tensor:
        """``(B, K, pred_len, 2)`` absolute future positions (the targets)."""
        return self.positions[:, :, self.obs_len :]

    @property
    def last_observed(self) -> torch.Tensor:
        """``(B, K, 2)`` the last observed position, origin of the predicted roll-out."""
        return self.positions[:, :, self.obs_len - 1]

    @property
    def displacements(self) -> torch.Tensor:
        """``(B, K, T - 1, 2)`` step-to-step displacements over the whole sequence."""
        return self.positions[:, :, 1:] - self.positions[:, :, :-1]

    @property
    def observed_displacements(self) -> torch.Tensor:
        """``(B, K, obs_len - 1, 2)`` displacements inside the observed window."""
        return self.displacements[:, :, : self.obs_len - 1]

    @property
    def future_displacements(self) -> torch.Tensor:
        """``(B, K, pred_len, 2)`` displacements of the future, the first one from the last observation."""
        return self.displacements[:, :, self.obs_len - 1 :]

    def to(self, device: torch.device | str) -> SceneBatch:
        return replace(
            self,
            positions=self.positions.to(device),
            agent_mask=self.agent_mask.to(device),
            domain=self.domain.to(device),
            extra=None if self.extra is None else self.extra.to(device),
        )

    def select(self, index: torch.Tensor | slice) -> SceneBatch:
        """A sub-batch of scenes (boolean mask, index tensor or slice)."""
        return replace(
            self,
            positions=self.positions[index],
            agent_mask=self.agent_mask[index],
            domain=self.domain[index],
            extra=None if self.extra is None else self.extra[index],
        )


def rollout_positions(last_observed: torch.Tensor, displacements: torch.Tensor) -> torch.Tensor:
    """Absolute positions from predicted displacements: cumulative sum from the last observation.

    Args:
        last_observed: ``(..., 2)``.
        displacements: ``(..., pred_len, 2)``.
    """
    return last_observed.unsqueeze(-2) + torch.cumsum(displacements, dim=-2)
