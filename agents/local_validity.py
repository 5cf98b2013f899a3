"""Local validity of counterfactual swaps: a learned dynamics model and its per-transition Jacobians.

CoDA's condition is local: whether the action drives ``s'_j`` depends on the state (a limb in the air, an
object the gripper does not touch). :class:`DynamicsModel` learns ``f(s, a) -> s' - s`` on standardised
variables; at each stored transition the Jacobian ``d f / d [s, a]`` tells which next-state dims depend,
locally, on the action and on which state dims. :func:`causal.swap.locally_free` turns it into per-row
booleans (the swap rule itself stays pure numpy in ``causal/``).

The model is fitted from scratch at every refit on the same window as the causal graph, with its own seed,
so it is a function of (data, seed) like the graph fit and needs no optimizer state in checkpoints. Its
Jacobians are computed in batches with ``torch.func`` (``vmap`` of ``jacrev``): ``|S|`` vector-Jacobian
products per chunk of rows.

Calibration: a learned model has small spurious derivatives everywhere (measured on Reacher's AR(1) distractor
dims: median action-Jacobian norm ~0.1 in standardised units, against ~1.0 for the joint velocities the torques
drive). The edge threshold is therefore relative: ``threshold = relative_threshold * reference``, where
``reference`` is the median action-Jacobian norm of the most action-driven dim over the window, so a dim counts
as locally driven when the action moves it by more than that fraction of what it typically moves the most
driven dim.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch as th
from torch import nn
from torch.func import jacfwd, jacrev, vmap

from causal.swap import locally_free_dims

# torch.func's forward-mode Jacobians load torch._decomp.decompositions_for_jvp on first use, which scripts helpers
# with torch.jit.script and so prints torch's own "`torch.jit.script` is deprecated" warning in the middle of a run:
# load it here, once, with exactly that warning silenced.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=DeprecationWarning)
    import torch._decomp.decompositions_for_jvp  # noqa: F401

JACOBIAN_CHUNK = 4096
"""Rows per batched Jacobian evaluation (bounds memory: chunk x |S| x (|S| + |A|) floats)."""


class DynamicsModel(nn.Module):
    """MLP ``f([s, a]) -> s' - s`` on standardised inputs and outputs."""

    def __init__(self, obs_dim: int, action_dim: int, net_arch: list[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        last = obs_dim + action_dim
        for width in net_arch:
            layers += [nn.Linear(last, width), nn.SiLU()]
            last = width
        layers.append(nn.Linear(last, obs_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, inputs: th.Tensor) -> th.Tensor:
        """Standardised next-state change for standardised ``[s, a]`` rows."""
        return self.net(inputs)


@dataclass
class Standardiser:
    """Column means and standard deviations (constant columns get std 1)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardiser:
        std = x.std(axis=0)
        return cls(mean=x.mean(axis=0), std=np.where(std > 1e-8, std, 1.0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std


class LocalDynamics:
    """A dynamics model fitted on a window of transitions, scoring rows for local swap validity.

    Args:
        obs_dim, action_dim: sizes of ``s`` and ``a``.
        net_arch: hidden layers of the model.
        relative_threshold: local-edge threshold as a fraction of the reference action effect (module doc).
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        net_arch: list[int],
        relative_threshold: float,
        device: th.device | str = "cpu",
    ) -> None:
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.device = th.device(device)
        self.net_arch = list(net_arch)
        self.relative_threshold = float(relative_threshold)
        self.reference = float("nan")
        self.model: DynamicsModel | None = None
        self.inputs: Standardiser | None = None
        self.outputs: Standardiser | None = None
        self.last_loss = float("nan")

    @property
    def fitted(self) -> bool:
        return self.model is not None

    def fit(self, states: np.ndarray, actions: np.ndarray, next_states: np.ndarray, steps: int, seed: int) -> float:
        """Fit a fresh model by ``steps`` Adam steps (batch 256) on these transitions; returns the final
        mean squared error (standardised units). Uses only its own generator: the global RNGs are untouched."""
        x = np.concatenate([states, actions], axis=1)
        y = next_states - states
        self.inputs, self.outputs = Standardiser.fit(x), Standardiser.fit(y)
        xs = th.as_tensor(self.inputs(x), dtype=th.float32, device=self.device)
        ys = th.as_tensor(self.outputs(y), dtype=th.float32, device=self.device)
        gen = th.Generator(device=self.device).manual_seed(int(seed))
        with th.random.fork_rng(devices=[]):
            th.manual_seed(int(seed))
            model = DynamicsModel(self.obs_dim, self.action_dim, self.net_arch).to(self.device)
        optimizer = th.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-3)
        batch = min(256, len(xs))
        loss = th.tensor(float("nan"))
        for _ in range(int(steps)):
            idx = th.randint(0, len(xs), (batch,), generator=gen, device=self.device)
            loss = ((model(xs[idx]) - ys[idx]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        self.model = model.eval()
        self.last_loss = float(loss.item())
        rows = np.random.default_rng(int(seed)).choice(len(x), size=min(len(x), 2048), replace=False)
        action_norms = np.linalg.norm(self.action_jacobians(self._inputs(states[rows], actions[rows])), axis=2)
        self.reference = float(np.median(action_norms, axis=0).max())
        return self.last_loss

    @property
    def threshold(self) -> float:
        """The absolute edge threshold (standardised units) after calibration."""
        return self.relative_threshold * self.reference

    def _inputs(self, states: np.ndarray, actions: np.ndarray) -> th.Tensor:
        if self.model is None or self.inputs is None:
            raise RuntimeError("LocalDynamics used before fit")
        x = self.inputs(np.concatenate([states, actions], axis=1))
        return th.as_tensor(x, dtype=th.float32, device=self.device)

    def jacobians(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """``(rows, |S|, |S| + |A|)`` full Jacobians of the standardised model at each row (``|S|`` vector-Jacobian
        products per row; :meth:`free` needs far fewer)."""
        x = self._inputs(states, actions)
        single = lambda row: self.model(row[None, :])[0]  # noqa: E731 - the function vmap maps over rows
        return self._chunked(vmap(jacrev(single)), x, (self.obs_dim, self.obs_dim + self.action_dim))

    def action_jacobians(self, x: th.Tensor) -> np.ndarray:
        """``(rows, |S|, |A|)``: derivatives by the action only (``|A|`` forward-mode products per row)."""
        n_s = self.obs_dim

        def by_action(action: th.Tensor, state: th.Tensor) -> th.Tensor:
            return self.model(th.cat([state, action])[None, :])[0]

        batched = vmap(jacfwd(by_action), in_dims=(0, 0))
        return self._chunked(lambda rows: batched(rows[:, n_s:], rows[:, :n_s]), x, (n_s, self.action_dim))

    def state_jacobians(self, x: th.Tensor, dims: np.ndarray) -> np.ndarray:
        """``(rows, len(dims), |S|)``: derivatives of the next-state dims ``dims`` by the state."""
        index = th.as_tensor(np.asarray(dims), dtype=th.long, device=self.device)
        single = lambda row: self.model(row[None, :])[0, index]  # noqa: E731 - the function vmap maps over rows
        full = self._chunked(vmap(jacrev(single)), x, (len(index), self.obs_dim + self.action_dim))
        return full[:, :, : self.obs_dim]

    @staticmethod
    def _chunked(fn, x: th.Tensor, shape: tuple[int, int]) -> np.ndarray:
        out = np.empty((len(x), *shape), dtype=np.float32)
        with th.no_grad():
            for start in range(0, len(x), JACOBIAN_CHUNK):
                out[start : start + JACOBIAN_CHUNK] = fn(x[start : start + JACOBIAN_CHUNK]).cpu().numpy()
        return out

    def free(self, states: np.ndarray, actions: np.ndarray, dims: np.ndarray | None = None) -> np.ndarray:
        """``(rows, |S|)``: whether each of ``dims`` (default: every state dim) is locally independent of the action
        and of the dims the action drives at that row (other dims: False). Costs ``|A| + len(dims)`` Jacobian-vector
        products per row instead of a full Jacobian's ``|S|``."""
        dims = np.arange(self.obs_dim) if dims is None else np.asarray(dims, dtype=int)
        free = np.zeros((len(states), self.obs_dim), dtype=bool)
        if dims.size == 0:
            return free
        x = self._inputs(states, actions)
        action_jac = self.action_jacobians(x)
        state_jac = self.state_jacobians(x, dims)
        free[:, dims] = locally_free_dims(action_jac, state_jac, dims, self.threshold)
        return free

    def state_dict(self) -> dict:
        """Parameters and scalers as tensors (empty before the first fit)."""
        if self.model is None or self.inputs is None or self.outputs is None:
            return {}
        return {
            "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            "scalers": th.as_tensor(
                np.stack(
                    [
                        np.concatenate([self.inputs.mean, self.outputs.mean]),
                        np.concatenate([self.inputs.std, self.outputs.std]),
                    ]
                )
            ),
            "last_loss": float(self.last_loss),
            "reference": float(self.reference),
        }

    def load_state_dict(self, state: dict) -> None:
        """Inverse of :meth:`state_dict`."""
        if not state:
            self.model = self.inputs = self.outputs = None
            return
        with th.random.fork_rng(devices=[]):  # building the module draws init weights: keep the global stream
            model = DynamicsModel(self.obs_dim, self.action_dim, self.net_arch)
        model.load_state_dict(state["model"])
        self.model = model.to(self.device).eval()
        scalers = state["scalers"].numpy()
        n_in = self.obs_dim + self.action_dim
        self.inputs = Standardiser(scalers[0, :n_in], scalers[1, :n_in])
        self.outputs = Standardiser(scalers[0, n_in:], scalers[1, n_in:])
        self.last_loss = float(state["last_loss"])
        self.reference = float(state["reference"])
