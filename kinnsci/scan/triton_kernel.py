"""The selective scan as a Triton kernel, forward and backward (the GPU's fused kernel).

One program per (sample, block of ``BLOCK_D`` channels) walks the sequence, keeping the
``(BLOCK_D, N)`` state in registers in float32 (float64 for float64 inputs; bfloat16 and
float16 inputs are read and written in their own dtype, the state stays float32). Every
``chunk_size`` positions it stores the state it starts the chunk from; backward walks the
chunks from the last, recomputes each chunk's states from its checkpoint into a
per-program workspace and runs the adjoint recurrence through them::

    forward   h_t = a_t h_{t-1} + g_t B_t x_t,     y_t = C_t . h_t + D x_t
    backward  lam_t = dy_t C_t + a_{t+1} lam_{t+1}
              dx_t = sum_n lam_t g_t B_t + D dy_t,     dC_t = sum_d dy_t h_t
              dB_t = sum_d lam_t g_t x_t,  d(delta)_t, dA from da/d., dg/d. below

with ``(a, g)`` = ZOH ``(exp(z), dt phi1(z))``, Euler ``(1 + z, dt)`` or bilinear
``((1 + z/2) / (1 - z/2), dt / (1 - z/2))``, ``z = dt A``. Sums over channels (dB, dC)
and over samples (dA, dD) are written per program and added by PyTorch afterwards:
deterministic, no atomics.

Triton compiles for CUDA; with ``TRITON_INTERPRET=1`` set before the first scan, the same
kernels run on CPU tensors through Triton's interpreter, which is how the tests check
them against ``selective_scan_ref`` on machines without a GPU.
"""

from __future__ import annotations

import functools
import os

import torch
from torch import Tensor

INTERPRET_VARIABLE = "TRITON_INTERPRET"


@functools.cache
def _installed() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def usable(x: Tensor) -> tuple[bool, str]:
    """Whether the Triton kernels can scan ``x``, and if not, why and how to fix it
    (called on every ``auto`` scan: the import is tried once)."""
    if not _installed():
        return False, ("Triton is not installed: CUDA builds of torch bring it, or "
                       "pip install triton")
    if x.device.type == "cuda":
        return True, "CUDA"
    if x.device.type == "cpu" and os.environ.get(INTERPRET_VARIABLE) == "1":
        return True, "Triton's interpreter (TRITON_INTERPRET=1)"
    return False, (f"Triton runs on CUDA tensors, got {x.device.type} ones (CPU tensors "
                   "only under TRITON_INTERPRET=1, for testing)")


def _next_power_of_2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _blocks(channels: int, states: int) -> tuple[int, int]:
    block_n = _next_power_of_2(states)
    block_d = max(1, min(_next_power_of_2(channels), 4096 // (32 * block_n), 32))
    return block_d, block_n


@functools.cache
def _kernels():
    """The jitted kernels, imported on first use (``TRITON_INTERPRET`` is read then)."""
    from kinnsci.scan import _triton_kernels

    return _triton_kernels.forward_kernel, _triton_kernels.backward_kernel


def _settings(x: Tensor, A: Tensor) -> dict:
    """The kernels' precision and the ZOH specification (:mod:`kinnsci.discretize.zoh`)."""
    import triton.language as tl

    from kinnsci.discretize.zoh import SERIES_BELOW, series_terms
    from kinnsci.scan.op import state_dtype

    state = state_dtype(x.dtype, A.dtype)
    return {"STATE": tl.float64 if state == torch.float64 else tl.float32,
            "SERIES_BELOW": SERIES_BELOW, "TERMS": series_terms(state),
            "STAGES": int(os.environ.get(STAGES_VARIABLE, PIPELINE_STAGES))}


PIPELINE_STAGES = 1
"""Software-pipelining stages of the kernels' loops over positions (1: none); the
``KINNSCI_TRITON_STAGES`` environment variable overrides it, for measuring."""
STAGES_VARIABLE = "KINNSCI_TRITON_STAGES"


def forward(x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor, mode: int,
            chunk_size: int, reverse: bool) -> tuple[Tensor, Tensor]:
    """``(y, checkpoints)``; as :func:`kinnsci.scan.cpu_kernel.forward`."""
    from kinnsci.scan.op import state_dtype

    forward_kernel, _ = _kernels()
    batch, length, channels = x.shape
    states = A.shape[1]
    block_d, block_n = _blocks(channels, states)
    n_chunks = -(-length // chunk_size)
    x, delta, A, B, C, D = (t.contiguous() for t in (x, delta, A, B, C, D))
    y = torch.empty_like(x)
    checkpoints = x.new_empty((batch, n_chunks, channels, states),
                              dtype=state_dtype(x.dtype, A.dtype))
    grid = (batch, -(-channels // block_d))
    forward_kernel[grid](x, delta, A, B, C, D, y, checkpoints, length, channels, states,
                         n_chunks, chunk_size, MODE=mode, REVERSE=reverse, BLOCK_D=block_d,
                         BLOCK_N=block_n, **_settings(x, A))
    return y, checkpoints


def backward(grad_y: Tensor, x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
             D: Tensor, checkpoints: Tensor, mode: int, chunk_size: int, reverse: bool
             ) -> tuple[Tensor, ...]:
    """Gradients ``(x, delta, A, B, C, D)``; as :func:`kinnsci.scan.cpu_kernel.backward`."""
    _, backward_kernel = _kernels()
    batch, length, channels = x.shape
    states = A.shape[1]
    block_d, block_n = _blocks(channels, states)
    n_blocks = -(-channels // block_d)
    n_chunks = checkpoints.shape[1]
    tensors = (grad_y, x, delta, A, B, C, D, checkpoints)
    grad_y, x, delta, A, B, C, D, checkpoints = (t.contiguous() for t in tensors)
    state = checkpoints.dtype
    workspace = x.new_empty((batch, n_blocks, chunk_size + 1, block_d, block_n), dtype=state)
    grad_x, grad_delta = torch.empty_like(x), torch.empty_like(delta)
    grad_A = x.new_empty((batch, channels, states), dtype=state)
    grad_B = x.new_zeros((batch, length, n_blocks, states), dtype=state)
    grad_C = x.new_zeros((batch, length, n_blocks, states), dtype=state)
    grad_D = x.new_empty((batch, channels), dtype=state)
    backward_kernel[(batch, n_blocks)](
        grad_y, x, delta, A, B, C, D, checkpoints, workspace,
        grad_x, grad_delta, grad_A, grad_B, grad_C, grad_D,
        length, channels, states, n_chunks, chunk_size, n_blocks,
        MODE=mode, REVERSE=reverse, BLOCK_D=block_d, BLOCK_N=block_n, **_settings(x, A))
    return (grad_x, grad_delta, grad_A.sum(0).to(A.dtype), grad_B.sum(2).to(B.dtype),
            grad_C.sum(2).to(C.dtype), grad_D.sum(0).to(D.dtype))
