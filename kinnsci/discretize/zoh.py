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




_SMALL_Z = {torch.float64: 1e-3}  # below: the series of phi1'; float32/bf16: 0.05


class _ZOHCoefficients(torch.autograd.Function):
    """``(a, g) = (exp(dt A), expm1(dt A) / A)`` (g = dt where A = 0), broadcast over dt and
    A, with derivatives written out: da/ddt = A a, da/dA = dt a, dg/ddt = a and
    dg/dA = dt^2 phi1'(z), by its series where |z| is small (the closed form
    (dt a - g) / A cancels there). Five full-size passes forward, no branch on values
    (no host synchronisation); phi1's where-and-series form takes about twelve."""

    @staticmethod
    def forward(ctx, dt: Tensor, A: Tensor) -> tuple[Tensor, Tensor]:
        z = dt * A
        zero = A == 0
        g = torch.where(zero, dt, torch.expm1(z) / torch.where(zero, torch.ones_like(A), A))
        a = torch.exp(z)  # not expm1 + 1, which loses e^z < eps entirely
        ctx.save_for_backward(dt, A, a, g)
        return a, g

    @staticmethod
    def backward(ctx, grad_a: Tensor, grad_g: Tensor) -> tuple[Tensor, Tensor]:
        dt, A, a, g = ctx.saved_tensors
        z = dt * A
        small = z.abs() < _SMALL_Z.get(z.dtype, 0.05)
        series = 0.5 + z * (1 / 3 + z * (1 / 8 + z * (1 / 30 + z / 144)))
        safe_A = torch.where(A == 0, torch.ones_like(A), A)
        dg_dA = torch.where(small, dt * dt * series, (dt * a - g) / safe_A)
        grad_dt = grad_a * A * a + grad_g * a
        grad_A = grad_a * dt * a + grad_g * dg_dA
        return grad_dt.sum_to_size(dt.shape), grad_A.sum_to_size(A.shape)


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
        """``(exp(dt A), expm1(dt A) / A * B)`` elementwise (``dt B`` where A = 0); see
        :meth:`Discretizer.coefficients`. No branch on values, so no host sync."""
        dt = as_step(dt, A)
        a, g = _ZOHCoefficients.apply(dt, A)
        return a, g * B

    def coefficients_dense(self, A: Tensor, B: Tensor, dt: float | Tensor) -> tuple[Tensor, Tensor]:
        dt = as_step(dt, A)
        n, m = B.shape[-2], B.shape[-1]
        top = torch.cat([A, B], dim=-1)
        aug = torch.cat([top, top.new_zeros(m, n + m)], dim=-2)
        expo = torch.linalg.matrix_exp(dt[..., None, None] * aug)
        return expo[..., :n, :n], expo[..., :n, n:]
