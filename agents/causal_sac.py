"""CausalSAC: SAC with the causal parts of ACE and CIP as switches (spec: shared/specs/cip.md).

One algorithm, three flags in ``causal`` (a :class:`agents.config.CausalConfig` as a dict):

* ``entropy``: the causally weighted ``log pi_w = sum_i w_a[i] l_i`` replaces ``log pi`` in the critic
  target, the actor loss and the temperature loss (target entropy ``-|A|`` unchanged);
* ``augment``: the replay buffer is a :class:`~agents.counterfactual_buffer.CounterfactualReplayBuffer`
  (set by this class) whose swap rule is the agent's :class:`~agents.causal_prior.CausalPrior`;
* ``empowerment``: an inverse-dynamics model q(a | s, s') with its own optimizer; by default its causally
  weighted log-likelihood is an intrinsic reward in the critic target (``empowerment_form``).

The :class:`~agents.causal_prior.CausalPrior` (``self.prior``) owns the graph, its refit schedule, the
weights, the swap rule and their generators; :meth:`train` asks it to refit when due. With every flag off the
update is SB3's SAC update, operation for operation (same losses, same random draws). Before the first fit
every weight is 1.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3 import SAC
from stable_baselines3.common.logger import Figure
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.utils import polyak_update
from torch.nn import functional as F

from agents.causal_entropy import per_dim_from_dist, weighted_log_prob
from agents.causal_prior import CausalPrior, Refit
from agents.causal_view import PIXELS_INACTIVE_REASON, CausalView
from agents.config import CausalConfig, causal_config
from agents.counterfactual_buffer import CounterfactualReplayBuffer
from agents.empowerment import InverseDynamics, empowerment, intrinsic_reward, inverse_update, per_dim_log_likelihood
from causal_priors.errors import ConfigError
from causal_priors.runs import write_json
from envs.pixels import is_pixel_space

_INVERSE_SEED_OFFSET = 90_001
_SHIFT_SEED_OFFSET = 50_021


class CausalSAC(SAC):
    """SAC with causal entropy, counterfactual augmentation and causal empowerment as flags.

    Args:
        causal: the causal settings (a ``CausalConfig``, a dict of its fields, or an OmegaConf node).
        Remaining arguments: those of :class:`stable_baselines3.SAC`; with ``causal.augment`` the replay buffer
        class defaults to :class:`CounterfactualReplayBuffer` with ``rho`` from ``causal``.
    """

    def __init__(self, *args: Any, causal: Any = None, shift_pad: int = 0, **kwargs: Any) -> None:
        cfg = causal_config(causal)
        self.causal = asdict(cfg)
        self.shift_pad = int(shift_pad)
        if cfg.augment:
            kwargs.setdefault("replay_buffer_class", CounterfactualReplayBuffer)
            kwargs["replay_buffer_kwargs"] = {"rho": cfg.rho, **(kwargs.get("replay_buffer_kwargs") or {})}
        super().__init__(*args, **kwargs)

    def _setup_model(self) -> None:
        self.augment_inactive_reason = ""
        if is_pixel_space(self.observation_space) and self.replay_buffer_class is CounterfactualReplayBuffer:
            # state dims cannot be swapped inside images: SB3's DictReplayBuffer, no swaps (docs/cip.md, pixels)
            self.replay_buffer_class, self.replay_buffer_kwargs = None, {}
            self.augment_inactive_reason = PIXELS_INACTIVE_REASON
        super()._setup_model()
        self.causal_config = c = CausalConfig(**self.causal)
        if (c.entropy or c.empowerment) and self.use_sde:
            raise ConfigError("causal entropy/empowerment need the squashed Gaussian actor (use_sde=False)")
        if (
            c.augment
            and not self.augment_inactive_reason
            and not isinstance(self.replay_buffer, CounterfactualReplayBuffer)
        ):
            raise ConfigError("causal.augment needs a CounterfactualReplayBuffer (replay_buffer_class)")
        self.view = CausalView(self.observation_space, c.view, self.policy)
        obs_dim = self.view.dim
        action_dim = int(np.prod(self.action_space.shape))
        self.shift_generator = th.Generator(device=self.device)
        self.shift_generator.manual_seed(int(self.seed or 0) + _SHIFT_SEED_OFFSET)
        self.prior = CausalPrior(
            c, obs_dim, action_dim, self.buffer_size, self.seed, self.device, view=self.view.stored
        )
        self.inverse_model: InverseDynamics | None = None
        self.inverse_optimizer: th.optim.Optimizer | None = None
        if c.empowerment:
            with th.random.fork_rng(devices=[]):  # its own init: every other random draw stays as in SAC
                th.manual_seed(int(self.seed or 0) + _INVERSE_SEED_OFFSET)
                self.inverse_model = InverseDynamics(obs_dim, action_dim, list(c.inverse_net_arch)).to(self.device)
            self.inverse_optimizer = th.optim.Adam(self.inverse_model.parameters(), lr=c.inverse_lr, fused=True)

    @property
    def causal_active(self) -> bool:
        """Whether any causal part is on (otherwise no graph is ever fitted)."""
        return self.causal_config.any_active

    # ---- the update -----------------------------------------------------------------------------------------

    def soft_target(
        self,
        data: ReplayBufferSamples,
        ent_coef: th.Tensor,
        inverse_log_q: th.Tensor | None = None,
    ) -> tuple[th.Tensor, dict[str, th.Tensor]]:
        """The soft Bellman target ``(batch, 1)`` (with the empowerment reward when that form is on), no gradient.

        Args:
            data: the sampled batch.
            ent_coef: the temperature alpha.
            inverse_log_q: per-dim ``log q_i(a_i | s, s')`` of the batch under the inverse model, if already computed.
        """
        c = self.causal_config
        out: dict[str, th.Tensor] = {}
        discounts = data.discounts if data.discounts is not None else self.gamma
        with th.no_grad():
            next_actions, next_log_prob = self.actor.action_log_prob(data.next_observations)
            next_log_prob = next_log_prob.reshape(-1, 1)
            if c.entropy:
                next_log_prob = weighted_log_prob(
                    per_dim_from_dist(self.actor.action_dist, next_actions), self.prior.w_a
                )
            next_q = th.cat(self.critic_target(data.next_observations, next_actions), dim=1)
            next_q, _ = th.min(next_q, dim=1, keepdim=True)
            next_q = next_q - ent_coef * next_log_prob
            rewards = data.rewards
            if self._intrinsic_empowerment:
                if inverse_log_q is None:
                    inverse_out = self.inverse_model(self.view(data.observations), self.view(data.next_observations))
                    inverse_log_q = per_dim_log_likelihood(*inverse_out, data.actions)
                bonus, out = intrinsic_reward(inverse_log_q, self.prior.w_a, data.rewards, c.empowerment_clip)
                rewards = rewards + c.empowerment_coef * bonus
                out["train/empowerment_reward"] = (c.empowerment_coef * bonus).abs().mean()
            target_q = rewards + (1 - data.dones) * discounts * next_q
        return target_q, out

    @property
    def _intrinsic_empowerment(self) -> bool:
        c = self.causal_config
        return bool(
            c.empowerment
            and c.empowerment_form == "intrinsic_reward"
            and c.empowerment_coef != 0
            and self.inverse_model
        )

    def _gradient_step(self, data: ReplayBufferSamples, gradient_step: int) -> dict[str, th.Tensor]:
        """One SAC update with the causal terms switched by the flags; returns its metrics as detached 0-dim
        tensors on the policy's device (read on the host once per :meth:`train` call, not per metric)."""
        c = self.causal_config
        w_a = self.prior.w_a
        out: dict[str, th.Tensor] = {}
        if self.view.pixels:
            data = self.view.shifted(data, self.shift_pad, self.shift_generator)
        if self.use_sde:
            self.actor.reset_noise()

        actions_pi, log_prob = self.actor.action_log_prob(data.observations)
        log_prob = log_prob.reshape(-1, 1)
        log_pi_w = None
        if c.entropy or c.empowerment:
            log_pi_w = weighted_log_prob(per_dim_from_dist(self.actor.action_dist, actions_pi), w_a)
            if c.entropy:
                log_prob = log_pi_w

        if self.ent_coef_optimizer is not None and self.log_ent_coef is not None:
            ent_coef = th.exp(self.log_ent_coef.detach())
            ent_coef_loss = -(self.log_ent_coef * (log_prob + self.target_entropy).detach()).mean()
            out["train/ent_coef_loss"] = ent_coef_loss.detach()
            self.ent_coef_optimizer.zero_grad()
            ent_coef_loss.backward()
            self.ent_coef_optimizer.step()
        else:
            ent_coef = self.ent_coef_tensor
        out["train/ent_coef"] = ent_coef.detach()

        # one inverse forward serves the empowerment (reward or bonus, no gradient) and the inverse model's loss
        inverse_out = inverse_log_q = None
        if self.inverse_model is not None:
            inverse_out = self.inverse_model(self.view(data.observations), self.view(data.next_observations))
            inverse_log_q = per_dim_log_likelihood(*inverse_out, data.actions)
        target_q, target_metrics = self.soft_target(data, ent_coef, inverse_log_q)
        out.update(target_metrics)
        current_q = self.critic(data.observations, data.actions)
        critic_loss = 0.5 * sum(F.mse_loss(q, target_q) for q in current_q)
        out["train/critic_loss"] = critic_loss.detach()
        self.critic.optimizer.zero_grad()
        critic_loss.backward()
        self.critic.optimizer.step()

        with self.view.frozen_encoder(self.critic):  # pixels: the actor loss never reaches the encoder
            q_pi = th.cat(self.critic(data.observations, actions_pi), dim=1)
        min_q_pi, _ = th.min(q_pi, dim=1, keepdim=True)
        actor_loss = ent_coef * log_prob - min_q_pi
        if c.empowerment and c.empowerment_form == "entropy_bonus" and inverse_out is not None:
            emp = empowerment(log_pi_w, *inverse_out, w_a, self.prior.noise_generator)
            out["train/empowerment"] = emp.mean().detach()
            actor_loss = actor_loss - c.empowerment_coef * emp
        actor_loss = actor_loss.mean()
        out["train/actor_loss"] = actor_loss.detach()
        self.actor.optimizer.zero_grad()
        actor_loss.backward()
        self.actor.optimizer.step()

        if inverse_log_q is not None and self.inverse_optimizer is not None:
            # the inverse model learns from every row the buffer did not change (a counterfactual row with nothing
            # swapped is a real transition): while augmentation swaps nothing, it sees what it sees without it
            log_lik = inverse_log_q.sum(dim=1, keepdim=True)
            changed = getattr(self.replay_buffer, "last_changed_rows", None)
            if changed is not None and changed.any():
                log_lik = log_lik[th.as_tensor(~changed, device=log_lik.device)]
            if len(log_lik):
                out.update(inverse_update(self.inverse_optimizer, log_lik))

        if gradient_step % self.target_update_interval == 0:
            polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.tau)
            polyak_update(self.batch_norm_stats, self.batch_norm_stats_target, 1.0)
        return out

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        """Refit the causal prior when due, then ``gradient_steps`` updates on replay batches; the one place that
        records ``train/``, ``causal/`` and ``augment/`` metrics."""
        if self.causal_active:
            self._log_refit(self.prior.maybe_refit(self.num_timesteps, self.replay_buffer))
        if self.causal_config.augment and self.augment_inactive_reason:
            self.logger.record(
                "causal/augment_inactive_reason", self.augment_inactive_reason, exclude=("stdout", "log")
            )
        if (
            isinstance(self.replay_buffer, CounterfactualReplayBuffer)
            and self.replay_buffer.swap_rule is not self.prior
        ):
            self.replay_buffer.set_swap_rule(self.prior)  # after a buffer is loaded, too

        self.policy.set_training_mode(True)
        optimizers = [self.actor.optimizer, self.critic.optimizer]
        if self.ent_coef_optimizer is not None:
            optimizers += [self.ent_coef_optimizer]
        self._update_learning_rate(optimizers)

        history: dict[str, list[th.Tensor]] = defaultdict(list)
        for gradient_step in range(gradient_steps):
            data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            for key, value in self._gradient_step(data, gradient_step).items():
                history[key].append(value)
        self._n_updates += gradient_steps

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        if history:  # one device -> host transfer for all metrics of this call
            means = th.stack([th.stack(values).float().mean() for values in history.values()]).tolist()
            for key, value in zip(history, means, strict=True):
                self.logger.record(key, value)
        if isinstance(self.replay_buffer, CounterfactualReplayBuffer):
            for key, value in self.replay_buffer.pop_stats().items():
                self.logger.record(key, value)

    def _log_refit(self, refit: Refit | None, log_figure: bool = True) -> None:
        """Scalars, a picture of the graph, and ``<log dir>/causal_graphs/step_<n>.json`` (diagnostics)."""
        if refit is None:
            return
        for key, value in refit.metrics.items():
            self.logger.record(key, value)
        if log_figure:
            from causal import plots

            figure = Figure(plots.plot_graph(refit.graph), close=True)
            self.logger.record("causal/graph", figure, exclude=("stdout", "log", "json", "csv"))
        folder = self.logger.get_dir()
        if folder:
            data = refit.graph.to_dict()
            data["swap_candidates"] = [int(i) for i in np.flatnonzero(refit.candidates)]
            data["validity"] = self.causal_config.validity_rule
            data["view"] = self.view.name
            if self.causal_config.augment and self.augment_inactive_reason:
                data["augment_inactive_reason"] = self.augment_inactive_reason
            data.update({k: v for k, v in refit.metrics.items() if k.startswith("augment/local")})
            write_json(Path(folder) / "causal_graphs" / f"step_{self.num_timesteps}.json", data)

    # ---- checkpoints ----------------------------------------------------------------------------------------

    def extra_state(self) -> dict[str, Any]:
        """Causal state outside SB3's parameters: the prior's ``state_dict()`` (tensors and plain data only) and the
        random-shift generator."""
        return {**self.prior.state_dict(), "shift_generator": self.shift_generator.get_state().cpu()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`extra_state` (call after the replay buffer is loaded)."""
        state = dict(state)
        shift = state.pop("shift_generator", None)
        if shift is not None:
            self.shift_generator.set_state(shift)
        self.prior.load_state_dict(state)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "causal_config", "prior", "view", "shift_generator"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        state_dicts, variables = super()._get_torch_save_params()
        if self.inverse_model is not None:
            state_dicts = [*state_dicts, "inverse_model", "inverse_optimizer"]
        return state_dicts, variables
