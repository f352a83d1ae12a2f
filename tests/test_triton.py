"""The Triton selective-scan kernel against the reference loop: forward and every
gradient, every discretizer, both directions, chunk sizes that do and do not divide the
length, several channel blocks. Without a GPU the kernels run in Triton's interpreter
(``TRITON_INTERPRET=1``, set here before the first scan), on CPU tensors."""

from __future__ import annotations

import os

import pytest
import torch

if not torch.cuda.is_available():  # conftest.py sets it already; this file alone too
    os.environ["TRITON_INTERPRET"] = "1"  # read when triton and the kernels are imported
triton = pytest.importorskip("triton", reason="Triton is not installed (pip install -e "
                             "'.[gpu-test]')")

from kinnsci.scan import selective_scan, selective_scan_ref, triton_kernel  # noqa: E402
from kinnsci.scan.op import MODES  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _inputs(b, length, d, n, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    x, B, C = r(b, length, d), r(b, length, n), r(b, length, n)
    delta = 0.05 + 0.5 * torch.rand(b, length, d, generator=g, dtype=torch.float64)
    A = -0.1 - torch.rand(d, n, generator=g, dtype=torch.float64)
    D = r(d)
    return [t.to(DEVICE, dtype) for t in (x, delta, A, B, C, D)]


def _reference(inputs, name, reverse, grad_y):
    args = [t.detach().double().cpu().requires_grad_() for t in inputs]
    x, delta, A, B, C, D = args

    def flip(t):
        return t.flip(1) if reverse else t

    y = flip(selective_scan_ref(flip(x), flip(delta), A, flip(B), flip(C), D, name))
    y.backward(grad_y.double().cpu())
    return y.detach(), [a.grad for a in args]


@pytest.mark.parametrize("name", ["zoh", "euler", "bilinear"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize(("shape", "chunk_size"), [
    ((2, 13, 5, 3), 4),    # chunks that do not divide the length, N not a power of 2
    ((1, 9, 40, 2), 16),   # one chunk longer than the sequence; two channel blocks
    ((2, 16, 3, 4), 8),    # chunks that divide it
])
def test_kernel_matches_the_reference_in_float64(name, reverse, shape, chunk_size):
    inputs = _inputs(*shape, torch.float64, seed=sum(shape))
    y, checkpoints = triton_kernel.forward(*inputs, MODES[name], chunk_size, reverse)
    grad_y = torch.randn_like(y)
    y_ref, grads_ref = _reference(inputs, name, reverse, grad_y)
    torch.testing.assert_close(y.cpu(), y_ref, rtol=1e-12, atol=1e-12)
    assert checkpoints.shape == (shape[0], -(-shape[1] // chunk_size), shape[2], shape[3])
    grads = triton_kernel.backward(grad_y, *inputs, checkpoints, MODES[name], chunk_size,
                                   reverse)
    for label, g, r in zip("x delta A B C D".split(), grads, grads_ref, strict=True):
        torch.testing.assert_close(g.cpu(), r, rtol=1e-10, atol=1e-10, msg=label)


@pytest.mark.parametrize("name", ["zoh", "euler"])
@pytest.mark.parametrize("reverse", [False, True])
def test_selective_scan_backend_triton_in_float32_through_autograd(name, reverse):
    inputs = [t.requires_grad_() for t in _inputs(2, 21, 6, 4, torch.float32, seed=3)]
    y = selective_scan(*inputs, discretizer=name, backend="triton", chunk_size=8,
                       reverse=reverse)
    grad_y = torch.randn_like(y)
    y.backward(grad_y)
    y_ref, grads_ref = _reference(inputs, name, reverse, grad_y)
    torch.testing.assert_close(y.detach().cpu().double(), y_ref, rtol=1e-5, atol=1e-5)
    for label, t, r in zip("x delta A B C D".split(), inputs, grads_ref, strict=True):
        torch.testing.assert_close(t.grad.cpu().double(), r, rtol=1e-4, atol=1e-4, msg=label)


def test_gradcheck_through_the_operator():
    inputs = [t.requires_grad_() for t in _inputs(1, 7, 3, 2, torch.float64, seed=5)]
    assert torch.autograd.gradcheck(
        lambda *a: selective_scan(*a, backend="triton", chunk_size=3, reverse=True), inputs)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_inputs_keep_a_float32_state(dtype):
    inputs = _inputs(2, 33, 4, 3, dtype, seed=7)
    y, checkpoints = triton_kernel.forward(*inputs, MODES["zoh"], 8, False)
    assert y.dtype == dtype and checkpoints.dtype == torch.float32
    # the reference on the same (rounded) inputs in float64: only y's rounding differs
    y_ref, _ = _reference(inputs, "zoh", False, torch.zeros_like(y))
    scale = y_ref.abs().max()
    assert float((y.cpu().double() - y_ref).abs().max() / scale) < (
        1e-2 if dtype == torch.bfloat16 else 2e-3)
    grad_y = torch.randn(y.shape, generator=torch.Generator().manual_seed(1)).to(y)
    grads = triton_kernel.backward(grad_y, *inputs, checkpoints, 0, 8, False)
    assert [g.dtype for g in grads] == [t.dtype for t in inputs]
    # every gradient's values, against the float64 reference on the same inputs
    _, grads_ref = _reference(inputs, "zoh", False, grad_y)
    tolerance = 2e-2 if dtype == torch.bfloat16 else 4e-3
    for label, g, r in zip("x delta A B C D".split(), grads, grads_ref, strict=True):
        error = float((g.cpu().double() - r).abs().max() / r.abs().max())
        assert error < tolerance, (label, error)


def test_backend_triton_says_what_it_needs():
    from kinnsci.errors import ConfigError

    inputs = _inputs(1, 4, 2, 2, torch.float64)
    with pytest.raises(ConfigError, match="backend='triton' cannot run this scan: it "
                                          "implements exactly the discretizer classes"):
        selective_scan(*inputs, discretizer="adaptive", backend="triton")


def test_gpu_check_script_runs_end_to_end_in_a_dry_run():
    """benchmarks/gpu_check.py is ready for a GPU: its --dry-run runs the same code on
    the CPU at tiny sizes (Triton's interpreter) and its correctness rows pass."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
    proc = subprocess.run([sys.executable, str(script), "--dry-run"], capture_output=True,
                          text=True, timeout=240)  # ~10 s; a hang fails in minutes, not 10
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(" yes") == 6 and "NO" not in proc.stdout
    lines = proc.stdout.splitlines()

    def row(prefix: str) -> list[str]:
        found = [ln.split() for ln in lines if ln.strip().startswith(prefix)]
        assert found, f"no row {prefix!r} in:\n{proc.stdout}"
        return found[0]

    # every correctness row: two differences that are numbers below the bounds
    for disc in ("zoh", "euler", "bilinear"):
        _, _, dy, dgrad, ok = row(disc)
        assert float(dy) < 1e-5 and float(dgrad) < 1e-4 and ok == "yes"
    # timings are positive numbers, and the ratio column of each pair is computed
    for dtype in ("float32", "bfloat16"):
        cells = row(dtype)
        assert float(cells[1]) > 0 and float(cells[2]) > 0 and float(cells[3]) >= 0
    for name in ("fkno", "fno", "ukno", "unet"):
        assert float(row(name)[2]) > 0
    assert row("fno")[-1].endswith("x") and row("unet")[-1].endswith("x")
