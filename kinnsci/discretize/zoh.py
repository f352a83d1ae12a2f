"""Zero-order hold: the exact update of a linear cell with an input held constant."""

from __future__ import annotations

import torch
from torch import Tensor

from kinnsci.discretize.base import LinearDiscretizer, as_step


def phi1(z: Tensor) -> Tensor:
    """phi_1(z) = (e^z - 1) / z with phi_1(0) = 1, accurate (value and gradient) near 0.

    Near 0, expm1(z)/z is fine in value but its autograd derivative cancels
    catastrophically, so a Taylor series takes over below a dtype-dependent threshold
    (truncation error z^5/720 stays below the dtype's epsilon there).
    """
    small = 1e-3 if z.dtype == torch.float64 else 0.05
    tiny = z.abs() < small
    z_safe = torch.where(tiny, torch.ones_like(z), z)
    series = 1 + z * (1 / 2 + z * (1 / 6 + z * (1 / 24 + z / 120)))
    return torch.where(tiny, series, torch.expm1(z_safe) / z_safe)




class ZOH(LinearDiscretizer):
    """Exact zero-order-hold discretization of dh/dt = A h + B u.

    Abar = exp(dt A),  Bbar = dt * phi_1(dt A) * B = (exp(dt A) - 1) / A * B,
    with the A -> 0 limit Bbar = dt B taken without dividing by zero. Exact for linear cells
    with piecewise-constant input, hence stable for every dt > 0 when Re(A) <= 0.
    A dense A uses the augmented matrix exponential exp([[A, B], [0, 0]] dt).
    """

    name = "zoh"
    order = None  # exact: no truncation error for linear cells
    exact_for_linear = True
    a_stable = True
    supports_nonlinear = False

    def coefficients(self, A: Tensor, B: Tensor, dt: float | Tensor) -> tuple[Tensor, Tensor]:
        """``(exp(dt A), dt phi_1(dt A) B)`` elementwise; see :meth:`Discretizer.coefficients`.

        No branch on values (a faster ``expm1(z) / A`` needs |A| bounded away from 0, and
        finding that out is a device-to-host synchronisation): phi_1 handles every z.
        """
        dt = as_step(dt, A)
        z = dt * A
        return torch.exp(z), dt * phi1(z) * B

    def coefficients_dense(self, A: Tensor, B: Tensor, dt: float | Tensor) -> tuple[Tensor, Tensor]:
        dt = as_step(dt, A)
        n, m = B.shape[-2], B.shape[-1]
        top = torch.cat([A, B], dim=-1)
        aug = torch.cat([top, top.new_zeros(m, n + m)], dim=-2)
        expo = torch.linalg.matrix_exp(dt[..., None, None] * aug)
        return expo[..., :n, :n], expo[..., :n, n:]
