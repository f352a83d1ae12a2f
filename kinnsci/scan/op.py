"""The fused selective scan as a PyTorch custom operator (``torch.library``).

``torch.ops.kinnsci.selective_scan`` runs one of the fused kernels (the C++ CPU kernel,
``kernel="cpp"``, or the Triton GPU kernel, ``kernel="triton"``) and returns ``(y,
checkpoints)``: y ``(batch, length, D)`` and the state at the start of every chunk of
``chunk_size`` positions, ``(batch, n_chunks, D, N)``, which the backward operator
``torch.ops.kinnsci.selective_scan_backward`` recomputes each chunk from. Registered with

* a fake implementation: shapes for ``torch.compile``, FakeTensors and the meta device;
* its autograd (the backward operator), so ``torch.compile(model, fullgraph=True)``
  traces a Kirchhoff model without a graph break;
* a FLOP formula (``9 * B * L * D * N`` multiply-adds, VMamba's convention) that
  ``torch.utils.flop_counter.FlopCounterMode`` reads (``kinnsci.models.count_flops``).

Call it through :func:`kinnsci.scan.selective_scan`, which picks the kernel.
"""

from __future__ import annotations

import importlib

import torch
from torch import Tensor
from torch.utils.flop_counter import register_flop_formula

from kinnsci.discretize import ZOH, Bilinear, Discretizer, Euler

KERNEL_MODULES = {"cpp": "kinnsci.scan.cpu_kernel", "triton": "kinnsci.scan.triton_kernel"}
MODES = {"zoh": 0, "euler": 1, "bilinear": 2}
"""The fused kernels' ``mode`` argument per discretizer they implement."""


KERNEL_DISCRETIZERS = (ZOH, Euler, Bilinear)
"""The discretizer classes the fused kernels implement (exactly these classes)."""


def kernel_mode(discretizer: Discretizer) -> int | None:
    """The fused kernels' mode for ``discretizer``, or None where they do not implement
    its maths. Decided by the exact class, never the name: a subclass (of ZOH, say) may
    override ``coefficients``, and only the PyTorch scan calls it."""
    cls = type(discretizer)
    return MODES[cls.name] if cls in KERNEL_DISCRETIZERS else None


def _kernel(name: str):
    return importlib.import_module(KERNEL_MODULES[name])


def state_dtype(*dtypes: torch.dtype) -> torch.dtype:
    """The one rule for the precision every scan backend carries its state in: float64
    when any input is float64, else float32 (bfloat16/float16 inputs included, as
    mamba's reference scan does)."""
    return torch.float64 if torch.float64 in dtypes else torch.float32


@torch.library.custom_op("kinnsci::selective_scan", mutates_args=())
def selective_scan_op(x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor,
                      mode: int, chunk_size: int, reverse: bool, kernel: str
                      ) -> tuple[Tensor, Tensor]:
    """``(y, checkpoints)`` of the selective scan by ``kernel``; shapes as
    :func:`kinnsci.scan.selective_scan`, ``D`` a tensor (zeros for no skip term)."""
    return _kernel(kernel).forward(x, delta, A, B, C, D, mode, chunk_size, reverse)


@selective_scan_op.register_fake
def _(x, delta, A, B, C, D, mode, chunk_size, reverse, kernel):
    batch, length, channels = x.shape
    n_chunks = -(-length // chunk_size)
    return (torch.empty_like(x),
            x.new_empty((batch, n_chunks, channels, A.shape[1]),
                        dtype=state_dtype(x.dtype, A.dtype)))


@torch.library.custom_op("kinnsci::selective_scan_backward", mutates_args=())
def selective_scan_backward_op(grad_y: Tensor, x: Tensor, delta: Tensor, A: Tensor, B: Tensor,
                               C: Tensor, D: Tensor, checkpoints: Tensor, mode: int,
                               chunk_size: int, reverse: bool, kernel: str
                               ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Gradients ``(x, delta, A, B, C, D)`` of ``sum(grad_y * y)``."""
    grads = _kernel(kernel).backward(grad_y.contiguous(), x, delta, A, B, C, D, checkpoints,
                                     mode, chunk_size, reverse)
    return tuple(g.contiguous() for g in grads)


@selective_scan_backward_op.register_fake
def _(grad_y, x, delta, A, B, C, D, checkpoints, mode, chunk_size, reverse, kernel):
    return tuple(torch.empty_like(t) for t in (x, delta, A, B, C, D))


def _setup_context(ctx, inputs, output) -> None:
    x, delta, A, B, C, D, mode, chunk_size, reverse, kernel = inputs
    ctx.save_for_backward(x, delta, A, B, C, D, output[1])
    ctx.settings = (mode, chunk_size, reverse, kernel)


def _backward(ctx, grad_y, grad_checkpoints):
    grads = torch.ops.kinnsci.selective_scan_backward(grad_y, *ctx.saved_tensors,
                                                      *ctx.settings)
    return (*grads, None, None, None, None)


selective_scan_op.register_autograd(_backward, setup_context=_setup_context)


SCAN_OPS = (torch.ops.kinnsci.selective_scan,)
"""The operators whose FLOPs count as the scans' in :func:`kinnsci.models.count_flops`."""


def scan_flops(batch: int, length: int, channels: int, states: int) -> int:
    """Multiply-adds of one scan: ``9 * B * L * D * N`` (VMamba's selective-scan count)."""
    return 9 * batch * length * channels * states


@register_flop_formula(torch.ops.kinnsci.selective_scan)
def _flops(x_shape, delta_shape, A_shape, *args, out_shape=None, **kwargs) -> int:
    # FlopCounterMode counts 2 per multiply-add (count_flops halves its total)
    return 2 * scan_flops(*x_shape, A_shape[1])
