"""The fast selective Kirchhoff scan (same numbers as ``selective_scan_ref``)."""

from __future__ import annotations

import torch
from torch import Tensor

from kinnsci.discretize import Discretizer, get_discretizer
from kinnsci.errors import ConfigError
from kinnsci.scan import cpu_kernel
from kinnsci.scan.checks import check_scan_inputs
from kinnsci.scan.flops import record_scan
from kinnsci.scan.fused import blocked_selective_scan
from kinnsci.scan.linear_recurrence import linear_recurrence

BACKENDS = ("auto", "fused", "blocked")
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
    backend: str = "auto",
    reverse: bool = False,
) -> Tensor:
    """Selective scan; arguments and result as :func:`kinnsci.scan.selective_scan_ref`
    (x, delta (batch, length, D); A (D, N); B, C (batch, length, N); D (D,) ->
    y (batch, length, D)).

    ``backend``:
      * ``"fused"``: the compiled CPU kernel (:mod:`kinnsci.scan.cpu_kernel`), for CPU
        tensors with the ``zoh``, ``euler`` or ``bilinear`` discretizer;
      * ``"blocked"``: pure PyTorch, blocks of ``chunk`` positions (default 64) recomputed
        in backward; any device, any discretizer;
      * ``"auto"``: ``fused`` where it applies and compiles, else ``blocked``.

    ``reverse=True`` runs the recurrence from the last position to the first (the
    anti-causal scan of bidirectional and 4-direction layers); it equals flipping every
    input along the length, scanning, and flipping y back, without the copies.
    """
    check_scan_inputs(x, delta, A, B, C, D)
    if chunk is not None and chunk < 1:
        raise ConfigError(f"chunk must be >= 1 positions, got {chunk}")
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {BACKENDS}, got {backend!r}")
    disc = get_discretizer(discretizer)
    record_scan(*x.shape, A.shape[1])
    if x.is_meta:  # shape propagation (FLOP counting on the meta device): nothing to compute
        return torch.empty_like(x)
    fusable = x.device.type == "cpu" and getattr(disc, "name", None) in cpu_kernel.MODES
    if backend == "fused" and not (fusable and cpu_kernel.available()):
        raise ConfigError("backend='fused' needs CPU tensors, discretizer 'zoh', 'euler' or "
                          "'bilinear' and a working C++ compiler; use backend='blocked'")
    if backend != "blocked" and fusable and cpu_kernel.available():
        return cpu_kernel.fused_selective_scan(x, delta, A, B, C, D, disc.name,
                                               chunk or cpu_kernel.CHUNK, reverse)
    if reverse:
        x, delta, B, C = (t.flip(1) for t in (x, delta, B, C))
    y = blocked_selective_scan(x, delta, A, B, C, disc, chunk or DEFAULT_BLOCK)
    y = y if D is None else y + D * x
    return y.flip(1) if reverse else y


def time_invariant_scan(
    x: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    discretizer: str | Discretizer = "zoh",
    chunk: int | None = None,
    reverse: bool = False,
) -> Tensor:
    """Scan of a bank of linear cells with constant per-channel B, C ``(D, N)`` (the
    non-selective KNC): x, delta (batch, length, D) -> y (batch, length, D); ``reverse``
    as in :func:`selective_scan`."""
    if B.shape != A.shape or C.shape != A.shape:
        raise ConfigError(
            f"B and C must match A's shape (D, N) = {tuple(A.shape)}, got "
            f"{tuple(B.shape)} and {tuple(C.shape)}"
        )
    record_scan(*x.shape, A.shape[1])
    if reverse:
        x, delta = x.flip(1), delta.flip(1)
    a, b = get_discretizer(discretizer).coefficients(A, B, delta[..., None])
    h = linear_recurrence(a, b * x[..., None], chunk)
    y = (h * C).sum(-1)
    y = y if D is None else y + D * x
    return y.flip(1) if reverse else y
