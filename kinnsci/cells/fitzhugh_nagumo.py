"""FitzHugh–Nagumo neurons, the hidden units of DynPMNN."""

from __future__ import annotations

import torch
from torch import Tensor

from kinnsci.cells.base import Cell, place, register_tensors
from kinnsci.errors import ConfigError

_FORMS = ("dynpmnn", "classic")


class FitzHughNagumoCell(Cell):
    """``channels`` independent FitzHugh–Nagumo neurons (nonlinear; dimensionless time).

    State ``h = [v_1..v_n, w_1..w_n]`` ``(..., 2n)``; input ``u (..., n)`` is an external
    current added to the constant bias ``current``; output ``y = v (..., n)``.

    ``form="dynpmnn"`` (the DynPMNN authors' code)::

        dv/dt = I + u - v (v - a)(v - 1) - w,    dw/dt = b (v - g w)
        defaults a = 0.2, b = 0.02, g = 3, I = 0

    ``form="classic"`` (FitzHugh 1961)::

        dv/dt = v - v^3 / 3 - w + I + u,         dw/dt = eps (v + a - b w)
        defaults a = 0.7, b = 0.8, eps = 0.08, I = 0

    Args:
        trainable: make (a, b, g) resp. (a, b, eps) learnable, as DynPMNN does.

    Raises:
        ConfigError: an unknown ``form`` or ``channels < 1``.
    """

    name = "fitzhugh_nagumo"

    def __init__(
        self,
        channels: int = 1,
        form: str = "dynpmnn",
        *,
        a: float | None = None,
        b: float | None = None,
        g: float | None = None,
        eps: float | None = None,
        current: float = 0.0,
        trainable: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if form not in _FORMS:
            raise ConfigError(f"form must be one of {_FORMS}, got {form!r}")
        if channels < 1:
            raise ConfigError(f"channels must be >= 1, got {channels}")
        self.form = form
        self.channels = channels
        self.state_dim, self.input_dim, self.output_dim = 2 * channels, channels, channels
        if form == "dynpmnn":
            values = {
                "a": 0.2 if a is None else a,
                "b": 0.02 if b is None else b,
                "g": 3.0 if g is None else g,
            }
        else:
            values = {
                "a": 0.7 if a is None else a,
                "b": 0.8 if b is None else b,
                "eps": 0.08 if eps is None else eps,
            }
        register_tensors(self, {name: torch.tensor(float(value),
                                                    dtype=torch.get_default_dtype())
                                for name, value in values.items()}, trainable)
        self.register_buffer("current", torch.tensor(float(current)))
        place(self, device, dtype)

    def vector_field(self, t: Tensor | float, h: Tensor, u: Tensor) -> Tensor:
        v, w = h[..., : self.channels], h[..., self.channels :]
        drive = self.current + u
        if self.form == "dynpmnn":
            dv = drive - v * (v - self.a) * (v - 1.0) - w
            dw = self.b * (v - self.g * w)
        else:
            dv = v - v**3 / 3.0 - w + drive
            dw = self.eps * (v + self.a - self.b * w)
        return torch.cat([dv, dw], dim=-1)

    def readout(self, h: Tensor, u: Tensor) -> Tensor:
        return h[..., : self.channels]
