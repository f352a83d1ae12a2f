"""Zero-order hold: the exact update of a linear cell with an input held constant."""

from __future__ import annotations

import torch
from torch import Tensor

from kinnsci.discretize.base import LinearDiscretizer, as_step

SERIES_BELOW = 1.0
"""The one ZOH specification every scan backend implements (PyTorch here, the C++ kernel
through compile-time defines, the Triton kernel through constexprs): where |z| = |dt A|
is below this, phi1(z) = (e^z - 1) / z and phi1'(z) are summed from their Taylor series;
above it, from their closed forms. phi1' = (z e^z - e^z + 1) / z^2 cancels as z -> 0
(relative error ~eps / |z|), so the closed form is used only where that is ~eps; the
series, summed term by term, is ~eps there with :func:`series_terms` terms. Measured
against float64 ``expm`` over |z| in [1e-8, 50]: within 2e-7 (float32) and 5e-16
(float64) relative, values and derivatives (``tests/test_zoh_spec.py``)."""


def series_terms(dtype: torch.dtype) -> int:
    """Terms of the series below :data:`SERIES_BELOW` for a state of ``dtype``: the
    truncation error at |z| = 1 is below the dtype's epsilon (17 for float64, else 10:
    bfloat16/float16 inputs scan with a float32 state)."""
    return 17 if dtype == torch.float64 else 10


def phi1_series(z: Tensor, terms: int) -> Tensor:
    """sum_{k < terms} z^k / (k + 1)!, term by term (t_k = t_{k-1} z / (k + 1))."""
    term = torch.ones_like(z)
    total = term
    for k in range(1, terms):
        term = term * z * (1 / (k + 1))
        total = total + term
    return total


def dphi1_series(z: Tensor, terms: int) -> Tensor:
    """phi1'(z) = sum_{k < terms} (k + 1) z^k / (k + 2)!, term by term
    (t_k = t_{k-1} z (k + 1) / (k (k + 2)))."""
    term = torch.full_like(z, 0.5)
    total = term
    for k in range(1, terms):
        term = term * z * ((k + 1) / (k * (k + 2)))
        total = total + term
    return total


def phi1(z: Tensor) -> Tensor:
    """phi_1(z) = (e^z - 1) / z with phi_1(0) = 1, accurate (value and gradient) near 0.

    Near 0, expm1(z)/z is fine in value but its autograd derivative cancels
    catastrophically, so the Taylor series of the ZOH specification takes over below
    :data:`SERIES_BELOW`.
    """
    tiny = z.abs() < SERIES_BELOW
    z_safe = torch.where(tiny, torch.ones_like(z), z)
    return torch.where(tiny, phi1_series(z, series_terms(z.dtype)),
                       torch.expm1(z_safe) / z_safe)


class _ZOHCoefficients(torch.autograd.Function):
    """``(a, g) = (exp(dt A), expm1(dt A) / A)`` (g = dt where A = 0), broadcast over dt and
    A, with derivatives written out: da/ddt = A a, da/dA = dt a, dg/ddt = a and
    dg/dA = dt^2 phi1'(z), by its series below :data:`SERIES_BELOW` (the closed form
    (dt a - g) / A cancels there). Five full-size passes forward, no branch on values
    (no host synchronisation)."""

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
        small = z.abs() < SERIES_BELOW
        series = dphi1_series(z, series_terms(z.dtype))
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
