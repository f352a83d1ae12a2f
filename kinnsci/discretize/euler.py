"""Forward Euler: first order, the discretization most neural ODE layers use implicitly."""

from __future__ import annotations

import torch
from torch import Tensor

from kinnsci.cells.base import Cell
from kinnsci.discretize.base import Discretizer, as_step


class Euler(Discretizer):
    """Explicit Euler: h_k = h_{k-1} + dt f(t_{k-1}, h_{k-1}, u_k).

    For linear cells Abar = 1 + dt A, Bbar = dt B. Order 1; stable only while
    |1 + dt a| <= 1, i.e. dt <= 2 / a for a real decay rate a (diverges beyond).
    """

    name = "euler"
    order = 1
    exact_for_linear = False
    a_stable = False
    supports_nonlinear = True

    def coefficients(self, A: Tensor, B: Tensor, dt: float | Tensor) -> tuple[Tensor, Tensor]:
        dt = as_step(dt, A)
        return 1 + dt * A, dt * B * torch.ones_like(A)

    def coefficients_dense(self, A: Tensor, B: Tensor, dt: float | Tensor) -> tuple[Tensor, Tensor]:
        dt = as_step(dt, A)[..., None, None]
        eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
        return eye + dt * A, dt * B

    def step(self, cell: Cell, h: Tensor, u: Tensor, t: float | Tensor,
             dt: float | Tensor) -> Tensor:
        """h + dt f(t, h, u); linear cells through their (Abar, Bbar) (same numbers)."""
        dt = self.checked_step_size(cell, h, u, dt)
        if cell.is_linear:
            return self.linear_step(cell, h, u, dt)
        dt_ = dt[..., None] if dt.ndim else dt
        return h + dt_ * cell.vector_field(t, h, u)
