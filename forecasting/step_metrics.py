"""The training metrics of the steps since the last log, read on the host in one transfer (the NaN guard included).

A method's ``loss`` returns its metrics as detached 0-dim tensors on its device (or plain floats); reading each
one per step (``float(t)``) would stall a GPU once per metric per step. :class:`StepMetrics` keeps them as they
come and :meth:`StepMetrics.read` copies every pending value to the host at once, at the steps where the trainer
needs numbers (logging, validation, checkpoints). The NaN guard runs there too, step by step in order, so the
error still names the first step and metric that went non-finite (and no checkpoint holds non-finite weights:
the trainer reads before it saves).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import numpy as np
import torch

from causal_priors.rundir import check_finite

#: a metric value as a method returns it
Scalar = float | torch.Tensor


def to_host(rows: list[Mapping[str, Scalar]]) -> list[dict[str, float]]:
    """Every row's values as floats; the tensors among them (0-dim, one device) are copied in one transfer."""
    tensors = [v for row in rows for v in row.values() if isinstance(v, torch.Tensor)]
    values = iter(torch.stack([t.detach().reshape(()).to(torch.float64) for t in tensors]).tolist() if tensors else [])
    return [{k: next(values) if isinstance(v, torch.Tensor) else float(v) for k, v in row.items()} for row in rows]


#: the key under which :meth:`StepMetrics.read` carries a step's loss tensor beside its metrics
LOSS_KEY = " loss tensor"


class StepMetrics:
    """Per-step training metrics: device values pending, host floats per metric name.

    Args:
        pending: host values restored from a checkpoint (``state.json``'s ``pending_metrics``).
    """

    def __init__(self, pending: Mapping[str, list[float]] | None = None) -> None:
        self.host: dict[str, list[float]] = defaultdict(list)
        for key, values in (pending or {}).items():
            self.host[key].extend(float(x) for x in values)
        self._unread: list[tuple[int, torch.Tensor, dict[str, Scalar]]] = []

    def add(self, step: int, loss: torch.Tensor, metrics: Mapping[str, Scalar]) -> None:
        """Keep the loss and metrics of ``step`` (nothing is read from the device here)."""
        self._unread.append((step, loss.detach(), dict(metrics)))

    def read(self) -> None:
        """Copy every pending value to the host in one transfer, then check them step by step.

        Raises:
            TrainingError: a metric or the loss of a step is non-finite (the first such step and name).
        """
        if not self._unread:
            return
        unread, self._unread = self._unread, []
        rows = to_host([{**metrics, LOSS_KEY: loss} for _, loss, metrics in unread])
        for (step, _, _), host in zip(unread, rows, strict=True):
            loss = host.pop(LOSS_KEY)
            check_finite(host, step)
            check_finite({"loss": loss}, step)
            for key, value in host.items():
                self.host[key].append(value)

    def means(self) -> dict[str, float]:
        """The mean of every metric over the steps held (read first)."""
        self.read()
        return {key: float(np.mean(values)) for key, values in self.host.items()}

    def pending(self) -> dict[str, list[float]]:
        """The host values held, for a checkpoint (read first)."""
        self.read()
        return {key: list(values) for key, values in self.host.items()}

    def clear(self) -> None:
        """Forget the values held (after a log)."""
        self.read()
        self.host.clear()
