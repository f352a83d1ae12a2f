"""The fast selective Kirchhoff scan (same numbers as ``selective_scan_ref``)."""

from __future__ import annotations

import torch
from torch import Tensor

from kinnsci._deprecation import renamed_arguments, warn_deprecated
from kinnsci.discretize import Discretizer, get_discretizer
from kinnsci.errors import ConfigError
from kinnsci.scan import cpu_kernel
from kinnsci.scan.checks import CHUNK_SIZE, check_scan_inputs
from kinnsci.scan.flops import record_scan
from kinnsci.scan.linear_recurrence import linear_recurrence
from kinnsci.scan.pytorch_scan import pytorch_selective_scan

BACKENDS = ("auto", "cpp", "pytorch")
RENAMED_BACKENDS = {"fused": "cpp", "blocked": "pytorch"}  # kinnsci 0.1's names


def _backend(backend: str) -> str:
    if backend in RENAMED_BACKENDS:
        warn_deprecated(f"selective_scan(backend={backend!r})",
                        f"backend={RENAMED_BACKENDS[backend]!r}", stacklevel=4)
        return RENAMED_BACKENDS[backend]
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return backend


@renamed_arguments(chunk="chunk_size")
def selective_scan(
    x: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    discretizer: str | Discretizer = "zoh",
    chunk_size: int | None = None,
    backend: str = "auto",
    reverse: bool = False,
) -> Tensor:
    """Selective scan; arguments and result as :func:`kinnsci.scan.selective_scan_ref`
    (x, delta (batch, length, D); A (D, N); B, C (batch, length, N); D (D,) ->
    y (batch, length, D)).

    ``backend``:
      * ``"cpp"``: the compiled C++ CPU kernel (:mod:`kinnsci.scan.cpu_kernel`), for CPU
        tensors with the ``zoh``, ``euler`` or ``bilinear`` discretizer;
      * ``"pytorch"``: plain PyTorch (:mod:`kinnsci.scan.pytorch_scan`); any device, any
        discretizer;
      * ``"auto"``: ``cpp`` where it applies and compiles, else ``pytorch``.

    Both chunk the sequence into ``chunk_size`` positions (default ``CHUNK_SIZE`` = 64):
    the state is carried between chunks and each chunk is recomputed in backward.

    ``reverse=True`` runs the recurrence from the last position to the first (the
    anti-causal scan of bidirectional and 4-direction layers); it equals flipping every
    input along the length, scanning, and flipping y back, without the copies.

    Raises:
        ConfigError: shapes off the contract, ``chunk_size < 1``, an unknown backend, or
            ``backend="cpp"`` where the kernel does not apply or did not compile.
    """
    check_scan_inputs(x, delta, A, B, C, D)
    if chunk_size is not None and chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1 positions, got {chunk_size}")
    backend = _backend(backend)
    disc = get_discretizer(discretizer)
    record_scan(*x.shape, A.shape[1])
    if x.is_meta:  # shape propagation (FLOP counting on the meta device): nothing to compute
        return torch.empty_like(x)
    fusable = x.device.type == "cpu" and getattr(disc, "name", None) in cpu_kernel.MODES
    if backend == "cpp" and not (fusable and cpu_kernel.available()):
        raise ConfigError("backend='cpp' needs CPU tensors, discretizer 'zoh', 'euler' or "
                          "'bilinear' and a working C++ compiler; use backend='pytorch'")
    if backend != "pytorch" and fusable and cpu_kernel.available():
        return cpu_kernel.fused_selective_scan(x, delta, A, B, C, D, disc.name,
                                               chunk_size or CHUNK_SIZE, reverse)
    if reverse:
        x, delta, B, C = (t.flip(1) for t in (x, delta, B, C))
    y = pytorch_selective_scan(x, delta, A, B, C, disc, chunk_size or CHUNK_SIZE)
    y = y if D is None else y + D * x
    return y.flip(1) if reverse else y


@renamed_arguments(chunk="chunk_size")
def time_invariant_scan(
    x: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    discretizer: str | Discretizer = "zoh",
    chunk_size: int | None = None,
    reverse: bool = False,
) -> Tensor:
    """Scan of a bank of linear cells with constant per-channel B, C ``(D, N)`` (the
    non-selective KNC): x, delta (batch, length, D) -> y (batch, length, D); ``reverse``
    as in :func:`selective_scan`; ``chunk_size`` as in :func:`linear_recurrence`.

    Raises:
        ConfigError: B or C do not match A's shape.
    """
    if B.shape != A.shape or C.shape != A.shape:
        raise ConfigError(
            f"B and C must match A's shape (D, N) = {tuple(A.shape)}, got "
            f"{tuple(B.shape)} and {tuple(C.shape)}"
        )
    record_scan(*x.shape, A.shape[1])
    if reverse:
        x, delta = x.flip(1), delta.flip(1)
    a, b = get_discretizer(discretizer).coefficients(A, B, delta[..., None])
    h = linear_recurrence(a, b * x[..., None], chunk_size)
    y = (h * C).sum(-1)
    y = y if D is None else y + D * x
    return y.flip(1) if reverse else y
