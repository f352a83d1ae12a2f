"""The fast selective Kirchhoff scan (same numbers as ``selective_scan_ref``)."""

from __future__ import annotations

import torch
from torch import Tensor

from kinnsci.discretize import Discretizer, get_discretizer
from kinnsci.scan.checks import check_scan_inputs
from kinnsci.scan.linear_recurrence import linear_recurrence
from kinnsci.scan.reference import discretize_selective


def selective_scan(
    x: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    discretizer: str | Discretizer = "zoh",
    chunk: int | None = None,
) -> Tensor:
    """Selective scan through the chunked linear recurrence; arguments and result as
    :func:`kinnsci.scan.selective_scan_ref` (x, delta (batch, length, D); A (D, N);
    B, C (batch, length, N); D (D,) -> y (batch, length, D))."""
    check_scan_inputs(x, delta, A, B, C, D)
    a, b = discretize_selective(x, delta, A, B, discretizer)
    h = linear_recurrence(a, b, chunk)  # (batch, length, D, N)
    y = torch.einsum("bldn,bln->bld", h, C)
    return y if D is None else y + D * x


def time_invariant_scan(
    x: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    discretizer: str | Discretizer = "zoh",
    chunk: int | None = None,
) -> Tensor:
    """Scan of a bank of linear cells with constant per-channel B, C ``(D, N)`` (the
    non-selective KNC): x, delta (batch, length, D) -> y (batch, length, D)."""
    if B.shape != A.shape or C.shape != A.shape:
        raise ValueError(
            f"B and C must match A's shape (D, N) = {tuple(A.shape)}, got "
            f"{tuple(B.shape)} and {tuple(C.shape)}"
        )
    a, b = get_discretizer(discretizer).coefficients(A, B, delta[..., None])
    h = linear_recurrence(a, b * x[..., None], chunk)
    y = (h * C).sum(-1)
    return y if D is None else y + D * x
