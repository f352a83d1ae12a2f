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
from torch import Tensor, nn
from torchdiffeq import odeint

from kinnsci.cells.circuit import CircuitCell
from kinnsci.cells.topology import fully_connected
from kinnsci.errors import ConfigError
from kinnsci.models.io import SaveLoadMixin


class _AugmentedField(nn.Module):
    def __init__(self, cell: CircuitCell):
        super().__init__()
        self.cell = cell

    def forward(self, t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        v, _ = state
        with torch.enable_grad():
            v = v if v.requires_grad else v.requires_grad_(True)
            f = self.cell.vector_field(t, v)
            trace = torch.zeros_like(v[:, 0])
            for i in range(v.shape[1]):
                trace = trace + torch.autograd.grad(f[:, i].sum(), v, create_graph=True)[0][:, i]
        return f, trace


class KirchhoffFlow(SaveLoadMixin, nn.Module):
    """A ``dim``-node circuit (plus ground), fully connected with ``repeat`` devices per edge.

    ``log_prob(x)``: (batch, dim) -> (batch,); ``sample(n)``: (n, dim).
    """

    name = "kirchhoff_flow"  # registry name (kinnsci.models.MODELS)

    def __init__(self, dim: int = 2, repeat: int = 16, branch: str = "tanh",
                 period_time: float = 1.0, rtol: float = 1e-4, atol: float = 1e-4,
                 method: str = "dopri5") -> None:
        super().__init__()
        if dim < 1 or repeat < 1 or period_time <= 0:
            raise ConfigError(f"dim and repeat must be >= 1 and period_time > 0, got {dim}, "
                             f"{repeat}, {period_time}")
        self.dim = dim
        self.cell = CircuitCell(dim, fully_connected(dim, repeat), branch)
        self.field = _AugmentedField(self.cell)
        self.period_time = period_time
        self.rtol, self.atol, self.method = rtol, atol, method

    def _check(self, x: Tensor) -> None:
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ConfigError(f"expected points of shape (batch, {self.dim}), got "
                             f"{tuple(x.shape)}")

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density of points x (batch, dim), in nats."""
        self._check(x)
        times = torch.tensor([self.period_time, 0.0], dtype=x.dtype, device=x.device)
        v, a = odeint(self.field, (x, torch.zeros_like(x[:, 0])), times, rtol=self.rtol,
                      atol=self.atol, method=self.method)
        z, delta = v[-1], a[-1]
        base = -0.5 * (z**2).sum(-1) - 0.5 * self.dim * math.log(2 * math.pi)
        return base + delta

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n points pushed from N(0, I) through the circuit: (n, dim)."""
        z = torch.randn(n, self.dim, generator=generator, dtype=self.cell.theta.dtype)
        times = torch.tensor([0.0, self.period_time], dtype=z.dtype)
        return odeint(lambda t, v: self.cell.vector_field(t, v), z, times, rtol=self.rtol,
                      atol=self.atol, method=self.method)[-1]

    def forward(self, x: Tensor) -> Tensor:
        return self.log_prob(x)
