"""Model complexity as vision papers report it: parameters and FLOPs per image.

One multiply-add counts as one FLOP (fvcore's convention, used by Swin, VMamba and KINN).
Everything is counted by PyTorch's ``FlopCounterMode``, which counts 2 FLOPs per
multiply-add, so its totals are halved: dense operators (matmul, linear, convolution) by
its own formulas, the selective scans by the formula registered with their custom
operator, ``9 * B * L * D * N`` (:mod:`kinnsci.scan.op`).
Normalisations, activations and element-wise products are not counted (as in fvcore's
defaults for these papers; they are < 1 % here).

The model runs on the ``meta`` device: only shapes propagate, so counting a 50 M
parameter network at 224² takes a fraction of a second and no memory for activations.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from kinnsci.scan.op import SCAN_OPS


class FlopCount(int):
    """Multiply-adds of one forward pass: an ``int`` (the total, so ``flops / 1e9`` and
    comparisons work) that also carries its parts ``dense`` (matmul/conv) and ``scan``."""

    dense: int
    scan: int

    def __new__(cls, dense: int, scan: int) -> FlopCount:
        count = super().__new__(cls, int(dense) + int(scan))
        count.dense, count.scan = int(dense), int(scan)
        return count

    @property
    def total(self) -> int:
        """dense + scan (the value itself)."""
        return int(self)

    def __repr__(self) -> str:
        return f"FlopCount(dense={self.dense}, scan={self.scan})"

    def __str__(self) -> str:
        return (f"{self.total / 1e9:.3f} GFLOPs (dense {self.dense / 1e9:.3f} + scan "
                f"{self.scan / 1e9:.3f})")


def count_flops(model: nn.Module,
                example: torch.Tensor | tuple[int, ...] = (1, 3, 224, 224)) -> FlopCount:
    """FLOPs (multiply-adds) of ``model`` on one input, batch included: ``example`` is an
    input tensor (only its shape is used) or a shape.

    The model is copied to the meta device, so its weights and training state are left
    alone. Example: ``count_flops(get_model("kinn_vision_tiny")) / 1e9`` -> ~4.9, or
    ``count_flops(model, x)`` with the batch ``x`` it takes.

    Raises:
        TypeError: ``example`` is neither a tensor nor a shape of integers.
    """
    if isinstance(example, torch.Tensor):
        shape = tuple(example.shape)
    elif isinstance(example, tuple | list | torch.Size) and all(
            isinstance(n, int) for n in example):
        shape = tuple(example)
    else:
        raise TypeError("count_flops(model, example): example must be an input tensor or "
                        f"its shape, e.g. (1, 3, 224, 224); got {type(example).__name__}")
    twin = copy.deepcopy(model).to("meta").eval()
    x = torch.empty(shape, device="meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        twin(x)
    by_op = counter.get_flop_counts().get("Global", {})
    scan = sum(n for op, n in by_op.items() if op in SCAN_OPS)
    return FlopCount(dense=(counter.get_total_flops() - scan) // 2, scan=scan // 2)
