"""A fast, exact linear recurrence h_t = a_t * h_{t-1} + b_t along one axis.

Two-level chunked scan: inside chunks of ``chunk_size`` positions, one loop advances every chunk at
once (tensors of ``length / chunk`` times the per-step size, so each Python-level op does
real work); the states at the chunk ends are combined by the same scan one level up;
a final pass adds each chunk's carried-in state times the chunk's cumulative decay.
Python-level iterations drop from ``length`` to about ``2 * sqrt(length)``.

Only products and sums of the a_t and b_t appear (no division by cumulative products,
no logarithms), so the result is finite whenever the sequential loop's is, for any decay
strength and for negative a_t (Euler at large steps) alike. The backward pass is the same
scan run in reverse, so memory stays linear in the length.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from kinnsci._deprecation import renamed_arguments
from kinnsci.errors import ConfigError


def _chunk_for(length: int) -> int:
    return max(8, 1 << round(math.log2(max(1.0, math.sqrt(length)))))


def _scan(a: Tensor, b: Tensor, chunk: int | None) -> Tensor:
    """Forward scan along dim 1 of (batch, length, ...) tensors; no autograd."""
    length = a.shape[1]
    chunk = chunk or _chunk_for(length)
    if length <= chunk:
        h = torch.empty_like(b)
        h[:, 0] = b[:, 0]
        for t in range(1, length):
            torch.addcmul(b[:, t], a[:, t], h[:, t - 1], out=h[:, t])
        return h
    pad = (-length) % chunk
    if pad:
        a = torch.cat([a, a.new_ones(a.shape[0], pad, *a.shape[2:])], dim=1)
        b = torch.cat([b, b.new_zeros(b.shape[0], pad, *b.shape[2:])], dim=1)
    n_chunks = a.shape[1] // chunk
    a_c = a.reshape(a.shape[0], n_chunks, chunk, *a.shape[2:])
    b_c = b.reshape(b.shape[0], n_chunks, chunk, *b.shape[2:])
    decay = torch.cumprod(a_c, dim=2)  # prod of a over the chunk up to each step
    local = torch.empty_like(b_c)  # the scan within each chunk from a zero state
    local[:, :, 0] = b_c[:, :, 0]
    for t in range(1, chunk):
        torch.addcmul(b_c[:, :, t], a_c[:, :, t], local[:, :, t - 1], out=local[:, :, t])
    ends = _scan(decay[:, :, -1], local[:, :, -1], None)  # true state at each chunk's end
    carried = torch.cat([torch.zeros_like(ends[:, :1]), ends[:, :-1]], dim=1)
    h = torch.addcmul(local, decay, carried[:, :, None])
    return h.reshape(a.shape)[:, :length]


class _LinearRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, chunk: int | None) -> Tensor:
        h = _scan(a.contiguous(), b.contiguous(), chunk)
        ctx.save_for_backward(a, h)
        ctx.chunk = chunk
        return h

    @staticmethod
    def backward(ctx, grad_h: Tensor):
        a, h = ctx.saved_tensors
        # g_t = grad_h_t + a_{t+1} g_{t+1}: the same recurrence, reversed in time
        a_next = torch.cat([a[:, 1:], torch.ones_like(a[:, :1])], dim=1)
        g = _scan(a_next.flip(1).contiguous(), grad_h.flip(1).contiguous(), ctx.chunk).flip(1)
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)
            grad_a = g * h_prev
        if ctx.needs_input_grad[1]:
            grad_b = g
        return grad_a, grad_b, None


@renamed_arguments(chunk="chunk_size")
def linear_recurrence(a: Tensor, b: Tensor, chunk_size: int | None = None) -> Tensor:
    """All states of h_t = a_t * h_{t-1} + b_t with h_0 = 0 (before the first step).

    Args:
        a: (batch, length, ...) decay factors.
        b: (batch, length, ...) inputs, same shape as ``a``.
        chunk_size: positions per chunk of the two-level scan; default ~sqrt(length)
            rounded to a power of two.

    Returns:
        h: (batch, length, ...), differentiable in ``a`` and ``b``.

    Raises:
        ConfigError: ``a`` and ``b`` differ in shape or have no length axis.
    """
    if a.shape != b.shape:
        raise ConfigError(
            f"a and b must have the same shape, got {tuple(a.shape)}, {tuple(b.shape)}"
        )
    if a.ndim < 2:
        raise ConfigError(f"a and b must be (batch, length, ...), got shape {tuple(a.shape)}")
    if a.shape[1] == 0:
        return b.clone()
    return _LinearRecurrence.apply(a, b, chunk_size)
