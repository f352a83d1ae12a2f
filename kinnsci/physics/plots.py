"""Figures a scientist reads at a glance: the energy spectrum of prediction against truth
and the residual map beside the error map; conservation drift over rollout steps."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from torch import Tensor

from kinnsci.physics.metrics import energy_spectrum


def _save(fig, path: str | os.PathLike) -> Path:
    fig.savefig(path, dpi=110)
    return Path(path)


def physics_figure(pred: Tensor, true: Tensor, residual: Tensor | None = None,
                   title: str = ""):
    """One sample: |error| map, PDE residual map (when given) and the radially averaged
    energy spectra of prediction and truth (log-log), per channel 0.

    Args:
        pred, true: (C, ny, nx) of one sample, physical units.
        residual: (ny', nx') residual of the prediction (its first component), or None.
    """
    from matplotlib.figure import Figure

    cols = 3 if residual is not None else 2
    fig = Figure(figsize=(4.2 * cols, 3.6), layout="constrained")
    axes = fig.subplots(1, cols)
    err = (pred[0] - true[0]).abs().numpy()
    im = axes[0].imshow(err, origin="lower", cmap="magma")
    axes[0].set_title("|prediction − truth|", fontsize=9)
    fig.colorbar(im, ax=axes[0], fraction=0.046)
    if residual is not None:
        r = residual.abs().numpy()
        im = axes[1].imshow(r, origin="lower", cmap="magma")
        axes[1].set_title("|PDE residual| of the prediction", fontsize=9)
        fig.colorbar(im, ax=axes[1], fraction=0.046)
    ax = axes[-1]
    for field, label in ((true, "truth"), (pred, "prediction")):
        k, e = energy_spectrum(field[0])
        keep = (k > 0) & (e > 0)
        ax.loglog(k[keep].numpy(), e[keep].numpy(), label=label)
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels overlap on short ranges
    ax.set_xlabel("wavenumber |k| (cycles per domain)")
    ax.set_ylabel("energy E(k)")
    ax.set_title("radially averaged energy spectrum", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    for a in axes[:-1]:
        a.set_xticks([])
        a.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_physics(pred: Tensor, true: Tensor, path: str | os.PathLike,
                 residual: Tensor | None = None, title: str = "") -> Path:
    """Save :func:`physics_figure` to ``path`` (PNG)."""
    return _save(physics_figure(pred, true, residual, title), path)


def plot_conservation(drift: dict[str, np.ndarray], path: str | os.PathLike,
                      variables: list[str] | None = None, title: str = "") -> Path:
    """Conserved-quantity error (left, per variable) and energy ratio (right) against
    rollout step."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    err = np.asarray(drift["conserved_error"])
    steps = np.arange(1, len(err) + 1)
    names = variables or [f"variable {i}" for i in range(err.shape[1])]
    for i, name in enumerate(names):
        left.plot(steps, err[:, i], marker=".", label=f"mean of {name}")
    left.set_xlabel("rollout step")
    left.set_ylabel("error of the spatial mean (RMS over trajectories)")
    left.set_title("conserved quantity: drift from the truth", fontsize=9)
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    right.plot(steps, drift["energy_ratio"], marker=".")
    right.axhline(1.0, color="k", lw=0.8, ls="--")
    right.set_xlabel("rollout step")
    right.set_ylabel("mean(prediction²) / mean(truth²)")
    right.set_title("energy of the rollout relative to the truth", fontsize=9)
    right.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


__all__ = ["physics_figure", "plot_conservation", "plot_physics"]
