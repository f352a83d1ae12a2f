"""Model complexity as vision papers report it: parameters and FLOPs per image.

One multiply-add counts as one FLOP (fvcore's convention, used by Swin, VMamba and KINN).
Dense operators (matmul, linear, convolution) are counted by PyTorch's
``FlopCounterMode``, which counts 2 FLOPs per multiply-add, so its total is halved; the
selective scans add their analytic ``9 * B * L * D * N`` (:mod:`kinnsci.scan.flops`).
Normalisations, activations and element-wise products are not counted (as in fvcore's
defaults for these papers; they are < 1 % here).

The model runs on the ``meta`` device: only shapes propagate, so counting a 50 M
parameter network at 224² takes a fraction of a second and no memory for activations.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from kinnsci.scan.flops import count_scan_flops


@dataclass(frozen=True)
class FlopCount:
    """Multiply-adds of one forward pass: ``dense`` (matmul/conv) + ``scan``."""

    dense: int
    scan: int

    @property
    def total(self) -> int:
        return self.dense + self.scan

    def __str__(self) -> str:
        return (f"{self.total / 1e9:.3f} GFLOPs (dense {self.dense / 1e9:.3f} + scan "
                f"{self.scan / 1e9:.3f})")


def count_flops(model: nn.Module, input_shape: tuple[int, ...] = (1, 3, 224, 224)) -> FlopCount:
    """FLOPs (multiply-adds) of ``model`` on one input of ``input_shape``, batch included.

    The model is copied to the meta device, so its weights and training state are left
    alone. Example: ``count_flops(get_model("kinn_vision_tiny")).total / 1e9`` -> ~4.9.
    """
    twin = copy.deepcopy(model).to("meta").eval()
    x = torch.empty(input_shape, device="meta")
    with count_scan_flops() as scan, FlopCounterMode(display=False) as dense:
        with torch.no_grad():
            twin(x)
    return FlopCount(dense=dense.get_total_flops() // 2, scan=scan[0])
