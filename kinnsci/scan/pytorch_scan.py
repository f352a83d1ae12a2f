"""The ``pytorch`` scan backend: the selective scan in chunks of the sequence, each
recomputed in backward, in plain PyTorch (any device, any discretizer).

The (batch, length, D, N) coefficient and state tensors are never materialised whole:
chunks of ``chunk_size`` positions are discretized, scanned from the carried-in state and
contracted with C, keeping only y and the state at each chunk boundary. Backward walks
the chunks in reverse, recomputing each chunk's small graph and differentiating it
(gradient checkpointing per chunk). Memory is O(length * (D + N)) plus
O(length / chunk_size * D * N), and every full-size pass runs on cache-resident data.
"""

from __future__ import annotations

import torch
from torch import Tensor

from kinnsci.discretize import Discretizer
from kinnsci.scan.linear_recurrence import linear_recurrence
from kinnsci.scan.reference import discretize_selective


def _chunk(x, delta, A, B, C, h0, disc):
    """One chunk: y (batch, T, D) and the final state (batch, D, N) from state h0."""
    a, b = discretize_selective(x, delta, A, B, disc)
    # carry the incoming state through the first step: b_0 <- b_0 + a_0 h0 (exact)
    b = torch.cat([b[:, :1] + a[:, :1] * h0[:, None], b[:, 1:]], dim=1)
    h = linear_recurrence(a, b)
    return torch.einsum("bldn,bln->bld", h, C), h[:, -1]


class _ChunkedSelectiveScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, delta, A, B, C, disc, chunk_size):
        batch, length, channels = x.shape
        h = x.new_zeros(batch, channels, A.shape[1])
        starts, ys = [], []
        for s in range(0, length, chunk_size):
            e = min(s + chunk_size, length)
            starts.append(h)
            y, h = _chunk(x[:, s:e], delta[:, s:e], A, B[:, s:e], C[:, s:e], h, disc)
            ys.append(y)
        ctx.save_for_backward(x, delta, A, B, C, *starts)
        ctx.disc, ctx.chunk_size = disc, chunk_size
        return torch.cat(ys, dim=1) if ys else x.new_zeros(batch, 0, channels)

    @staticmethod
    def backward(ctx, grad_y):
        x, delta, A, B, C, *starts = ctx.saved_tensors
        chunk_size, length = ctx.chunk_size, x.shape[1]
        grads = [torch.zeros_like(t) for t in (x, delta, B, C)]
        grad_A = torch.zeros_like(A)
        grad_h = x.new_zeros(x.shape[0], x.shape[2], A.shape[1])
        for i in reversed(range(len(starts))):
            s, e = i * chunk_size, min((i + 1) * chunk_size, length)
            inputs = [t[:, s:e].detach().requires_grad_() for t in (x, delta, B, C)]
            A_ = A.detach().requires_grad_()
            h0 = starts[i].detach().requires_grad_()
            with torch.enable_grad():
                y, h_end = _chunk(inputs[0], inputs[1], A_, inputs[2], inputs[3], h0, ctx.disc)
                out = torch.autograd.grad(
                    (y, h_end), (*inputs, A_, h0), (grad_y[:, s:e], grad_h), allow_unused=True
                )
            for g, part in zip(grads, out[:4], strict=True):
                if part is not None:
                    g[:, s:e] = part
            grad_A += out[4] if out[4] is not None else 0
            grad_h = out[5] if out[5] is not None else torch.zeros_like(grad_h)
        gx, gdelta, gB, gC = grads
        return gx, gdelta, grad_A, gB, gC, None, None


def pytorch_selective_scan(
    x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, disc: Discretizer,
    chunk_size: int
) -> Tensor:
    """y_t = C_t . h_t without the skip term; shapes as in ``selective_scan``."""
    return _ChunkedSelectiveScan.apply(x, delta, A, B, C, disc, chunk_size)
