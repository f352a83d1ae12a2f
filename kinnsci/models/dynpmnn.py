"""DynPMNN: hidden layers that are FitzHugh–Nagumo neurons integrated in time."""

from __future__ import annotations

from torch import Tensor, nn

from kinnsci._deprecation import renamed_arguments
from kinnsci.cells.fitzhugh_nagumo import FitzHughNagumoCell
from kinnsci.discretize import Discretizer, get_discretizer
from kinnsci.errors import ConfigError
from kinnsci.models.base import BaseModel, check_rows


class FHNLayer(nn.Module):
    """``hidden_channels`` FitzHugh–Nagumo neurons: (v0, w0) = split(SiLU(LayerNorm(W x +
    b))), then ``n_steps`` steps of size ``dt = t_end / n_steps`` with ``discretizer``;
    output v(t_end) (batch, hidden_channels).

    The DynPMNN authors' setting is Euler with 25 steps, a = 0.2, b = 0.02, g = 3
    trainable, I = 0 and a step of 20. Taken literally that step diverges at once: the
    cubic term makes Euler stable only for dt · 3v² < 2, and SiLU(LayerNorm(·)) produces
    v up to ~2.6, so dt must stay below ~0.1. kinnsci keeps the authors' parameters and
    step count with t_end = 2.5 (dt = 0.1) by default; pass ``t_end`` to change it, and
    ``discretizer="adaptive"`` for long horizons.

    Raises:
        ConfigError: ``t_end <= 0`` or ``n_steps < 1``.
    """

    @renamed_arguments(in_features="in_channels", hidden="hidden_channels", steps="n_steps")
    def __init__(self, in_channels: int, hidden_channels: int, *, form: str = "dynpmnn",
                 discretizer: str | Discretizer = "euler", t_end: float = 2.5,
                 n_steps: int = 25, trainable: bool = True, **discretizer_kwargs) -> None:
        super().__init__()
        if t_end <= 0 or n_steps < 1:
            raise ConfigError(f"t_end must be > 0 and n_steps >= 1, got t_end={t_end}, "
                              f"n_steps={n_steps}")
        self.initial = nn.Sequential(nn.Linear(in_channels, 2 * hidden_channels),
                                     nn.LayerNorm(2 * hidden_channels), nn.SiLU())
        self.cell = FitzHughNagumoCell(hidden_channels, form, trainable=trainable)
        self.discretizer = get_discretizer(discretizer, **discretizer_kwargs)
        self.dt, self.n_steps = t_end / n_steps, n_steps

    def forward(self, x: Tensor) -> Tensor:
        h = self.initial(x)  # [v0 (hidden), w0 (hidden)]
        u = h.new_zeros(h.shape[:-1] + (self.cell.channels,))
        for k in range(self.n_steps):
            h = self.discretizer.step(self.cell, h, u, k * self.dt, self.dt)
        return self.cell.readout(h, u)


class DynPMNN(BaseModel):
    """``n_layers`` FHN layers (:class:`FHNLayer`) of ``hidden_channels`` neurons and a
    linear readout, each layer integrating ``n_steps`` steps over ``t_end``.

    Input (batch, in_channels) -> (batch, out_channels).

    Raises:
        ConfigError: ``t_end <= 0`` or ``n_steps < 1``.
    """

    name = "dynpmnn"
    renamed_arguments = {"in_features": "in_channels", "out_features": "out_channels",
                         "hidden": "hidden_channels", "steps": "n_steps"}

    def __init__(self, in_channels: int, out_channels: int = 1, hidden_channels: int = 16,
                 n_layers: int = 1, form: str = "dynpmnn",
                 discretizer: str | Discretizer = "euler",
                 t_end: float = 2.5, n_steps: int = 25, trainable: bool = True) -> None:
        super().__init__()
        widths = [in_channels] + [hidden_channels] * n_layers
        self.layers = nn.ModuleList(
            FHNLayer(widths[i], hidden_channels, form=form, discretizer=discretizer,
                     t_end=t_end, n_steps=n_steps, trainable=trainable)
            for i in range(n_layers))
        self.readout = nn.Linear(hidden_channels, out_channels)
        self.in_channels, self.out_channels = in_channels, out_channels

    def forward(self, x: Tensor) -> Tensor:
        """x (batch, in_channels) -> (batch, out_channels).

        Raises:
            ConfigError: ``x`` is not ``(batch, in_channels)``.
        """
        check_rows(self, x)
        for layer in self.layers:
            x = layer(x)
        return self.readout(x)


__all__ = ["DynPMNN", "FHNLayer"]
