"""The fast selective Kirchhoff scan (same numbers as ``selective_scan_ref``)."""

from __future__ import annotations

from torch import Tensor

from kinnsci.discretize import Discretizer, get_discretizer
from kinnsci.scan.checks import check_scan_inputs
from kinnsci.scan.fused import blocked_selective_scan
from kinnsci.scan.linear_recurrence import linear_recurrence

DEFAULT_BLOCK = 64  # positions per block: (batch, 64, D, N) stays cache-resident on CPUs


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
    """Selective scan in blocks of ``chunk`` positions (default 64), recomputed in backward;
    arguments and result as :func:`kinnsci.scan.selective_scan_ref` (x, delta
    (batch, length, D); A (D, N); B, C (batch, length, N); D (D,) -> y (batch, length, D)).
    """
    check_scan_inputs(x, delta, A, B, C, D)
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk must be >= 1 positions, got {chunk}")
    y = blocked_selective_scan(
        x, delta, A, B, C, get_discretizer(discretizer), chunk or DEFAULT_BLOCK
    )
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
