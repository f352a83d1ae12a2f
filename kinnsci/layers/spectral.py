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
    (traceable by ``torch.compile``); arguments as ``SpectralConv``'s.

    Under autocast it computes in float32: cuFFT has no bfloat16 transform (FKNO with
    bf16 AMP failed on an H200 with "Unsupported dtype BFloat16"), and a 16-bit FFT would
    round every mode's coefficient. Its output is float32 then."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        dense = torch.is_tensor(self.weight) or str(
            getattr(self.weight, "name", "")).lower().endswith("dense")
        if dense:  # no tensor factorisation (kinnsci's FNOs)
            # neuraloperator 2.0 has no public way to choose the contraction: it stores
            # get_contract_fun(...) as the private _contract, whose tensorly einsum reads a
            # thread-local backend that torch.compile(fullgraph=True) refuses ("Unsupported
            # method call", measured with torch 2.13). The alternatives are a process-wide
            # tensorly.use_static_dispatch() or a copy of SpectralConv.forward; this
            # instance-level override is the smallest. tests/test_compile.py pins it.
            if not hasattr(self, "_contract"):
                raise ImportError("neuraloperator's SpectralConv no longer has _contract; "
                                  "kinnsci's SpectralConv2d needs updating for this version")
            self._contract = contract_dense

    def forward(self, x: Tensor, output_shape: tuple[int, ...] | None = None) -> Tensor:
        """x ``(batch, in_channels, *grid)`` -> ``(batch, out_channels, *output_shape or
        grid)``, in float32 whatever the autocast dtype."""
        device = x.device.type
        if x.dtype in (torch.bfloat16, torch.float16) or _autocast_on(device):
            if device not in AUTOCAST_DEVICES:  # meta (FLOP counting): no autocast there
                return super().forward(x.float(), output_shape)
            with torch.autocast(device_type=device, enabled=False):
                return super().forward(x.float(), output_shape)
        return super().forward(x, output_shape)


AUTOCAST_DEVICES = ("cpu", "cuda", "xpu", "mps", "hpu")


def _autocast_on(device: str) -> bool:
    """Whether autocast is on for ``device`` (never for devices without autocast, such as
    ``meta``)."""
    return device in AUTOCAST_DEVICES and torch.is_autocast_enabled(device)
