"""DynPMNN: hidden layers that are FitzHugh–Nagumo neurons integrated in time."""

from __future__ import annotations

from torch import Tensor, nn

from kinnsci.cells.fitzhugh_nagumo import FitzHughNagumoCell
from kinnsci.discretize import get_discretizer
from kinnsci.errors import ConfigError
from kinnsci.models.io import SaveLoadMixin


class FHNLayer(nn.Module):
    """``hidden`` FitzHugh–Nagumo neurons: (v0, w0) = split(SiLU(LayerNorm(W x + b))), then
    ``steps`` steps of size ``t_end / steps`` with ``discretizer``; output v(t_end)
    (batch, hidden).

    The DynPMNN authors' setting is Euler with 25 steps, a = 0.2, b = 0.02, g = 3
    trainable, I = 0 and a step of 20. Taken literally that step diverges at once: the
    cubic term makes Euler stable only for dt · 3v² < 2, and SiLU(LayerNorm(·)) produces
    v up to ~2.6, so dt must stay below ~0.1. kinnsci keeps the authors' parameters and
    step count with t_end = 2.5 (dt = 0.1) by default; pass ``t_end`` to change it, and
    ``discretizer="adaptive"`` for long horizons.
    """

    def __init__(self, in_features: int, hidden: int, *, form: str = "dynpmnn",
                 discretizer: str = "euler", t_end: float = 2.5, steps: int = 25,
                 trainable: bool = True, **discretizer_kwargs) -> None:
        super().__init__()
        if t_end <= 0 or steps < 1:
            raise ConfigError(f"t_end must be > 0 and steps >= 1, got {t_end}, {steps}")
        self.initial = nn.Sequential(nn.Linear(in_features, 2 * hidden),
                                     nn.LayerNorm(2 * hidden), nn.SiLU())
        self.cell = FitzHughNagumoCell(hidden, form, trainable=trainable)
        self.discretizer = get_discretizer(discretizer, **discretizer_kwargs)
        self.dt, self.steps = t_end / steps, steps

    def forward(self, x: Tensor) -> Tensor:
        h = self.initial(x)  # [v0 (hidden), w0 (hidden)]
        u = h.new_zeros(h.shape[:-1] + (self.cell.channels,))
        for k in range(self.steps):
            h = self.discretizer.step(self.cell, h, u, k * self.dt, self.dt)
        return self.cell.readout(h, u)


class DynPMNN(SaveLoadMixin, nn.Module):
    """``n_layers`` FHN layers of ``hidden`` neurons and a linear readout.

    Input (batch, in_features) -> (batch, out_features).
    """

    name = "dynpmnn"  # registry name (kinnsci.models.MODELS)

    def __init__(self, in_features: int, out_features: int = 1, hidden: int = 16,
                 n_layers: int = 1, form: str = "dynpmnn", discretizer: str = "euler",
                 t_end: float = 2.5, steps: int = 25, trainable: bool = True) -> None:
        super().__init__()
        widths = [in_features] + [hidden] * n_layers
        self.layers = nn.ModuleList(
            FHNLayer(widths[i], hidden, form=form, discretizer=discretizer, t_end=t_end,
                     steps=steps, trainable=trainable) for i in range(n_layers))
        self.readout = nn.Linear(hidden, out_features)
        self.in_features = in_features

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[-1] != self.in_features:
            raise ConfigError(f"DynPMNN expects (batch, {self.in_features}) inputs, got "
                             f"{tuple(x.shape)}")
        for layer in self.layers:
            x = layer(x)
        return self.readout(x)


__all__ = ["DynPMNN", "FHNLayer"]
