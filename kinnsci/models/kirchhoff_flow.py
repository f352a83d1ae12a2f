"""A KirchhoffNet as a continuous normalizing flow (KirchhoffNet, Sec. III; Chen et al. 2018).

The circuit maps a standard-normal sample z = v(0) to x = v(T). By the instantaneous
change of variables,

    log p(x) = log N(z; 0, I) − ∫₀ᵀ tr(∂f/∂v)(v(t)) dt,

computed by integrating (v, a) backwards from (x, 0) at t = T with da/dt = tr(∂f/∂v):
then z = v(0) and log p(x) = log N(z; 0, I) + a(0). The trace is exact (one autograd
pass per dimension), which is cheap for the low-dimensional densities this is meant for.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from kinnsci.cells.base import Cell
from kinnsci.cells.circuit import CircuitCell
from kinnsci.cells.topology import fully_connected
from kinnsci.discretize.adaptive import Adaptive
from kinnsci.errors import ConfigError
from kinnsci.models.base import BaseModel


class _ReversedDensityCell(Cell):
    """The state (v, a), ``(..., channels + 1)``, of the change of variables run backwards
    in time: at s = t_end - t, dv/ds = -f(v), da/ds = -tr(df/dv). Integrating it forwards
    from (x, 0) over [0, t_end] gives (z, log p(x) - log N(z)), so the ``adaptive``
    discretizer solves it like any cell. No inputs (``input_dim = 0``)."""

    def __init__(self, cell: CircuitCell, t_end: float) -> None:
        super().__init__()
        self.cell, self.t_end = cell, t_end
        self.state_dim, self.input_dim = cell.state_dim + 1, 0
        self.output_dim = self.state_dim

    def vector_field(self, t: Tensor | float, h: Tensor, u: Tensor | None = None) -> Tensor:
        with torch.enable_grad():
            v = h[..., :-1]
            v = v if v.requires_grad else v.detach().requires_grad_(True)
            f = self.cell.vector_field(self.t_end - t, v)
            trace = torch.zeros_like(v[..., 0])
            for i in range(v.shape[-1]):
                trace = trace + torch.autograd.grad(f[..., i].sum(), v,
                                                    create_graph=True)[0][..., i]
        return -torch.cat([f, trace[..., None]], dim=-1)

    def readout(self, h: Tensor, u: Tensor | None = None) -> Tensor:
        return h


class KirchhoffFlow(BaseModel):
    """A ``channels``-node circuit (plus ground), fully connected with ``repeat`` devices
    per edge, run for ``t_end`` seconds by the ``adaptive`` discretizer (``method``,
    ``rtol``, ``atol``).

    ``log_prob(x)``: (batch, channels) -> (batch,); ``sample(n)``: (n, channels).

    Raises:
        ConfigError: ``channels`` or ``repeat`` < 1, or ``t_end <= 0``.
    """

    name = "kirchhoff_flow"
    renamed_arguments = {"dim": "channels", "period_time": "t_end"}

    def __init__(self, channels: int = 2, repeat: int = 16, branch: str = "tanh",
                 t_end: float = 1.0, rtol: float = 1e-4, atol: float = 1e-4,
                 method: str = "dopri5") -> None:
        super().__init__()
        if channels < 1 or repeat < 1 or t_end <= 0:
            raise ConfigError(f"channels and repeat must be >= 1 and t_end > 0, got "
                              f"channels={channels}, repeat={repeat}, t_end={t_end}")
        self.channels = channels
        self.cell = CircuitCell(channels, fully_connected(channels, repeat), branch)
        self.density = _ReversedDensityCell(self.cell, t_end)
        self.t_end = t_end
        self.solver = Adaptive(method=method, rtol=rtol, atol=atol)

    def _check(self, x: Tensor) -> None:
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise ConfigError(f"expected points of shape (batch, {self.channels}), got "
                              f"{tuple(x.shape)}")

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density of points x (batch, channels), in nats."""
        self._check(x)
        start = torch.cat([x, x.new_zeros(x.shape[0], 1)], dim=-1)
        end = self.solver.step(self.density, start, x.new_zeros(x.shape[0], 0), 0.0,
                               self.t_end)
        z, delta = end[:, :-1], end[:, -1]
        base = -0.5 * (z**2).sum(-1) - 0.5 * self.channels * math.log(2 * math.pi)
        return base + delta

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n points pushed from N(0, I) through the circuit: (n, channels)."""
        z = torch.randn(n, self.channels, generator=generator, dtype=self.cell.theta.dtype)
        return self.solver.step(self.cell, z, z.new_zeros(n, 0), 0.0, self.t_end)

    def forward(self, x: Tensor) -> Tensor:
        """The log-density of ``x`` (batch, channels) -> (batch,)."""
        return self.log_prob(x)
