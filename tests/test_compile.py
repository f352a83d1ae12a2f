"""``torch.compile(model, fullgraph=True)`` traces FKNO and UKNO without a graph break: the
fused scan is a custom operator with a fake implementation and its own autograd."""

from __future__ import annotations

import pytest
import torch

from kinnsci.models import get_model
from kinnsci.scan import cpu_kernel

pytestmark = pytest.mark.skipif(
    not (torch.cuda.is_available() or cpu_kernel.available()),
    reason="needs a fused scan kernel (the C++ CPU kernel or CUDA): the PyTorch scan's "
    "backward is not traceable; " + cpu_kernel.status())

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.mark.parametrize(("name", "config"), [
    ("fkno", dict(in_channels=2, hidden_channels=8, n_modes=(8, 7), directions=4, d_state=4)),
    ("ukno", dict(in_channels=2, hidden_channels=[8, 8, 16], res_blocks=1, d_state=4)),
])
def test_fullgraph_compile_matches_eager_forward_and_backward(name, config):
    torch.manual_seed(0)
    model = get_model(name, **config).to(DEVICE)
    x = torch.randn(2, 2, 16, 16, device=DEVICE)
    eager = model(x)
    eager.square().mean().backward()
    eager_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    torch._dynamo.reset()
    # aot_eager: dynamo traces the whole graph (fullgraph fails on any break) and AOT
    # autograd runs the op's fake implementation and autograd formula; no C++ codegen
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    out = compiled(x)
    out.square().mean().backward()
    torch.testing.assert_close(out, eager, rtol=1e-5, atol=1e-6)
    for p, g in zip(model.parameters(), eager_grads, strict=True):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-6)


def test_the_operator_passes_torch_library_checks():
    """torch.library.opcheck: schema, fake implementation and autograd registration agree
    with the real kernel."""
    kernel = "triton" if torch.cuda.is_available() else "cpp"
    g = torch.Generator().manual_seed(0)
    b, length, d, n = 2, 10, 3, 4
    args = [torch.randn(b, length, d, generator=g), 0.1 + torch.rand(b, length, d, generator=g),
            -0.5 - torch.rand(d, n, generator=g), torch.randn(b, length, n, generator=g),
            torch.randn(b, length, n, generator=g), torch.randn(d, generator=g)]
    args = [a.to(DEVICE).requires_grad_() for a in args]
    torch.library.opcheck(torch.ops.kinnsci.selective_scan.default,
                          (*args, 0, 4, False, kernel))
