import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kinnsci.discretize import ZOH
from kinnsci.scan import (
    cpu_kernel,
    grid_to_sequences,
    linear_recurrence,
    selective_scan,
    selective_scan_ref,
    sequences_to_grid,
    time_invariant_scan,
)


def scan_inputs(b, length, d, n, dtype, seed=0, requires_grad=False, rate_scale=1.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, length, d, generator=g, dtype=dtype)
    delta = torch.nn.functional.softplus(torch.randn(b, length, d, generator=g, dtype=dtype))
    A = -torch.exp(torch.randn(d, n, generator=g, dtype=dtype)) * rate_scale
    B = torch.randn(b, length, n, generator=g, dtype=dtype)
    C = torch.randn(b, length, n, generator=g, dtype=dtype)
    D = torch.randn(d, generator=g, dtype=dtype)
    return [t.requires_grad_(requires_grad) for t in (x, delta, A, B, C, D)]


def reference_scan(x, delta, A, B, C, D, discretizer, reverse=False):
    """The reference loop; reversed = the loop over inputs flipped in time, flipped back."""
    if not reverse:
        return selective_scan_ref(x, delta, A, B, C, D, discretizer)
    x, delta, B, C = (t.flip(1) for t in (x, delta, B, C))
    return selective_scan_ref(x, delta, A, B, C, D, discretizer).flip(1)


def grads(fn, inputs):
    y = fn(*inputs)
    weights = torch.randn_like(y)
    return y, torch.autograd.grad((y * weights).sum(), inputs)


@settings(max_examples=25, deadline=None)
@given(
    b=st.integers(1, 3),
    length=st.sampled_from([1, 2, 7, 63, 64, 65, 130, 300]),
    d=st.sampled_from([1, 2, 5, 9, 17, 40]),  # 40: two full float lane blocks + a part
    n=st.sampled_from([1, 3, 16]),
    disc=st.sampled_from(["zoh", "euler", "bilinear"]),
    chunk_size=st.sampled_from([None, 8, 16]),
    backend=st.sampled_from(["auto", "pytorch"]),
    reverse=st.booleans(),
)
def test_fast_scan_matches_reference_float64(b, length, d, n, disc, chunk_size, backend,
                                             reverse):
    inputs = scan_inputs(b, length, d, n, torch.float64, seed=length + d, requires_grad=True)
    if disc == "euler":
        # Euler is stable for dt |A| <= 2 only; beyond, states grow like |1 + dt A|^t (1e79
        # after 130 steps was seen) and the loop's own rounding grows with them, so there
        # is no 1e-12 agreement to test. Keep |1 + dt A| <= 0.9 (negative a included);
        # overflow safety has its own test.
        with torch.no_grad():
            inputs[2].mul_(min(1.0, 1.9 / float(inputs[1].max() * inputs[2].abs().max())))
    torch.manual_seed(0)
    y_ref, g_ref = grads(lambda *a: reference_scan(*a, discretizer=disc, reverse=reverse),
                         inputs)
    assume(torch.isfinite(y_ref).all() and all(torch.isfinite(r).all() for r in g_ref))
    torch.manual_seed(0)
    y, g = grads(lambda *a: selective_scan(*a, discretizer=disc, chunk_size=chunk_size,
                                           backend=backend, reverse=reverse), inputs)
    assert torch.allclose(y, y_ref, atol=1e-12, rtol=1e-12)
    for a, r in zip(g, g_ref, strict=True):
        assert torch.allclose(a, r, atol=1e-12, rtol=1e-10)


needs_kernel = pytest.mark.skipif(not cpu_kernel.available(),
                                  reason="the fused CPU scan did not compile here")
BACKENDS = ["pytorch", pytest.param("cpp", marks=needs_kernel)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("disc", ["zoh", "bilinear"])
def test_fast_scan_matches_reference_float32(backend, disc):
    # 40 channels: two full float lane blocks and a part-filled one in the fused kernel
    inputs = scan_inputs(2, 500, 40, 16, torch.float32, requires_grad=True)
    torch.manual_seed(1)
    y_ref, g_ref = grads(lambda *a: selective_scan_ref(*a, discretizer=disc), inputs)
    torch.manual_seed(1)
    y, g = grads(lambda *a: selective_scan(*a, discretizer=disc, backend=backend), inputs)
    assert torch.allclose(y, y_ref, atol=1e-5, rtol=1e-5)
    for a, r in zip(g, g_ref, strict=True):
        # gradients of A, D sum 1000 positions: float32 rounding relative to their scale
        assert torch.allclose(a, r, atol=1e-6 * r.abs().max().item(), rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fast_scan_is_finite_for_very_strong_decay(backend):
    # delta * |A| up to ~1e4: cumulative products underflow to 0, never overflow
    inputs = scan_inputs(2, 4096, 4, 8, torch.float32, rate_scale=1e3)
    y = selective_scan(*inputs, backend=backend)
    assert torch.isfinite(y).all()
    assert torch.allclose(y, selective_scan_ref(*inputs), atol=1e-4, rtol=1e-4)


def test_linear_recurrence_gradcheck():
    g = torch.Generator().manual_seed(0)
    a = (torch.rand(2, 37, 3, generator=g, dtype=torch.float64) * 1.8 - 0.9).requires_grad_()
    b = torch.randn(2, 37, 3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: linear_recurrence(a, b, chunk_size=8), (a, b))


def test_linear_recurrence_equals_the_loop_with_negative_decay():
    a = -torch.rand(3, 200, 2, dtype=torch.float64)  # Euler beyond dt*a = 1 flips the sign
    b = torch.randn(3, 200, 2, dtype=torch.float64)
    h, expected = torch.zeros(3, 2, dtype=torch.float64), []
    for t in range(200):
        h = a[:, t] * h + b[:, t]
        expected.append(h)
    assert torch.allclose(linear_recurrence(a, b, chunk_size=16), torch.stack(expected, 1),
                          atol=1e-13)


def test_scan_rejects_bad_shapes():
    x, delta, A, B, C, D = scan_inputs(2, 10, 4, 3, torch.float32)
    with pytest.raises(ValueError, match=r"A must be \(D, N\) with D = 4"):
        selective_scan(x, delta, A[:3], B, C, D)
    with pytest.raises(ValueError, match=r"B must be \(batch, length, N\)"):
        selective_scan(x, delta, A, B[:, :5], C, D)
    with pytest.raises(ValueError, match="delta must match"):
        selective_scan(x, delta[..., :2], A, B, C, D)
    with pytest.raises(ValueError, match=r"x must be \(batch, length, D\)"):
        selective_scan(x[0], delta, A, B, C, D)


@pytest.mark.parametrize("directions", [1, 2, 4])
@pytest.mark.parametrize("hw", [(5, 7), (4, 4), (1, 6)])
def test_flatten_unflatten_is_identity(directions, hw):
    x = torch.randn(2, *hw, 3)
    seqs = grid_to_sequences(x, directions)
    assert seqs.shape == (directions, 2, hw[0] * hw[1], 3)
    back = sequences_to_grid(seqs, *hw, reduce=False)
    for k in range(directions):
        assert torch.equal(back[k], x)
    assert torch.allclose(sequences_to_grid(seqs, *hw), directions * x)


def test_directions_traverse_rows_then_columns():
    x = torch.arange(6.0).reshape(1, 2, 3, 1)  # [[0 1 2], [3 4 5]]
    seqs = grid_to_sequences(x, 4)[..., 0, :, 0]
    assert seqs.tolist() == [
        [0, 1, 2, 3, 4, 5],
        [0, 3, 1, 4, 2, 5],
        [5, 4, 3, 2, 1, 0],
        [5, 2, 4, 1, 3, 0],
    ]


def test_bad_direction_count_is_rejected():
    with pytest.raises(ValueError, match=r"directions must be one of \(1, 2, 4\)"):
        grid_to_sequences(torch.zeros(1, 2, 2, 1), 3)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("disc", ["zoh", "euler"])
@pytest.mark.parametrize("reverse", [False, True])
def test_selective_scan_gradcheck(backend, disc, reverse):
    inputs = scan_inputs(2, 19, 3, 2, torch.float64, seed=3, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda *a: selective_scan(*a, chunk_size=8, discretizer=disc, backend=backend,
                                  reverse=reverse),
        tuple(inputs))


@needs_kernel
def test_fused_scan_handles_rates_near_zero_like_the_reference():
    # |delta A| below the series threshold exercises phi1's Taylor branch and its derivative
    inputs = scan_inputs(1, 70, 2, 3, torch.float64, requires_grad=True, rate_scale=1e-6)
    torch.manual_seed(2)
    y_ref, g_ref = grads(selective_scan_ref, inputs)
    torch.manual_seed(2)
    y, g = grads(lambda *a: selective_scan(*a, backend="cpp"), inputs)
    assert torch.allclose(y, y_ref, atol=1e-12)
    for a, r in zip(g, g_ref, strict=True):
        assert torch.allclose(a, r, atol=1e-10, rtol=1e-9)


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="backend must be one of"):
        selective_scan(*scan_inputs(1, 4, 2, 2, torch.float32), backend="cuda")


@pytest.mark.parametrize("reverse", [False, True])
def test_time_invariant_scan_matches_a_zoh_loop(reverse):
    # per-channel constant B, C (D, N): the non-selective KNC; the loop runs the exact ZOH
    # update directly, over the time-flipped sequence when reverse=True
    g = torch.Generator().manual_seed(4)
    b, length, d, n = 2, 37, 3, 4
    x = torch.randn(b, length, d, generator=g, dtype=torch.float64)
    delta = torch.rand(b, length, d, generator=g, dtype=torch.float64) + 0.1
    A = -torch.rand(d, n, generator=g, dtype=torch.float64) - 0.2
    B, C = (torch.randn(d, n, generator=g, dtype=torch.float64) for _ in range(2))
    skip = torch.randn(d, generator=g, dtype=torch.float64)
    order = range(length - 1, -1, -1) if reverse else range(length)
    h = torch.zeros(b, d, n, dtype=torch.float64)
    y = torch.empty_like(x)
    for t in order:
        z = delta[:, t, :, None] * A
        h = torch.exp(z) * h + torch.expm1(z) / A * B * x[:, t, :, None]
        y[:, t] = (h * C).sum(-1) + skip * x[:, t]
    out = time_invariant_scan(x, delta, A, B, C, skip, "zoh", reverse=reverse)
    assert torch.allclose(out, y, atol=1e-12)


def test_compiling_the_cpu_kernel_is_announced_above_an_active_progress_bar(monkeypatch,
                                                                           capsys):
    """The first scan compiles the C++ kernel for ~40 s, usually inside the first epoch's
    tqdm bar: the message must show (not be redrawn over) and say how long to wait, also
    when torch's cache cannot be inspected."""
    import torch.utils.cpp_extension as cpp_extension
    from tqdm.auto import tqdm

    from kinnsci.scan import cpu_kernel

    monkeypatch.setattr(cpu_kernel, "_module", None)
    monkeypatch.setattr(cpu_kernel, "_error", None)
    monkeypatch.delenv("KINNSCI_DISABLE_CPU_KERNEL", raising=False)
    monkeypatch.setattr(cpu_kernel, "_is_built", lambda name: False)
    monkeypatch.setattr(cpu_kernel.time, "perf_counter",
                        iter([0.0, 41.0]).__next__)  # a 41 s build
    calls = []
    # the loader builds from the .cpp file with torch.utils.cpp_extension.load: a mock of
    # what it really calls, so the test sees the message and nothing compiles
    monkeypatch.setattr(cpp_extension, "load", lambda **kw: calls.append(kw) or object())
    with tqdm(range(3), desc="epoch 1/10") as bar:
        bar.update(1)
        assert cpu_kernel.available()
    err = capsys.readouterr().err
    assert "compiling the fused CPU scan, once per machine (about 40 s" in err
    assert "ready after 41 s" in err
    assert len(calls) == 1 and calls[0]["sources"] == [str(cpu_kernel.SOURCE)]


@needs_kernel
@pytest.mark.parametrize("disc", ["zoh", "euler", "bilinear"])
@pytest.mark.parametrize("reverse", [False, True])
def test_fused_scan_gradcheck(disc, reverse):
    """The fused kernel's hand-written backward, every discretizer, against finite
    differences in float64 (chunks of 8 over 20 positions: state carried and recomputed)."""
    x, delta, A, B, C, D = scan_inputs(1, 20, 3, 4, torch.float64, seed=3, requires_grad=True)
    with torch.no_grad():
        A.clamp_(min=-1.5)  # Euler stays stable for these steps
    assert torch.autograd.gradcheck(
        lambda *a: selective_scan(*a, discretizer=disc, backend="cpp", chunk_size=8,
                                  reverse=reverse), (x, delta, A, B, C, D))


def test_a_slow_load_of_a_cached_kernel_is_announced_too(monkeypatch, capsys):
    """torch can rebuild a kernel it has in its cache (another torch install): the message
    must then still show, while a quick load stays silent."""
    import time

    from kinnsci.scan import cpu_kernel

    monkeypatch.delenv("KINNSCI_DISABLE_CPU_KERNEL", raising=False)
    monkeypatch.setattr(cpu_kernel, "_is_built", lambda name: True)
    monkeypatch.setattr(cpu_kernel, "SLOW_LOAD_S", 0.05)
    for delay, shown in ((0.5, True), (0.0, False)):
        monkeypatch.setattr(cpu_kernel, "_module", None)
        monkeypatch.setattr(cpu_kernel, "_error", None)
        monkeypatch.setattr(cpu_kernel, "load",
                            lambda delay=delay, **kw: (time.sleep(delay) or object(), "x"))
        assert cpu_kernel.available()
        err = capsys.readouterr().err
        assert ("compiling the fused CPU scan" in err) is shown, (delay, err)
        assert ("ready after" in err) is shown


@pytest.mark.parametrize("backend", ["pytorch", "auto"])
def test_bfloat16_inputs_with_float32_rates_scan_with_a_float32_state(backend):
    """As under mixed precision: activations in bfloat16, the KNC's A a float32 parameter.
    y comes back in bfloat16, computed from a float32 state."""
    g = torch.Generator().manual_seed(0)
    x, B, C = (torch.randn(2, 30, k, generator=g) for k in (6, 4, 4))
    delta, A = 0.1 + torch.rand(2, 30, 6, generator=g), -0.5 - torch.rand(6, 4, generator=g)
    low = [t.bfloat16() for t in (x, delta, B, C)]
    y = selective_scan(low[0], low[1], A, low[2], low[3], backend=backend)
    assert y.dtype == torch.bfloat16
    ref = selective_scan_ref(*(t.double() for t in (low[0], low[1], A, low[2], low[3])))
    assert float((y.double() - ref).abs().max() / ref.abs().max()) < 1e-2


def _all_bf16_inputs(length, seed=0):
    g = torch.Generator().manual_seed(seed)
    x, B, C = (torch.randn(2, length, k, generator=g) for k in (6, 4, 4))
    delta = 0.01 + 0.05 * torch.rand(2, length, 6, generator=g)
    A = -0.01 - 0.1 * torch.rand(6, 4, generator=g)
    return [t.bfloat16() for t in (x, delta, A, B, C)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_keeps_a_float32_state_for_all_bfloat16_inputs(backend):
    """One state-dtype rule: all-bf16 inputs (A included) scan with a float32 state on
    every backend. A bf16 state over 2048 slowly decaying steps drifts (rel. error ~0.02);
    a float32 one is at bf16's output rounding."""
    inputs = _all_bf16_inputs(2048)
    y = selective_scan(*inputs, backend=backend)
    assert y.dtype == torch.bfloat16
    ref = selective_scan_ref(*(t.double() for t in inputs))
    assert float((y.double() - ref).abs().max() / ref.abs().max()) < 8e-3


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reverse", [False, True])
def test_a_length_zero_sequence_scans_to_an_empty_result(backend, reverse):
    x, delta, A, B, C, D = scan_inputs(2, 0, 3, 4, torch.float32, requires_grad=True)
    y = selective_scan(x, delta, A, B, C, D, backend=backend, reverse=reverse)
    assert y.shape == (2, 0, 3)
    y.sum().backward()
    assert A.grad is not None and float(A.grad.abs().sum()) == 0


class _HalvedZOH(ZOH):
    """A user's ZOH variant: a different injection, same name and kernel-looking class."""

    def coefficients(self, A, B, dt):
        a, b = super().coefficients(A, B, dt)
        return a, 0.5 * b


@pytest.mark.parametrize("backend", ["auto", "pytorch"])
def test_a_discretizer_subclass_runs_its_own_maths(backend):
    """The fused kernels implement exactly ZOH/Euler/Bilinear: a subclass overriding
    ``coefficients`` must run on the PyTorch path (its own maths), never as plain ZOH."""
    inputs = scan_inputs(2, 37, 3, 4, torch.float64)
    y = selective_scan(*inputs, discretizer=_HalvedZOH(), backend=backend)
    ref = selective_scan_ref(*inputs, discretizer=_HalvedZOH())
    torch.testing.assert_close(y, ref)
    plain = selective_scan_ref(*inputs, discretizer="zoh")
    assert float((y - plain).abs().max()) > 0.1


@needs_kernel
def test_a_fused_backend_refuses_a_discretizer_subclass():
    from kinnsci.errors import ConfigError

    with pytest.raises(ConfigError, match="not a subclass"):
        selective_scan(*scan_inputs(1, 4, 2, 2, torch.float64), discretizer=_HalvedZOH(),
                       backend="cpp")


def _declared_cases():
    """(backend, discretizer) for every backend of the table that runs on this machine's
    CPU tensors and every discretizer it declares (any: the registered ones with a
    closed-form step and a subclass the kernels must not take)."""
    from kinnsci.discretize import DISCRETIZERS, Bilinear
    from kinnsci.scan.backends import SCAN_BACKENDS

    class ShiftedBilinear(Bilinear):  # a subclass: only the PyTorch path runs its maths
        def coefficients(self, A, B, dt):
            a, b = super().coefficients(A, B, dt)
            return 0.9 * a, b

    linear = [c for n, c in DISCRETIZERS.items() if n in ("zoh", "euler", "bilinear")]
    cases = []
    for name, backend in SCAN_BACKENDS.items():
        if name == "meta":
            continue
        for cls in backend.discretizers or (*linear, ShiftedBilinear):
            ready = backend.why_not(torch.zeros(1, 1, 1), cls(), False) is None
            mark = pytest.mark.skipif(not ready, reason=f"{name} does not run here")
            cases.append(pytest.param(name, cls, marks=mark, id=f"{name}-{cls.__name__}"))
    return cases


@pytest.mark.parametrize(("backend", "cls"), _declared_cases())
@pytest.mark.parametrize("reverse", [False, True])
def test_every_backend_runs_every_discretizer_it_declares_like_the_reference(backend, cls,
                                                                           reverse):
    """One check over the backend table (kinnsci.scan.backends): a backend added there is
    held to the reference loop, which calls the discretizer's ``coefficients`` (the one
    specification of its maths), in float64, forward and gradients."""
    disc = cls()
    inputs = scan_inputs(2, 70, 5, 3, torch.float64, seed=3, requires_grad=True)
    with torch.no_grad():  # Euler's stable range, as above
        inputs[2].mul_(min(1.0, 1.9 / float(inputs[1].max() * inputs[2].abs().max())))
    torch.manual_seed(0)
    y_ref, g_ref = grads(lambda *a: reference_scan(*a, discretizer=disc, reverse=reverse),
                         inputs)
    torch.manual_seed(0)
    y, g = grads(lambda *a: selective_scan(*a, discretizer=disc, chunk_size=16,
                                           backend=backend, reverse=reverse), inputs)
    torch.testing.assert_close(y, y_ref, atol=1e-12, rtol=1e-12)
    for a, r in zip(g, g_ref, strict=True):
        torch.testing.assert_close(a, r, atol=1e-12, rtol=1e-10)


def test_auto_picks_by_capability_and_a_named_backend_says_what_it_lacks():
    from kinnsci.discretize import Bilinear
    from kinnsci.errors import ConfigError
    from kinnsci.scan.backends import choose_backend

    class Sub(Bilinear):
        pass

    x = torch.zeros(1, 4, 2)
    assert choose_backend("auto", x, Sub()).name == "pytorch"  # no kernel runs a subclass
    assert choose_backend("auto", x.to("meta"), Sub()).name == "meta"  # FLOP counting
    if cpu_kernel.available():
        assert choose_backend("auto", x, Bilinear()).name == "cpp"
    with pytest.raises(ConfigError, match=r"backend='cpp' cannot run this scan: .*Sub"):
        choose_backend("cpp", x, Sub())
    with pytest.raises(ConfigError, match=r"takes .*float32.* inputs, got torch.int64"):
        choose_backend("pytorch", x.long(), Bilinear())
    with pytest.raises(ConfigError, match=r"backend must be one of \('auto', 'cpp'"):
        choose_backend("fast", x, Bilinear())
