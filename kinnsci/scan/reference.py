"""The numerical reference of the selective Kirchhoff scan: a plain loop over time."""

from __future__ import annotations

import torch
from torch import Tensor

from kinnsci.discretize import Discretizer, get_discretizer
from kinnsci.scan.checks import check_scan_inputs


def discretize_selective(
    x: Tensor, delta: Tensor, A: Tensor, B: Tensor, discretizer: str | Discretizer
) -> tuple[Tensor, Tensor]:
    """Per-position coefficients of the selective scan.

    x, delta: (batch, length, D); A: (D, N); B: (batch, length, N).
    Returns ``(a, b)``, both (batch, length, D, N): ``a = Abar``, ``b = Bbar * x``.
    """
    disc = get_discretizer(discretizer)
    a_bar, b_bar = disc.coefficients(A, B[:, :, None, :], delta[..., None])
    return a_bar, b_bar * x[..., None]


def selective_scan_ref(
    x: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    discretizer: str | Discretizer = "zoh",
) -> Tensor:
    """Selective scan, reference loop (argument order of mamba-ssm's ``selective_scan_fn``).

    For every channel d and state n, with zero initial state::

        h_t = Abar_t * h_{t-1} + Bbar_t * x_t,     y_t = sum_n C_t[n] h_t[n] + D * x_t
        (ZOH) Abar_t = exp(delta_t A),  Bbar_t = (exp(delta_t A) - 1) / A * B_t

    Args:
        x: (batch, length, D) input sequence.
        delta: (batch, length, D) positive step sizes.
        A: (D, N) continuous-time rates (negative for decaying Kirchhoff nodes).
        B: (batch, length, N) input-dependent injection.
        C: (batch, length, N) input-dependent readout.
        D: (D,) skip connection, or None.
        discretizer: a registered name ("zoh", "euler", "bilinear") or an instance.

    Returns:
        y: (batch, length, D).
    """
    check_scan_inputs(x, delta, A, B, C, D)
    a, b = discretize_selective(x, delta, A, B, discretizer)
    h = x.new_zeros(x.shape[0], A.shape[0], A.shape[1])
    ys = []
    # unbind (not a[:, t]) so backward stacks the slices instead of scattering each one
    # into a full-size zero tensor, which would make the reference O(length^2)
    for a_t, b_t, c_t in zip(a.unbind(1), b.unbind(1), C.unbind(1), strict=True):
        h = a_t * h + b_t
        ys.append((h * c_t[:, None, :]).sum(-1))
    y = torch.stack(ys, dim=1)
    return y if D is None else y + D * x
