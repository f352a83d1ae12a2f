"""neuraloperator's spectral convolution, contracted with ``torch.einsum``.

``neuralop``'s ``SpectralConv`` multiplies the kept Fourier modes by its weights through
tensorly's ``einsum``, whose backend lookup (a thread-local) ``torch.compile`` cannot
trace. For the dense weights kinnsci's FNOs use, the same contraction in
``torch.einsum`` is the same arithmetic and traces into one graph. Weights, state dict and
every other behaviour are neuraloperator's.
"""

from __future__ import annotations

import torch
from neuralop.layers.spectral_convolution import SpectralConv
from torch import Tensor

_SYMBOLS = "abcdefghijklmnopqrstuvwxyz"


def contract_dense(x: Tensor, weight: Tensor, separable: bool = False) -> Tensor:
    """``x (batch, in, *modes)`` times ``weight (in, out, *modes)`` -> ``(batch, out,
    *modes)``; with ``separable``, ``weight (in, *modes)`` elementwise."""
    if not torch.is_tensor(weight):
        weight = weight.to_tensor()
    if separable:
        return x * weight
    modes = _SYMBOLS[3:x.ndim + 1]
    return torch.einsum(f"bi{modes},io{modes}->bo{modes}", x, weight)


class SpectralConv2d(SpectralConv):
    """neuraloperator's ``SpectralConv`` whose dense contraction is ``torch.einsum``
    (traceable by ``torch.compile``); arguments as ``SpectralConv``'s."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        dense = torch.is_tensor(self.weight) or str(
            getattr(self.weight, "name", "")).lower().endswith("dense")
        if dense:  # no tensor factorisation (kinnsci's FNOs)
            self._contract = contract_dense
