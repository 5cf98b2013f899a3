"""SAC policy for pixel observations: one :class:`~agents.encoder.PixelEncoder` shared by actor and critic.

Built on SB3's extension points (``MultiInputPolicy`` with ``features_extractor_class`` and
``share_features_extractor=True``), but with DrQ-v2's gradient convention instead of SB3's:

* SB3, shared extractor: the *actor* loss trains it, the critic sees its features under ``no_grad``;
* here (DrQ-v2): the *critic* loss trains it (the encoder is in the critic's optimizer), the actor reads
  detached features (the encoder is not in the actor's optimizer), and the critic evaluated inside the actor
  loss also reads detached features (:meth:`EncoderCritic.frozen_encoder`), so the actor loss never reaches the
  encoder.

The target critic keeps its own Polyak-averaged copy of the encoder (SB3's structure: ``critic_target`` is a
separate module updated with ``tau``); DrQ-v2 instead feeds the target critic the online encoder's features.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch as th
from stable_baselines3.common.policies import ContinuousCritic
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from stable_baselines3.sac.policies import Actor, MultiInputPolicy

from agents.encoder import PixelEncoder


class DetachedActor(Actor):
    """SAC actor whose features are detached: the shared encoder gets no gradient from the actor loss."""

    def extract_features(self, obs: PyTorchObs, features_extractor: BaseFeaturesExtractor) -> th.Tensor:  # type: ignore[override]
        return super().extract_features(obs, features_extractor).detach()


class EncoderCritic(ContinuousCritic):
    """Twin Q critic that trains the (shared) encoder with its own loss, unlike SB3's shared-extractor critic."""

    encoder_grad: bool = True

    def forward(self, obs: th.Tensor, actions: th.Tensor) -> tuple[th.Tensor, ...]:
        with th.set_grad_enabled(self.encoder_grad and th.is_grad_enabled()):
            features = self.extract_features(obs, self.features_extractor)
        qvalue_input = th.cat([features, actions], dim=1)
        return tuple(q_net(qvalue_input) for q_net in self.q_networks)

    @contextmanager
    def frozen_encoder(self) -> Iterator[None]:
        """Within the block the encoder's features are computed without gradient (Q heads keep theirs)."""
        self.encoder_grad = False
        try:
            yield
        finally:
            self.encoder_grad = True


class PixelSACPolicy(MultiInputPolicy):
    """``MultiInputPolicy`` with a shared :class:`PixelEncoder` trained by the critic (module doc).

    Args:
        features_extractor_kwargs: ``features_dim`` and ``n_filters`` of the encoder.
        Remaining arguments: those of :class:`stable_baselines3.sac.policies.MultiInputPolicy`
        (``features_extractor_class`` defaults to :class:`PixelEncoder`, ``share_features_extractor`` is forced on).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("features_extractor_class", PixelEncoder)
        kwargs["share_features_extractor"] = True
        super().__init__(*args, **kwargs)

    def make_actor(self, features_extractor: BaseFeaturesExtractor | None = None) -> Actor:
        actor_kwargs = self._update_features_extractor(self.actor_kwargs, features_extractor)
        return DetachedActor(**actor_kwargs).to(self.device)

    def make_critic(self, features_extractor: BaseFeaturesExtractor | None = None) -> ContinuousCritic:
        critic_kwargs = self._update_features_extractor(self.critic_kwargs, features_extractor)
        return EncoderCritic(**critic_kwargs).to(self.device)

    @property
    def encoder(self) -> PixelEncoder:
        """The encoder shared by actor and critic."""
        return self.critic.features_extractor  # type: ignore[return-value]

    def _build(self, lr_schedule: Schedule) -> None:
        self.actor = self.make_actor()
        self.critic = self.make_critic(features_extractor=self.actor.features_extractor)
        actor_parameters = [p for name, p in self.actor.named_parameters() if not name.startswith("features_extractor")]
        self.actor.optimizer = self.optimizer_class(actor_parameters, lr=lr_schedule(1), **self.optimizer_kwargs)
        self.critic.optimizer = self.optimizer_class(
            self.critic.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )
        self.critic_target = self.make_critic(features_extractor=None)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.critic_target.set_training_mode(False)
