"""Shape and value checks for the scans, with errors that say how to fix the call."""

from __future__ import annotations

from torch import Tensor

from kinnsci.errors import ConfigError

CHUNK_SIZE = 64
"""Positions per chunk of the chunked scans (C++ kernel and PyTorch): the state is
carried from chunk to chunk and each chunk is recomputed in backward; (batch, 64, D, N)
stays cache-resident on CPUs."""


def check_scan_inputs(
    x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None
) -> None:
    """Raise ``ConfigError`` (a ``ValueError``) unless the shapes follow the
    selective-scan contract.

    Raises:
        ConfigError: a shape off the contract (the message names the argument).
    """
    if x.ndim != 3:
        raise ConfigError(f"x must be (batch, length, D), got shape {tuple(x.shape)}")
    batch, length, channels = x.shape
    if delta.shape != x.shape:
        raise ConfigError(f"delta must match x's shape {tuple(x.shape)}, got {tuple(delta.shape)}")
    if A.ndim != 2 or A.shape[0] != channels:
        raise ConfigError(f"A must be (D, N) with D = {channels}, got {tuple(A.shape)}")
    n = A.shape[1]
    for name, m in (("B", B), ("C", C)):
        if tuple(m.shape) != (batch, length, n):
            raise ConfigError(
                f"{name} must be (batch, length, N) = {(batch, length, n)}, got {tuple(m.shape)}"
            )
    if D is not None and tuple(D.shape) != (channels,):
        raise ConfigError(f"D must be (D,) = ({channels},), got {tuple(D.shape)}")
