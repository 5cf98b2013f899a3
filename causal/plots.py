"""Pictures of a :class:`FactoredGraph`: a heat map of its blocks, a drawing of the graph and the weights.

Uses matplotlib's Agg backend through the object API (no pyplot state), so it is safe in worker
processes and tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from causal.graph import FactoredGraph

__all__ = ["plot_graph", "save_graph_png"]


def _block_matrix(g: FactoredGraph) -> tuple[np.ndarray, list[str]]:
    rows = [np.concatenate([g.reward_state_coef, g.reward_action_coef])]
    labels = ["r"]
    if g.transition_coef is not None:
        rows += list(g.transition_coef)
        labels += [f"s'{j}" for j in range(g.state_dim)]
    return np.array(rows), labels


def _draw_graph(ax, g: FactoredGraph) -> None:
    """Inputs (states, actions) on the left, reward on the right; reward edges coloured by sign."""
    n_in = g.state_dim + g.action_dim
    ys = np.linspace(1.0, 0.0, n_in) if n_in > 1 else np.array([0.5])
    coef = np.concatenate([g.reward_state_coef, g.reward_action_coef])
    edges = np.concatenate([g.reward_state_edges, g.reward_action_edges])
    scale = max(float(np.abs(coef).max()), 1e-12)
    for i in np.flatnonzero(edges):
        color = "tab:red" if coef[i] > 0 else "tab:blue"
        ax.plot([0.0, 1.0], [ys[i], 0.5], color=color, lw=0.5 + 3.5 * abs(coef[i]) / scale, alpha=0.8, zorder=1)
    if g.transition_edges is not None:  # self/cross dynamics as faint arcs between inputs
        for j, i in np.argwhere(g.transition_edges):
            if i != j:
                ax.plot([-0.08, -0.16, -0.08], [ys[i], (ys[i] + ys[j]) / 2, ys[j]], color="0.8", lw=0.4, zorder=0)
    dropped = set(g.dropped_state) | {g.state_dim + k for k in g.dropped_action}
    labels = [f"s{i}" for i in range(g.state_dim)] + [f"a{k}" for k in range(g.action_dim)]
    for i, label in enumerate(labels):
        face = "0.85" if i in dropped else ("tab:green" if i >= g.state_dim else "white")
        ax.scatter([0.0], [ys[i]], s=60, c=[face], edgecolors="k", zorder=2)
        ax.text(-0.04, ys[i], label, ha="right", va="center", fontsize=6)
    ax.scatter([1.0], [0.5], s=140, c=["gold"], edgecolors="k", zorder=2)
    ax.text(1.05, 0.5, "r", ha="left", va="center", fontsize=9)
    ax.set_xlim(-0.3, 1.2)
    ax.set_ylim(-0.05, 1.05)
    ax.axis("off")
    ax.set_title("reward graph (red +, blue -; grey arcs: transition)", fontsize=8)


def plot_graph(g: FactoredGraph, title: str | None = None) -> Figure:
    """Figure with three panels: block heat map, graph drawing, weights ``w_s`` / ``w_a``."""
    mat, row_labels = _block_matrix(g)
    fig = Figure(figsize=(14, 4.8), dpi=100)
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.3, 1.0, 1.0]})
    vmax = max(float(np.abs(mat).max()), 1e-12)
    im = axes[0].imshow(mat, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto", interpolation="nearest")
    cols = [f"s{i}" for i in range(g.state_dim)] + [f"a{k}" for k in range(g.action_dim)]
    axes[0].set_xticks(range(len(cols)), cols, rotation=90, fontsize=6)
    axes[0].set_yticks(range(len(row_labels)), row_labels, fontsize=6)
    axes[0].axvline(g.state_dim - 0.5, color="k", lw=0.8)
    if len(row_labels) > 1:
        axes[0].axhline(0.5, color="k", lw=0.8)
    axes[0].set_title("coefficients (rows: effect, columns: cause)", fontsize=8)
    fig.colorbar(im, ax=axes[0], fraction=0.04)
    _draw_graph(axes[1], g)
    w = np.concatenate([g.w_s, g.w_a])
    colors = ["tab:gray"] * g.state_dim + ["tab:green"] * g.action_dim
    axes[2].bar(range(w.size), w, color=colors)
    axes[2].axhline(1.0, color="k", lw=0.6, ls="--")
    axes[2].set_xticks(range(w.size), cols, rotation=90, fontsize=6)
    axes[2].set_title(f"weights w_s (grey), w_a (green), T={g.temperature:g}", fontsize=8)
    fig.suptitle(title or f"{g.method}: N={g.n_samples}, fit {g.fit_seconds:.2f}s", fontsize=10)
    fig.tight_layout()
    return fig


def save_graph_png(g: FactoredGraph, path: str | Path, title: str | None = None) -> Figure:
    """Render :func:`plot_graph` to a PNG file and return the figure."""
    fig = plot_graph(g, title)
    fig.savefig(str(path))
    return fig
