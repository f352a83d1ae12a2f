import numpy as np
import pytest
import scipy.signal
import torch
from scipy.integrate import solve_ivp

from kinnsci.cells import (
    CascadeCell,
    FitzHughNagumoCell,
    KirchhoffNodeCell,
    LinearCell,
    get_cell,
)


def knc(**kw):
    return KirchhoffNodeCell(**kw)


def test_kirchhoff_node_rates_follow_kcl(float64):
    cell = knc(
        capacitance=2.0,
        leak_conductance=0.5,
        coupling_conductance=1.5,
        input_conductance=4.0,
        readout_gain=0.7,
        feedthrough=0.2,
    )
    a, b = cell.rates()
    assert torch.allclose(a, torch.tensor([1.0]))  # (0.5 + 1.5) / 2
    assert torch.allclose(b, torch.tensor([2.0]))  # 4 / 2
    A, B, C, D = cell.matrices()
    assert A.item() == pytest.approx(-1.0) and C.item() == pytest.approx(0.7)
    assert D.item() == pytest.approx(0.2)


def test_kirchhoff_node_decay_stays_positive_for_any_raw_parameter(float64):
    cell = knc(channels=64)
    with torch.no_grad():
        for p in (cell.raw_capacitance, cell.raw_leak, cell.raw_coupling):
            p.copy_(torch.randn(64) * 30)
    a, _ = cell.rates()
    assert (a > 0).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"capacitance": -1.0}, "capacitance must be > 0"),
        ({"capacitance": 0.0}, "capacitance must be > 0"),
        ({"leak_conductance": -0.1}, "leak_conductance must be >= 0"),
        ({"coupling_conductance": -2.0}, "coupling_conductance must be >= 0"),
        ({"leak_conductance": 0.0, "coupling_conductance": 0.0}, "never relaxes"),
    ],
)
def test_kirchhoff_node_rejects_unphysical_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        knc(**kwargs)


def test_linear_cell_channels_layout_matches_single_systems(float64):
    A = -torch.rand(3, 4) - 0.1
    B, C, D = torch.randn(3, 4), torch.randn(3, 4), torch.randn(3)
    cell = LinearCell(A, B, C, D)
    h, u = torch.randn(5, 12), torch.randn(5, 3)
    dh = cell.vector_field(0.0, h, u)
    y = cell.readout(h, u)
    hc = h.reshape(5, 3, 4)
    assert torch.allclose(dh, (A * hc + B * u[..., None]).reshape(5, 12))
    assert torch.allclose(y, (C * hc).sum(-1) + D * u)


def test_linear_cell_rejects_bad_shapes():
    with pytest.raises(ValueError, match="channels, state"):
        LinearCell(-torch.ones(3, 4), torch.ones(3, 5), torch.ones(3, 4))
    with pytest.raises(ValueError, match="dense=True"):
        LinearCell(-torch.ones(2, 2, 2), torch.ones(2), torch.ones(2))


def test_state_input_mismatch_is_a_clear_error():
    cell = knc(channels=3)
    with pytest.raises(ValueError, match=r"u must have shape \(\.\.\., 3\)"):
        cell.check_state_input(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="share their batch dimensions"):
        cell.check_state_input(torch.zeros(2, 3), torch.zeros(5, 3))


def random_cascade(order, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda lo, hi: float(lo + (hi - lo) * torch.rand((), generator=g))  # noqa: E731
    return CascadeCell(
        [
            knc(
                capacitance=r(0.5, 2),
                leak_conductance=r(0.2, 2),
                coupling_conductance=r(0, 1),
                input_conductance=r(-2, 2),
                readout_gain=r(-1.5, 1.5),
                feedthrough=r(-0.5, 0.5),
            )
            for _ in range(order)
        ]
    )


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_cascade_transfer_function_matches_scipy_ss2tf(order, float64):
    cascade = random_cascade(order, seed=order)
    num, den = cascade.transfer_function()
    A, B, C, D = (m.detach().numpy() for m in cascade.matrices())
    num_ref, den_ref = scipy.signal.ss2tf(A, B, C, D)
    assert len(den) == order + 1  # order-K dynamics (Eq. 16)
    np.testing.assert_allclose(den, den_ref, rtol=1e-10, atol=1e-12)
    padded = np.pad(num, (len(num_ref[0]) - len(num), 0))
    np.testing.assert_allclose(padded, num_ref[0], rtol=1e-9, atol=1e-12)


def test_cascade_transfer_function_is_the_paper_product_form(float64):
    cascade = random_cascade(3, seed=7)
    num_ref, den_ref = np.array([1.0]), np.array([1.0])
    for cell in cascade.cells:
        a, b = (x.item() for x in cell.rates())
        c, d = cell.readout_gain.item(), cell.feedthrough.item()
        num_ref = np.polymul(num_ref, [d, d * a + c * b])
        den_ref = np.polymul(den_ref, [1.0, a])
    num, den = cascade.transfer_function()
    np.testing.assert_allclose(num, num_ref, rtol=1e-12)
    np.testing.assert_allclose(den, den_ref, rtol=1e-12)


def test_cascade_poles_and_time_constants(float64):
    cascade = random_cascade(3, seed=1)
    rates = torch.cat([c.rates()[0] for c in cascade.cells])
    assert torch.allclose(cascade.poles().real, -rates)
    assert torch.allclose(cascade.time_constants(), 1 / rates)
    eig = np.sort(np.linalg.eigvals(cascade.matrices()[0].detach().numpy()).real)
    np.testing.assert_allclose(np.sort(cascade.poles().real.numpy()), eig, rtol=1e-12)


def test_cascade_step_response_matches_solve_ivp(float64):
    cascade = random_cascade(3, seed=3)
    t = np.linspace(0, 6, 61)

    def rhs(_t, h):
        out = cascade.vector_field(_t, torch.tensor(h), torch.ones(1))
        return out.detach().numpy()

    ref = solve_ivp(rhs, (0, 6), np.zeros(3), t_eval=t, method="Radau", rtol=1e-11, atol=1e-13)
    y_ref = np.array([cascade.readout(torch.tensor(h), torch.ones(1)).item() for h in ref.y.T])
    num, den = cascade.transfer_function()
    _, y_tf = scipy.signal.step((num, den), T=t)
    np.testing.assert_allclose(y_tf, y_ref, atol=1e-8)


def test_cascade_rejects_mismatched_stage_widths():
    with pytest.raises(ValueError, match=r"cells\[1\].input_dim"):
        CascadeCell([knc(channels=2), knc(channels=3)])


def test_fitzhugh_nagumo_dynpmnn_vector_field(float64):
    cell = FitzHughNagumoCell(2, trainable=False)
    v, w = torch.tensor([0.5, -0.3]), torch.tensor([0.1, 0.2])
    u = torch.tensor([0.05, 0.0])
    dh = cell.vector_field(0.0, torch.cat([v, w]), u)
    dv = u - v * (v - 0.2) * (v - 1) - w
    dw = 0.02 * (v - 3 * w)
    assert torch.allclose(dh, torch.cat([dv, dw]))
    assert torch.equal(cell.readout(torch.cat([v, w]), u), v)


def test_fitzhugh_nagumo_classic_vector_field(float64):
    cell = FitzHughNagumoCell(1, form="classic", current=0.5, trainable=False)
    h = torch.tensor([1.2, -0.4])
    dh = cell.vector_field(0.0, h, torch.zeros(1))
    assert dh[0].item() == pytest.approx(1.2 - 1.2**3 / 3 + 0.4 + 0.5)
    assert dh[1].item() == pytest.approx(0.08 * (1.2 + 0.7 - 0.8 * -0.4))


def test_cell_registry_builds_by_name_and_lists_known_names():
    assert isinstance(get_cell("kirchhoff_node", channels=2), KirchhoffNodeCell)
    with pytest.raises(ValueError, match="known cells: cascade, circuit, coupled_kirchhoff, "
                                         "fitzhugh_nagumo"):
        get_cell("hodgkin_huxley")


def test_inverse_softplus_is_finite_and_exact_over_the_float32_range():
    """``log(expm1(v))`` overflowed for v > 88 in float32: CoupledKirchhoffCell(capacitance=
    100) had an infinite capacitance. One overflow-safe helper serves every cell."""
    import numpy as np
    import torch.nn.functional as F

    from kinnsci._checks import inverse_softplus
    from kinnsci.cells.coupled import CoupledKirchhoffCell

    values = torch.logspace(-12, 38, 201, dtype=torch.float64).clamp(max=3.0e38)
    raw = inverse_softplus(values, torch.float32)
    assert torch.isfinite(raw).all()
    # computed in float32 itself (as KNC's step initialisation does), still finite and exact
    raw32 = inverse_softplus(values.float())
    assert raw32.dtype == torch.float32 and torch.isfinite(raw32).all()
    np.testing.assert_allclose(F.softplus(raw32.double()).numpy(), values.float().double(),
                               rtol=5e-6)
    back = F.softplus(raw.double())
    # float32 rounding of raw ≈ log(v) (|raw| <= 28) bounds the relative error by ~2e-6
    np.testing.assert_allclose(back.numpy(), values.numpy(), rtol=5e-6)
    cell = CoupledKirchhoffCell(3, 2, capacitance=100.0, leak=1e4)
    torch.testing.assert_close(cell.capacitance(), torch.full((3,), 100.0))
    torch.testing.assert_close(cell.leak(), torch.full((3,), 1e4))
    node = KirchhoffNodeCell(capacitance=1e30, leak_conductance=50.0)
    assert torch.isfinite(node.capacitance).all()
