"""A Neural ODE (Chen et al. 2018) for vector inputs: encode, integrate an MLP vector field
with torchdiffeq, read out. The continuous-time baseline DynPMNN is compared with."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from kinnsci.errors import ConfigError
from kinnsci.models.base import BaseModel, check_rows


class _VectorField(nn.Module):
    """dh/dt = W2 tanh(W1 h + b1) + b2 (autonomous)."""

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(channels, width), nn.Tanh(),
                                 nn.Linear(width, channels))

    def forward(self, t: Tensor, h: Tensor) -> Tensor:
        return self.net(h)


class NeuralODE(BaseModel):
    """h(0) = W_in x; dh/dt = MLP(h) on t in [0, ``t_end``] by torchdiffeq (``method``,
    ``rtol``, ``atol``; ``adjoint=True`` for constant-memory gradients); y = W_out h(t_end).

    Args:
        hidden_channels: size of the ODE state h.
        field_width: hidden width of the vector field's MLP.

    Input (batch, in_channels) -> (batch, out_channels).

    Raises:
        ConfigError: a size < 1 or ``t_end <= 0``.
    """

    name = "neural_ode"

    def __init__(self, in_channels: int, out_channels: int = 1, hidden_channels: int = 8,
                 field_width: int = 32, t_end: float = 1.0, method: str = "dopri5",
                 rtol: float = 1e-3, atol: float = 1e-3, adjoint: bool = False) -> None:
        super().__init__()
        if min(in_channels, out_channels, hidden_channels, field_width) < 1:
            raise ConfigError("in_channels, out_channels, hidden_channels and field_width "
                              f"must be >= 1, got {in_channels}, {out_channels}, "
                              f"{hidden_channels}, {field_width}")
        if t_end <= 0:
            raise ConfigError(f"t_end must be > 0, got {t_end}")
        self.encoder = nn.Linear(in_channels, hidden_channels)
        self.field = _VectorField(hidden_channels, field_width)
        self.readout = nn.Linear(hidden_channels, out_channels)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.t_end, self.method, self.rtol, self.atol = t_end, method, rtol, atol
        self.adjoint = adjoint

    def forward(self, x: Tensor) -> Tensor:
        """x (batch, in_channels) -> (batch, out_channels).

        Raises:
            ConfigError: ``x`` is not ``(batch, in_channels)``.
        """
        import torchdiffeq

        check_rows(self, x)
        solve = torchdiffeq.odeint_adjoint if self.adjoint else torchdiffeq.odeint
        times = torch.tensor([0.0, self.t_end], dtype=x.dtype, device=x.device)
        h = solve(self.field, self.encoder(x), times, rtol=self.rtol, atol=self.atol,
                  method=self.method)[-1]
        return self.readout(h)


__all__ = ["NeuralODE"]
