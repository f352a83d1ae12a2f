import math

import numpy as np
import pytest
import scipy.signal
import torch

from kinnsci.cells import CascadeCell, KirchhoffNodeCell
from kinnsci.discretize import Euler
from kinnsci.layers import CKB, KNC, KirchhoffMixer2d
from kinnsci.scan import grid_to_sequences, sequences_to_grid


def set_node(knc: KNC, a: float, b: float, c: float, d: float, delta: float) -> None:
    """Make a non-selective single-state KNC the RC node dV/dt = -a V + b u, y = c V + d u."""
    with torch.no_grad():
        knc.A_log.fill_(math.log(a))
        knc.B.fill_(b)
        knc.C.fill_(c)
        knc.D.fill_(d)
        knc.dt_bias.fill_(delta + math.log(-math.expm1(-delta)))  # softplus^-1(delta)


def test_knc_constant_input_follows_the_rc_closed_form():
    knc = KNC(1, d_state=1, selective=False).double()
    a, b, c, delta = 2.0, 1.5, 1.0, 0.05
    set_node(knc, a, b, c, 0.0, delta)
    u = 0.7
    y = knc(torch.full((1, 100, 1), u, dtype=torch.float64))[0, :, 0]
    t = delta * torch.arange(1, 101, dtype=torch.float64)
    assert torch.allclose(y, c * (b * u / a) * (1 - torch.exp(-a * t)), atol=1e-13)


def test_knc_euler_equals_the_euler_recurrence():
    knc = KNC(1, d_state=1, selective=False, discretizer="euler").double()
    a, b, c, d, delta = 3.0, 1.0, 0.5, 0.1, 0.2
    set_node(knc, a, b, c, d, delta)
    x = torch.randn(1, 50, 1, dtype=torch.float64)
    h, expected = 0.0, []
    for t in range(50):
        h = (1 - delta * a) * h + delta * b * x[0, t, 0].item()
        expected.append(c * h + d * x[0, t, 0].item())
    assert torch.allclose(knc(x)[0, :, 0], torch.tensor(expected, dtype=torch.float64), atol=1e-13)


def test_knc_accepts_a_discretizer_instance_and_reports_time_constants():
    knc = KNC(4, d_state=3, discretizer=Euler())
    assert knc.discretizer.name == "euler"
    assert torch.allclose(knc.time_constants(), 1 / torch.arange(1.0, 4.0).repeat(4, 1))


STAGES = [(1.0, 1.0, 1.0, 0.0), (2.5, 2.0, 0.8, 0.2), (0.7, 1.0, 1.2, 0.0), (4.0, 3.0, 0.5, 0.1)]


def ckb_with_nodes(order: int, delta: float, aggregate: str) -> CKB:
    ckb = CKB(1, order, expand=1, d_state=1, selective=False, aggregate=aggregate).double()
    for knc, stage in zip(ckb.kncs[0], STAGES, strict=False):
        set_node(knc, *stage, delta)
    return ckb


def continuous_step(order: int, t: np.ndarray, partial_sums: bool) -> np.ndarray:
    cells = [
        KirchhoffNodeCell(leak_conductance=a, input_conductance=b, readout_gain=c, feedthrough=d)
        for a, b, c, d in STAGES[:order]
    ]
    orders = range(1, order + 1) if partial_sums else [order]
    total = np.zeros_like(t)
    for k in orders:
        num, den = CascadeCell(cells[:k]).transfer_function()
        assert len(den) == k + 1  # the cascade of k first-order nodes is of order k
        # lsim takes T[0] as the initial time: start the grid at 0
        total += scipy.signal.step((num, den), T=np.concatenate([[0.0], t]))[1][1:]
    return total


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("aggregate", ["last", "dense"])
def test_ckb_cascade_has_the_order_k_step_response(order, aggregate):
    errors = []
    for delta in (4e-3, 2e-3, 1e-3):
        ckb = ckb_with_nodes(order, delta, aggregate)
        steps = int(round(4.0 / delta))
        with torch.no_grad():
            y = ckb.cascade(torch.ones(1, steps, 1, dtype=torch.float64))[0, :, 0].numpy()
        t = delta * np.arange(1, steps + 1)
        expected = continuous_step(order, t, partial_sums=aggregate == "dense")
        errors.append(np.abs(y - expected).max())
    assert errors[-1] < 1e-2
    if order == 1:  # one ZOH node is exact; cascades hold y_{k-1} constant: O(delta)
        assert errors[-1] < 1e-10
    else:
        ratios = np.array(errors[:-1]) / np.array(errors[1:])
        assert np.all((ratios > 1.8) & (ratios < 2.2)), errors


def test_four_direction_scan_of_a_shared_knc_is_equivariant_under_180_rotation():
    torch.manual_seed(0)
    knc = KNC(3, d_state=4).double()
    x = torch.randn(2, 5, 6, 3, dtype=torch.float64)

    def mix(grid):
        seqs = grid_to_sequences(grid, 4)
        return sequences_to_grid(torch.stack([knc(s) for s in seqs]), *grid.shape[1:3])

    rotated = mix(x.flip(1, 2))
    assert torch.allclose(rotated, mix(x).flip(1, 2), atol=1e-12)


def test_grid_refinement_with_step_scaling_keeps_the_continuous_response():
    knc = KNC(2, d_state=4, selective=False).double()
    with torch.no_grad():
        knc.B.normal_()
        knc.C.normal_()
    reference = 1 / 64
    responses = {}
    for width in (64, 128):
        x = torch.full((1, 3, width, 2), 0.3, dtype=torch.float64)
        seq = grid_to_sequences(x, 1)[0]
        with torch.no_grad():
            y = knc(seq, dt_scale=(1 / width) / reference)
        responses[width] = sequences_to_grid(y[None], 3, width)
    coarse, fine = responses[64], responses[128]
    assert torch.allclose(fine[:, :, 1::2], coarse, atol=1e-5, rtol=0)


def test_ckb_grid_spacing_equal_to_reference_is_a_no_op():
    torch.manual_seed(0)
    mixer = KirchhoffMixer2d(4, directions=2, reference_spacing=0.25)
    x = torch.randn(1, 4, 6, 5)
    assert torch.allclose(mixer(x), mixer(x, grid_spacing=0.25))
    assert not torch.allclose(mixer(x), mixer(x, grid_spacing=0.05))


@pytest.mark.parametrize("directions", [1, 2, 4])
@pytest.mark.parametrize("hw", [(7, 5), (8, 8), (1, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mixer_shapes_and_dtypes(directions, hw, dtype, device):
    mixer = KirchhoffMixer2d(6, ckb_order=2, directions=directions).to(device=device, dtype=dtype)
    x = torch.randn(2, 6, *hw, device=device, dtype=dtype)
    y = mixer(x)
    assert y.shape == x.shape and y.dtype == dtype
    y.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in mixer.parameters())


@pytest.mark.parametrize("routing", ["series", "parallel"])
def test_routing_changes_what_drives_later_stages(routing):
    torch.manual_seed(0)
    ckb = CKB(4, ckb_order=2, routing=routing)
    x = torch.randn(1, 10, 8)
    y1 = ckb.kncs[0][0](x)
    expected = y1 + ckb.kncs[0][1](y1 if routing == "series" else x)
    assert torch.allclose(ckb.cascade(x), expected)


def test_ckb_parameter_layout_per_direction():
    # order 2, width 20 -> inner 40, N 16, dt rank 2: 2 x 2160 weights per direction
    counts = [
        sum(p.numel() for p in KirchhoffMixer2d(20, directions=k).parameters()) for k in (1, 2, 4)
    ]
    assert counts[1] - counts[0] == 4320 and counts[2] - counts[1] == 2 * 4320


def test_bad_inputs_get_clear_errors(monkeypatch):
    mixer = KirchhoffMixer2d(4)
    with pytest.raises(ValueError, match=r"expects \(batch, channels, H, W\)"):
        mixer(torch.zeros(4, 5, 5))
    with pytest.raises(ValueError, match="built for 4 channels, got 3"):
        mixer(torch.zeros(1, 3, 5, 5))
    bad = torch.zeros(1, 4, 5, 5)
    bad[0, 1, 2, 3] = float("nan")
    assert torch.isnan(mixer(bad)).any()  # no value check (a host sync) by default
    monkeypatch.setenv("KINNSCI_CHECKS", "1")  # the debug switch names the first bad index
    with pytest.raises(ValueError, match=r"NaN/inf \(first at index \(0, 2, 3, 1\)"):
        mixer(bad)
    monkeypatch.delenv("KINNSCI_CHECKS")
    with pytest.raises(ValueError, match="directions must be one of"):
        KirchhoffMixer2d(4, directions=3)
    with pytest.raises(ValueError, match="order must be an integer >= 1"):
        CKB(4, ckb_order=0)
    with pytest.raises(ValueError, match="routing must be one of"):
        CKB(4, routing="diagonal")
    with pytest.raises(ValueError, match=r"KNC expects x of shape \(batch, length, 8\)"):
        KNC(8)(torch.zeros(2, 5, 7))
    with pytest.raises(ValueError, match=r"expects \(batch, length, channels\)"):
        CKB(4)(torch.zeros(1, 2, 3, 4))


@pytest.mark.parametrize("directions", [1, 2, 4])
def test_ckb_grid_scan_matches_flipped_copies_of_each_direction(directions):
    # scan_grid runs reversed directions as reverse scans on the forward layout; the
    # reference traverses grid_to_sequences' flipped copies with forward scans
    torch.manual_seed(0)
    ckb = CKB(3, ckb_order=2, directions=directions, d_state=4, spatial_dims=2).double()
    x = torch.randn(2, 5, 7, ckb.inner, dtype=torch.float64, requires_grad=True)
    seqs = grid_to_sequences(x, directions)
    expected = sequences_to_grid(
        torch.stack([ckb.cascade(seqs[k], k) for k in range(directions)]), 5, 7
    )
    y = ckb.scan_grid(x, None, None)
    assert torch.allclose(y, expected, atol=1e-12)
    # and the same gradients for the input and every weight (reverse-scan backward)
    weights = torch.randn_like(y)
    wrt = [x, *ckb.parameters()]
    grads = torch.autograd.grad((y * weights).sum(), wrt, allow_unused=True)
    grads_ref = torch.autograd.grad((expected * weights).sum(), wrt, allow_unused=True)
    for g, r in zip(grads, grads_ref, strict=True):
        assert (g is None) == (r is None)
        if g is not None:
            assert torch.allclose(g, r, atol=1e-11)


def test_bidirectional_sequence_ckb_is_the_causal_scan_of_the_flipped_sequence():
    torch.manual_seed(0)
    ckb = CKB(3, ckb_order=2, directions=2, d_state=4).double()
    x = torch.randn(2, 9, ckb.inner, dtype=torch.float64)
    backward = ckb.cascade(x.flip(1), 1).flip(1)
    assert torch.allclose(ckb.cascade(x, 1, reverse=True), backward, atol=1e-12)


def test_layers_give_the_same_numbers_without_the_cpp_kernel(monkeypatch):
    """What a machine without a compiler runs (the PyTorch scan, as with
    KINNSCI_DISABLE_CPU_KERNEL=1) gives the C++ kernel's numbers, forward and backward,
    through a whole CKB with 4 directions (replaces a second CI pass over the files)."""
    from kinnsci.scan import cpu_kernel

    torch.manual_seed(0)
    block = KirchhoffMixer2d(6, directions=4, d_state=3, ckb_order=2).double()
    x = torch.randn(2, 6, 7, 5, dtype=torch.float64, requires_grad=True)

    def run():
        x.grad = None
        y = block(x)
        y.square().sum().backward()
        return y.detach(), x.grad.clone()

    first = run()
    monkeypatch.setenv("KINNSCI_DISABLE_CPU_KERNEL", "1")
    assert not cpu_kernel.available()
    second = run()
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
