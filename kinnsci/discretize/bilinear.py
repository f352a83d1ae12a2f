"""Bilinear (Tustin / trapezoidal) discretization of linear cells."""

from __future__ import annotations

import torch
from torch import Tensor

from kinnsci.discretize.base import LinearDiscretizer, as_step


class Bilinear(LinearDiscretizer):
    """Tustin: (1 - dt A / 2) h_k = (1 + dt A / 2) h_{k-1} + dt B u_k.

    Abar = (1 + dt A/2) / (1 - dt A/2), Bbar = dt B / (1 - dt A/2). Order 2 and A-stable
    (|Abar| <= 1 whenever Re(A) <= 0), but Abar -> -1 as dt a -> inf: stiff modes ring
    instead of decaying. Linear cells only (the nonlinear trapezoid needs a Newton solve).
    """

    name = "bilinear"
    order = 2
    exact_for_linear = False
    a_stable = True
    supports_nonlinear = False

    def coefficients(self, A: Tensor, B: Tensor, dt: float | Tensor) -> tuple[Tensor, Tensor]:
        dt = as_step(dt, A)
        half = dt * A / 2
        denom = 1 - half
        return (1 + half) / denom, dt * B / denom

    def coefficients_dense(self, A: Tensor, B: Tensor, dt: float | Tensor) -> tuple[Tensor, Tensor]:
        dt = as_step(dt, A)[..., None, None]
        eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
        lhs = eye - dt * A / 2
        a_bar = torch.linalg.solve(lhs, eye + dt * A / 2)
        b_bar = torch.linalg.solve(lhs, (dt * B).expand(*lhs.shape[:-1], B.shape[-1]))
        return a_bar, b_bar
