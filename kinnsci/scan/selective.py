"""The fast selective Kirchhoff scan (same numbers as ``selective_scan_ref``)."""

from __future__ import annotations

from torch import Tensor

from kinnsci._deprecation import renamed_arguments, warn_deprecated
from kinnsci.discretize import Discretizer, get_discretizer
from kinnsci.errors import ConfigError
from kinnsci.scan.backends import BACKENDS, choose_backend
from kinnsci.scan.checks import CHUNK_SIZE, check_scan_inputs
from kinnsci.scan.linear_recurrence import linear_recurrence

__all__ = ["BACKENDS", "selective_scan", "time_invariant_scan"]
RENAMED_BACKENDS = {"fused": "cpp", "blocked": "pytorch"}  # kinnsci 0.1's names


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
    y (batch, length, D)). Checks the call, then runs the backend
    :func:`~kinnsci.scan.backends.choose_backend` picks from the table of backends and
    their capabilities (:data:`~kinnsci.scan.backends.SCAN_BACKENDS`).

    ``backend``:
      * ``"cpp"``: the compiled C++ CPU kernel (:mod:`kinnsci.scan.cpu_kernel`), for CPU
        tensors;
      * ``"triton"``: the Triton GPU kernel (:mod:`kinnsci.scan.triton_kernel`), for CUDA
        tensors (and CPU tensors under ``TRITON_INTERPRET=1``, for testing);
      * ``"pytorch"``: plain PyTorch (:mod:`kinnsci.scan.pytorch_scan`); any device, any
        discretizer;
      * ``"auto"``: ``cpp`` on CPUs and ``triton`` on CUDA where they apply, else
        ``pytorch``.

    The fused kernels take the ``zoh``, ``euler`` and ``bilinear`` discretizers and run as
    the custom operator ``torch.ops.kinnsci.selective_scan`` (:mod:`kinnsci.scan.op`),
    which ``torch.compile`` traces without a graph break. Every backend chunks the
    sequence into ``chunk_size`` positions (default ``CHUNK_SIZE`` = 64): the state is
    carried between chunks and each chunk is recomputed in backward.

    ``reverse=True`` runs the recurrence from the last position to the first (the
    anti-causal scan of bidirectional and 4-direction layers); it equals flipping every
    input along the length, scanning, and flipping y back, without the copies.

    Raises:
        ConfigError: shapes off the contract, ``chunk_size < 1``, an unknown backend, or a
            backend that cannot run this scan.
    """
    check_scan_inputs(x, delta, A, B, C, D)
    if chunk_size is not None and chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1 positions, got {chunk_size}")
    if backend in RENAMED_BACKENDS:
        warn_deprecated(f"selective_scan(backend={backend!r})",
                        f"backend={RENAMED_BACKENDS[backend]!r}", stacklevel=4)
        backend = RENAMED_BACKENDS[backend]
    disc = get_discretizer(discretizer)
    chosen = choose_backend(backend, x, disc, reverse)
    return chosen.run(x, delta, A, B, C, D, disc, chunk_size or CHUNK_SIZE, reverse)


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
    if x.is_meta:  # FLOP counting: costed as a selective scan (the same 9 B L D N)
        return selective_scan(x, delta, A, x.new_empty(*x.shape[:2], A.shape[1]),
                              x.new_empty(*x.shape[:2], A.shape[1]), D, discretizer)
    if reverse:
        x, delta = x.flip(1), delta.flip(1)
    a, b = get_discretizer(discretizer).coefficients(A, B, delta[..., None])
    h = linear_recurrence(a, b * x[..., None], chunk_size)
    y = (h * C).sum(-1)
    y = y if D is None else y + D * x
    return y.flip(1) if reverse else y
