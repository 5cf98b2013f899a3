"""GCRL (Shirahmad Gale Bagi et al., ICML 2023): variational invariant latent Z and variant latent S.

Generative story: the past X and future Y are decoded from ``z`` (one per agent, same mechanism in every
environment) and ``s`` (one per scene) whose prior is a Gaussian mixture with one component per training
environment, ``p(s) = sum_e pi_e N(mu_e, sigma_e^2)`` (learned; log-density by logsumexp). Optional RealNVP
flows map each latent before its prior (adding the log-determinant).

Encoders ``q(z|x)`` and ``q(s|x)`` are diagonal Gaussians, each on its own copy of the backbone encoder.
The loss is the negative ELBO per scene::

    min_k ||y - yhat_k||^2 / 2 sigma^2            (best of ``variety_k`` samples, the "variety" y term)
    + E_q ||x - xhat||^2 / 2 sigma^2              (past reconstruction, ``elbo_samples`` samples)
    + kl_weight * E_q [log q(z|x) - log p(z) + log q(s|x) - log p(s)]

(optionally ``+ mean_weight * ||y - yhat(mu_z, mu_s)||^2 / 2 sigma^2`` to train the posterior-mean
prediction too), divided by the number of predicted coordinates. The y decoder also reads the z
encoder's interaction context when ``model.gcrl_context`` (the STGAT-style decoder input).
Low-shot adaptation updates only ``q(s|x)`` and the mixture prior; ``q(z|x)``, ``p(z)`` and the decoders stay.
"""

from __future__ import annotations

import torch
from torch import nn

from forecasting.batch import OBS_LEN, PRED_LEN, SceneBatch, rollout_positions
from forecasting.losses import gaussian_log_prob, mixture_log_prob
from forecasting.models.backbone import Decoder, SceneEncoder, mlp
from forecasting.models.base import ForecastMethod, Metric, register
from forecasting.models.flows import Flow

LOGVAR_MIN, LOGVAR_MAX = -10.0, 4.0


def masked_sq_sum(err: torch.Tensor, agent_mask: torch.Tensor) -> torch.Tensor:
    """``(..., B, K, T, 2)`` errors -> ``(..., B)`` squared sum over real agents, steps and coordinates."""
    return ((err**2).sum((-1, -2)) * agent_mask.to(err.dtype)).sum(-1)


@register("gcrl")
class GCRL(ForecastMethod):
    """Generative causal representation learning with a mixture prior over environments."""

    generative = True

    def __init__(self, cfg, domain_names, extra_channels=0, total_steps=1):
        super().__init__(cfg, domain_names, extra_channels, total_steps)
        zd, sd, e = int(cfg.z_dim), int(cfg.s_dim), max(len(domain_names), 1)
        self.z_dim, self.s_dim = zd, sd
        self.z_encoder = SceneEncoder(cfg.hidden, cfg.embed, extra_channels, cfg.attention)
        self.s_encoder = SceneEncoder(cfg.hidden, cfg.embed, extra_channels, cfg.attention)
        ctx = self.z_encoder.out_dim
        self.z_head = nn.Linear(ctx, 2 * zd)
        self.s_head = mlp([ctx, cfg.hidden, 2 * sd])
        self.pz_mean = nn.Parameter(torch.zeros(zd))
        self.pz_logvar = nn.Parameter(torch.zeros(zd))
        spread = torch.linspace(-1.0, 1.0, e).unsqueeze(-1) * torch.ones(e, sd) if e > 1 else torch.zeros(e, sd)
        self.ps_means = nn.Parameter(spread.clone())
        self.ps_logvars = nn.Parameter(torch.zeros(e, sd))
        self.ps_logits = nn.Parameter(torch.zeros(e))
        self.z_flow = Flow(zd, int(cfg.flows)) if int(cfg.flows) > 0 else None
        self.s_flow = Flow(sd, int(cfg.flows)) if int(cfg.flows) > 0 else None
        self.x_decoder = mlp([zd + sd, cfg.decoder_hidden, cfg.decoder_hidden, (OBS_LEN - 1) * 2])
        y_in = (ctx if cfg.gcrl_context else 0) + zd + sd
        self.y_decoder = Decoder(y_in, cfg.decoder_hidden, PRED_LEN, cfg.decoder)

    # ----------------------------------------------------------------------------------------- posteriors
    def posterior(self, batch: SceneBatch) -> dict[str, torch.Tensor]:
        """Context and Gaussian posteriors: ``mu_z``/``logvar_z`` ``(B, K, z)``, ``mu_s``/``logvar_s`` ``(B, s)``."""
        ctx = self.z_encoder(batch)
        mu_z, lv_z = self.z_head(ctx).chunk(2, dim=-1)
        cs = self.s_encoder(batch)
        m = batch.agent_mask.to(cs.dtype).unsqueeze(-1)
        pooled = (cs * m).sum(1) / m.sum(1).clamp_min(1.0)
        mu_s, lv_s = self.s_head(pooled).chunk(2, dim=-1)
        clamp = (LOGVAR_MIN, LOGVAR_MAX)
        return {"ctx": ctx, "mu_z": mu_z, "logvar_z": lv_z.clamp(*clamp), "mu_s": mu_s, "logvar_s": lv_s.clamp(*clamp)}

    @staticmethod
    def sample(mu: torch.Tensor, logvar: torch.Tensor, n: int) -> torch.Tensor:
        """``n`` reparameterised samples ``(n, *mu.shape)``."""
        eps = torch.randn((n, *mu.shape), dtype=mu.dtype, device=mu.device)
        return mu + eps * torch.exp(0.5 * logvar)

    def log_prior_z(self, z: torch.Tensor) -> torch.Tensor:
        logdet = 0.0
        if self.z_flow is not None:
            z, logdet = self.z_flow(z)
        return gaussian_log_prob(z, self.pz_mean, self.pz_logvar) + logdet

    def log_prior_s(self, s: torch.Tensor) -> torch.Tensor:
        logdet = 0.0
        if self.s_flow is not None:
            s, logdet = self.s_flow(s)
        return mixture_log_prob(s, self.ps_means, self.ps_logvars, self.ps_logits) + logdet

    # ------------------------------------------------------------------------------------------- decoders
    def decode_future(self, batch: SceneBatch, ctx: torch.Tensor, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """``z`` ``(..., B, K, z)``, ``s`` ``(..., B, s)`` -> positions ``(..., B, K, P, 2)``."""
        s_agents = s.unsqueeze(-2).expand(*z.shape[:-1], self.s_dim)
        parts = [z, s_agents]
        if self.cfg.gcrl_context:
            parts.insert(0, ctx.expand(*z.shape[:-1], ctx.shape[-1]))
        disp = self.y_decoder(torch.cat(parts, dim=-1), batch.observed_displacements[:, :, -1])
        return rollout_positions(batch.last_observed, disp)

    def decode_past(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Reconstructed observed displacements ``(..., B, K, obs_len - 1, 2)``."""
        s_agents = s.unsqueeze(-2).expand(*z.shape[:-1], self.s_dim)
        out = self.x_decoder(torch.cat([z, s_agents], dim=-1))
        return out.reshape(*out.shape[:-1], OBS_LEN - 1, 2)

    # --------------------------------------------------------------------------------------------- losses
    def neg_elbo(self, batch: SceneBatch) -> tuple[torch.Tensor, dict[str, Metric]]:
        """Per-scene negative ELBO ``(B,)`` and its terms (batch means)."""
        c = self.cfg
        inv2s2 = 1.0 / (2.0 * float(c.sigma) ** 2)
        post = self.posterior(batch)
        mask = batch.agent_mask.to(post["mu_z"].dtype)
        n = int(c.elbo_samples)
        z = self.sample(post["mu_z"], post["logvar_z"], n)
        s = self.sample(post["mu_s"], post["logvar_s"], n)
        nll_x = (masked_sq_sum(self.decode_past(z, s) - batch.observed_displacements, batch.agent_mask) * inv2s2).mean(
            0
        )
        kl_z = ((gaussian_log_prob(z, post["mu_z"], post["logvar_z"]) - self.log_prior_z(z)) * mask).sum(-1).mean(0)
        kl_s = (gaussian_log_prob(s, post["mu_s"], post["logvar_s"]) - self.log_prior_s(s)).mean(0)
        k = int(c.variety_k)
        zk = self.sample(post["mu_z"], post["logvar_z"], k)
        sk = self.sample(post["mu_s"], post["logvar_s"], k)
        yk = self.decode_future(batch, post["ctx"], zk, sk)
        nll_y = (masked_sq_sum(yk - batch.future, batch.agent_mask) * inv2s2).min(0).values
        total = nll_y + nll_x + float(c.kl_weight) * (kl_z + kl_s)
        terms = {"nll_y": nll_y, "nll_x": nll_x, "kl_z": kl_z, "kl_s": kl_s}
        if float(c.mean_weight) > 0:
            ym = self.decode_future(batch, post["ctx"], post["mu_z"], post["mu_s"])
            nll_mean = masked_sq_sum(ym - batch.future, batch.agent_mask) * inv2s2
            total = total + float(c.mean_weight) * nll_mean
            terms["nll_y_mean"] = nll_mean
        metrics: dict[str, Metric] = {name: v.detach().mean() for name, v in terms.items()}
        metrics["neg_elbo"] = total.detach().mean()
        return total, metrics

    def loss(self, batch: SceneBatch, step: int) -> tuple[torch.Tensor, dict[str, Metric]]:
        per_scene, metrics = self.neg_elbo(batch)
        coords = batch.positions.shape[1] * batch.pred_len * 2
        loss = per_scene.mean() / coords
        metrics["loss"] = loss.detach()
        return loss, metrics

    def predict(self, batch, num_samples=None, reference=None):
        post = self.posterior(batch)
        if num_samples is None:
            return self.decode_future(batch, post["ctx"], post["mu_z"], post["mu_s"])
        z = self.sample(post["mu_z"], post["logvar_z"], num_samples)
        s = self.sample(post["mu_s"], post["logvar_s"], num_samples)
        return self.decode_future(batch, post["ctx"], z, s)

    def adaptation_parameters(self) -> list[nn.Parameter]:
        """The variant parts: ``q(s|x)`` (its encoder and head), the mixture prior over S and its flow."""
        params = [*self.s_encoder.parameters(), *self.s_head.parameters()]
        params += [self.ps_means, self.ps_logvars, self.ps_logits]
        if self.s_flow is not None:
            params += list(self.s_flow.parameters())
        return params

    @torch.no_grad()
    def latents(self, batch: SceneBatch) -> dict[str, torch.Tensor]:
        """Posterior means ``z`` ``(B, K, z_dim)`` and ``s`` ``(B, s_dim)`` (for the identifiability check)."""
        post = self.posterior(batch)
        return {"z": post["mu_z"], "s": post["mu_s"]}
