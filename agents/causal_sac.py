"""CausalSAC: SAC with the causal parts of ACE and CIP as switches (spec: shared/specs/cip.md).

One algorithm, three flags in ``causal`` (a :class:`agents.config.CausalConfig` as a dict):

* ``entropy``: the causally weighted ``log pi_w = sum_i w_a[i] l_i`` replaces ``log pi`` in the critic
  target, the actor loss and the temperature loss (target entropy ``-|A|`` unchanged);
* ``augment``: the replay buffer is a :class:`~agents.counterfactual_buffer.CounterfactualReplayBuffer`
  that swaps reward-irrelevant state dims between transitions at sampling time;
* ``empowerment``: an inverse-dynamics model (own optimizer) and ``-lambda * E_c(s)`` in the actor loss.

With every flag off the update is SB3's SAC update, operation for operation (same losses, same random
draws). The graph is refitted by :class:`~agents.causal_refit.CausalRefitCallback`, which :meth:`learn`
adds itself; before the first fit every weight is 1.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, fields, is_dataclass
from typing import Any

import numpy as np
import torch as th
from stable_baselines3 import SAC
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.type_aliases import MaybeCallback, ReplayBufferSamples
from stable_baselines3.common.utils import polyak_update
from torch.nn import functional as F

import causal
from agents.causal_entropy import per_dim_from_dist, weighted_log_prob
from agents.causal_refit import CausalRefitCallback, first_fit_step
from agents.config import CausalConfig
from agents.counterfactual_buffer import CounterfactualReplayBuffer, irrelevant_mask
from agents.empowerment import InverseDynamics, empowerment, inverse_update, log_likelihood
from causal_priors.errors import ConfigError

_INVERSE_SEED_OFFSET = 90_001
_BUFFER_SEED_OFFSET = 70_001


def _as_dict(cfg: Any) -> dict[str, Any]:
    if cfg is None:
        return asdict(CausalConfig())
    if is_dataclass(cfg):
        return asdict(cfg)
    if not isinstance(cfg, dict):
        from omegaconf import OmegaConf

        cfg = OmegaConf.to_container(cfg, resolve=True)
    names = {f.name for f in fields(CausalConfig)}
    unknown = sorted(set(cfg) - names)
    if unknown:
        raise ValueError(f"unknown causal config keys {unknown}")
    return asdict(CausalConfig(**cfg))


class CausalSAC(SAC):
    """SAC with causal entropy, counterfactual augmentation and causal empowerment as flags.

    Args:
        causal: the causal settings (a ``CausalConfig``, a dict of its fields, or an OmegaConf node).
        Remaining arguments: those of :class:`stable_baselines3.SAC`.
    """

    def __init__(self, *args: Any, causal: Any = None, **kwargs: Any) -> None:
        self.causal = _as_dict(causal)
        super().__init__(*args, **kwargs)

    @classmethod
    def causal_kwargs(cls, causal_cfg: Any, seed: int | None = None) -> dict[str, Any]:
        """Constructor kwargs for a causal config: ``causal=`` and, with augmentation, the replay buffer."""
        cfg = _as_dict(causal_cfg)
        kwargs: dict[str, Any] = {"causal": cfg}
        if cfg["augment"]:
            kwargs["replay_buffer_class"] = CounterfactualReplayBuffer
            kwargs["replay_buffer_kwargs"] = {"rho": cfg["rho"], "seed": int(seed or 0) + _BUFFER_SEED_OFFSET}
        return kwargs

    @property
    def causal_active(self) -> bool:
        """Whether any causal part is on (otherwise no graph is ever fitted)."""
        c = self.causal_config
        return bool(c.entropy or c.augment or c.empowerment)

    def _setup_model(self) -> None:
        super()._setup_model()
        self.causal_config = CausalConfig(**self.causal)
        c = self.causal_config
        if c.irrelevance not in ("edges", "weights"):
            raise ConfigError(f"agent.causal.irrelevance must be 'edges' or 'weights', got '{c.irrelevance}'")
        if (c.entropy or c.empowerment) and self.use_sde:
            raise ConfigError("causal entropy/empowerment need the squashed Gaussian actor (use_sde=False)")
        if self.causal_active and len(self.observation_space.shape) != 1:
            raise ConfigError("the causal parts need flat state observations (not pixels)")
        if c.augment and not isinstance(self.replay_buffer, CounterfactualReplayBuffer):
            raise ConfigError("causal.augment needs replay_buffer_class=CounterfactualReplayBuffer (causal_kwargs)")
        obs_dim = int(np.prod(self.observation_space.shape))
        action_dim = int(np.prod(self.action_space.shape))
        self.set_graph(causal.uniform_graph(obs_dim, action_dim, temperature=c.temperature))
        self.n_refits = 0
        never = int(np.iinfo(np.int64).max)
        self.next_fit_step = first_fit_step(c.window, c.min_samples, self.buffer_size) if self.causal_active else never
        self.inverse_model: InverseDynamics | None = None
        self.inverse_optimizer: th.optim.Optimizer | None = None
        if c.empowerment:
            net_arch = self.policy_kwargs.get("net_arch", [256, 256])
            if isinstance(net_arch, dict):
                net_arch = net_arch["pi"]
            with th.random.fork_rng(devices=[]):  # its own init: every other random draw stays as in SAC
                th.manual_seed(int(self.seed or 0) + _INVERSE_SEED_OFFSET)
                self.inverse_model = InverseDynamics(obs_dim, action_dim, list(net_arch)).to(self.device)
            self.inverse_optimizer = th.optim.Adam(self.inverse_model.parameters(), lr=c.inverse_lr)
        self.inverse_generator = th.Generator(device=self.device)
        self.inverse_generator.manual_seed(int(self.seed or 0) + _INVERSE_SEED_OFFSET)

    def set_graph(self, graph: causal.FactoredGraph) -> np.ndarray:
        """Use ``graph``: action weights for the losses, the swap mask for the buffer. Returns the mask."""
        c = self.causal_config
        self.graph = graph
        self.w_a = th.as_tensor(np.asarray(graph.w_a), dtype=th.float32, device=self.device)
        candidates = ~np.asarray(graph.reward_state_edges, dtype=bool) if c.irrelevance == "edges" else None
        mask = irrelevant_mask(
            graph.w_s, c.tau_s, c.max_swap_frac, graph.transition_edges, c.coda_validity, candidates=candidates
        )
        if graph.method == "uniform":
            mask[:] = False
        if isinstance(self.replay_buffer, CounterfactualReplayBuffer):
            self.replay_buffer.set_swap_mask(mask if c.augment else None)
        return mask

    def learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "SAC",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> CausalSAC:
        """SB3's ``learn`` with the causal refit callback prepended to ``callback``."""
        if self.causal_active:
            given = [] if callback is None else (list(callback) if isinstance(callback, list) else [callback])
            callback = CallbackList([CausalRefitCallback(), *given])
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

    def _gradient_step(self, data: ReplayBufferSamples, gradient_step: int) -> dict[str, float]:
        """One SAC update with the causal terms switched by the flags; returns its metrics."""
        c = self.causal_config
        out: dict[str, float] = {}
        discounts = data.discounts if data.discounts is not None else self.gamma
        if self.use_sde:
            self.actor.reset_noise()

        actions_pi, log_prob = self.actor.action_log_prob(data.observations)
        log_prob = log_prob.reshape(-1, 1)
        log_pi_w = None
        if c.entropy or c.empowerment:
            log_pi_w = weighted_log_prob(per_dim_from_dist(self.actor.action_dist, actions_pi), self.w_a)
            if c.entropy:
                log_prob = log_pi_w

        if self.ent_coef_optimizer is not None and self.log_ent_coef is not None:
            ent_coef = th.exp(self.log_ent_coef.detach())
            ent_coef_loss = -(self.log_ent_coef * (log_prob + self.target_entropy).detach()).mean()
            out["train/ent_coef_loss"] = ent_coef_loss.item()
            self.ent_coef_optimizer.zero_grad()
            ent_coef_loss.backward()
            self.ent_coef_optimizer.step()
        else:
            ent_coef = self.ent_coef_tensor
        out["train/ent_coef"] = ent_coef.item()

        with th.no_grad():
            next_actions, next_log_prob = self.actor.action_log_prob(data.next_observations)
            next_log_prob = next_log_prob.reshape(-1, 1)
            if c.entropy:
                next_log_prob = weighted_log_prob(per_dim_from_dist(self.actor.action_dist, next_actions), self.w_a)
            next_q = th.cat(self.critic_target(data.next_observations, next_actions), dim=1)
            next_q, _ = th.min(next_q, dim=1, keepdim=True)
            next_q = next_q - ent_coef * next_log_prob
            target_q = data.rewards + (1 - data.dones) * discounts * next_q

        current_q = self.critic(data.observations, data.actions)
        critic_loss = 0.5 * sum(F.mse_loss(q, target_q) for q in current_q)
        out["train/critic_loss"] = critic_loss.item()
        self.critic.optimizer.zero_grad()
        critic_loss.backward()
        self.critic.optimizer.step()

        q_pi = th.cat(self.critic(data.observations, actions_pi), dim=1)
        min_q_pi, _ = th.min(q_pi, dim=1, keepdim=True)
        if c.empowerment and self.inverse_model is not None:
            # one inverse forward serves the empowerment estimate (detached) and the inverse model's loss
            inv_mean, inv_log_std = self.inverse_model(data.observations, data.next_observations)
            emp = empowerment(log_pi_w, inv_mean, inv_log_std, self.w_a, self.inverse_generator)
            out["train/empowerment"] = emp.mean().item()
            actor_loss = (ent_coef * log_prob - min_q_pi - c.empowerment_coef * emp).mean()
        else:
            actor_loss = (ent_coef * log_prob - min_q_pi).mean()
        out["train/actor_loss"] = actor_loss.item()
        self.actor.optimizer.zero_grad()
        actor_loss.backward()
        self.actor.optimizer.step()

        if c.empowerment and self.inverse_optimizer is not None:
            n_cf = getattr(self.replay_buffer, "last_n_counterfactual", 0)  # counterfactual rows come first
            if n_cf < len(data.actions):
                real = slice(n_cf, None)
                log_lik = log_likelihood(inv_mean[real], inv_log_std[real], data.actions[real])
                out.update(inverse_update(self.inverse_optimizer, log_lik))

        if gradient_step % self.target_update_interval == 0:
            polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.tau)
            polyak_update(self.batch_norm_stats, self.batch_norm_stats_target, 1.0)
        return out

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        """``gradient_steps`` updates on replay batches; the one place that records ``train/`` metrics."""
        self.policy.set_training_mode(True)
        optimizers = [self.actor.optimizer, self.critic.optimizer]
        if self.ent_coef_optimizer is not None:
            optimizers += [self.ent_coef_optimizer]
        self._update_learning_rate(optimizers)

        history: dict[str, list[float]] = defaultdict(list)
        for gradient_step in range(gradient_steps):
            data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            for key, value in self._gradient_step(data, gradient_step).items():
                history[key].append(value)
        self._n_updates += gradient_steps

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        for key, values in history.items():
            self.logger.record(key, float(np.mean(values)))
        if isinstance(self.replay_buffer, CounterfactualReplayBuffer):
            for key, value in self.replay_buffer.pop_stats().items():
                self.logger.record(key, value)

    def extra_state(self) -> dict[str, Any]:
        """Causal state outside SB3's archive: graph, refit schedule, the empowerment noise generator."""
        return {
            "graph": self.graph.to_dict(),
            "n_refits": int(self.n_refits),
            "next_fit_step": int(self.next_fit_step),
            "inverse_generator": self.inverse_generator.get_state(),
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`extra_state` (call after the replay buffer is loaded)."""
        self.set_graph(causal.FactoredGraph.from_dict(state["graph"]))
        self.n_refits = int(state["n_refits"])
        self.next_fit_step = int(state["next_fit_step"])
        self.inverse_generator.set_state(state["inverse_generator"])

    def _excluded_save_params(self) -> list[str]:
        return [
            *super()._excluded_save_params(),
            "causal_config",
            "graph",
            "w_a",
            "inverse_generator",
            "n_refits",
            "next_fit_step",
        ]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        state_dicts, variables = super()._get_torch_save_params()
        if self.inverse_model is not None:
            state_dicts = [*state_dicts, "inverse_model", "inverse_optimizer"]
        return state_dicts, variables
