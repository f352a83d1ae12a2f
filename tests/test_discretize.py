import math

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.integrate import solve_ivp

from kinnsci.cells import CascadeCell, FitzHughNagumoCell, KirchhoffNodeCell, LinearCell
from kinnsci.discretize import (
    DISCRETIZERS,
    ZOH,
    Adaptive,
    Bilinear,
    Euler,
    get_discretizer,
)

DTS = np.logspace(-8, 3, 23)
RATES = [0.0, 1e-12, 1e-6, 1e-3, 0.1, 1.0, 7.5, 100.0]


def expm_reference(a: float, b: float, dt: float) -> tuple[float, float]:
    """(Abar, Bbar) of dx/dt = a x + b u from the augmented matrix exponential."""
    m = scipy.linalg.expm(np.array([[a, b], [0.0, 0.0]]) * dt)
    return m[0, 0], m[0, 1]


def test_zoh_coefficients_match_augmented_expm(float64):
    worst = 0.0
    zoh = ZOH()
    for rate in RATES:
        for dt in DTS:
            a_bar, b_bar = zoh.coefficients(torch.tensor(-rate), torch.tensor(1.3), float(dt))
            ref_a, ref_b = expm_reference(-rate, 1.3, dt)
            err = max(abs(a_bar.item() - ref_a), abs(b_bar.item() - ref_b) / max(1.0, abs(ref_b)))
            worst = max(worst, err)
    assert worst < 1e-12, worst


def test_zoh_dense_coefficients_match_scipy_expm(float64):
    g = torch.Generator().manual_seed(0)
    A = -torch.rand(4, 4, generator=g) - torch.eye(4) * 2
    B = torch.randn(4, 2, generator=g)
    for dt in (1e-6, 0.3, 5.0):
        a_bar, b_bar = ZOH().coefficients_dense(A, B, dt)
        aug = np.zeros((6, 6))
        aug[:4, :4], aug[:4, 4:] = A.numpy(), B.numpy()
        ref = scipy.linalg.expm(aug * dt)
        np.testing.assert_allclose(a_bar.numpy(), ref[:4, :4], atol=1e-12)
        np.testing.assert_allclose(b_bar.numpy(), ref[:4, 4:], atol=1e-12)


def test_zoh_handles_zero_rate_without_dividing_by_zero(float64):
    a_bar, b_bar = ZOH().coefficients(torch.zeros(3), torch.ones(3), 0.25)
    assert torch.equal(a_bar, torch.ones(3))
    assert torch.allclose(b_bar, torch.full((3,), 0.25))
    A = torch.zeros(3, requires_grad=True)
    _, b_bar = ZOH().coefficients(A, torch.ones(3), 0.25)
    b_bar.sum().backward()
    assert torch.isfinite(A.grad).all()
    assert torch.allclose(A.grad, torch.full((3,), 0.25**2 / 2))  # d/da of (e^{a dt}-1)/a at 0


def test_zoh_step_of_knc_is_the_closed_form_rc_solution(float64):
    cell = KirchhoffNodeCell(capacitance=0.5, leak_conductance=1.0, input_conductance=2.0)
    a, b = (x.item() for x in cell.rates())
    t = torch.linspace(0, 3, 31)
    h = ZOH().solve(cell, torch.zeros(1), torch.ones(31, 1), t)
    exact = (b / a) * (1 - torch.exp(-a * t))
    assert torch.allclose(h[:, 0], exact, atol=1e-13)


def constant_input_problem():
    """A stiff-ish 3-stage cascade stepped from rest under a unit input: smooth solution."""
    return CascadeCell(
        [
            KirchhoffNodeCell(leak_conductance=1.0, input_conductance=1.0),
            KirchhoffNodeCell(leak_conductance=3.0, input_conductance=2.0, feedthrough=0.2),
            KirchhoffNodeCell(leak_conductance=0.5, input_conductance=1.0),
        ]
    )


def final_error(disc, cell, n_steps, t_end=2.0):
    t = torch.linspace(0, t_end, n_steps + 1)
    h0 = torch.tensor([0.3, -0.2, 0.1])
    u = torch.ones(n_steps + 1, 1)
    approx = disc.solve(cell, h0, u, t)[-1]
    exact = ZOH().solve(cell, h0, u, t)[-1]
    return (approx - exact).abs().max().item()


@pytest.mark.parametrize("disc, expected", [(Euler(), 1.0), (Bilinear(), 2.0)])
def test_measured_convergence_order(disc, expected, float64):
    cell = constant_input_problem()
    steps = np.array([40, 80, 160, 320, 640])
    errors = np.array([final_error(disc, cell, int(n)) for n in steps])
    slope = -np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert abs(slope - expected) < 0.1, (slope, errors)


def test_adaptive_meets_tolerance_on_fitzhugh_nagumo(float64):
    cell = FitzHughNagumoCell(2, form="classic", current=0.5, trainable=False)
    h0 = torch.tensor([-1.0, 0.5, 1.0, -0.5])
    t = torch.linspace(0, 20, 11)
    u = torch.zeros(11, 2)
    ref = solve_ivp(
        lambda _t, h: cell.vector_field(_t, torch.tensor(h), u[0]).numpy(),
        (0, 20),
        h0.numpy(),
        t_eval=t.numpy(),
        method="Radau",
        rtol=1e-12,
        atol=1e-12,
    )
    for rtol in (1e-4, 1e-7):
        sol = Adaptive(rtol=rtol, atol=rtol * 1e-2).solve(cell, h0, u, t)
        rel = np.abs(sol.numpy() - ref.y.T) / (np.abs(ref.y.T) + 1e-2)
        assert rel.max() < 50 * rtol, (rtol, rel.max())  # global error: a few x the local rtol


@pytest.mark.parametrize("name, bounded", [("zoh", True), ("bilinear", True), ("euler", False)])
def test_stability_at_a_dt_equal_10(name, bounded, float64):
    cell = KirchhoffNodeCell(leak_conductance=1.0, input_conductance=1.0)  # a = 1
    disc = get_discretizer(name)
    h = torch.ones(1)
    u = torch.ones(1)
    peak = 0.0
    for _ in range(10_000):
        h = disc.step(cell, h, u, 0.0, 10.0)
        peak = max(peak, h.abs().item())
        if not math.isfinite(peak) or peak > 1e100:
            break
    if bounded:
        # ZOH lands on the steady state b u / a = 1; Tustin rings (Abar = -2/3) but settles
        assert peak <= 3.0 and abs(h.item() - 1.0) < 1e-6
    else:
        assert peak > 1e100 or not math.isfinite(peak)


def test_gradcheck_zoh_coefficients():
    A = (-torch.rand(5, dtype=torch.float64) * 3).requires_grad_()
    B = torch.randn(5, dtype=torch.float64, requires_grad=True)
    dt = (torch.rand(5, dtype=torch.float64) + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b, d: ZOH().coefficients(a, b, d), (A, B, dt))
    A_small = (torch.randn(5, dtype=torch.float64) * 1e-4).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b, d: ZOH().coefficients(a, b, d), (A_small, B, dt))


def test_gradcheck_zoh_dense_and_cascade_step(float64):
    cascade = constant_input_problem()
    h = torch.randn(2, 3, requires_grad=True)
    u = torch.randn(2, 1, requires_grad=True)
    assert torch.autograd.gradcheck(lambda h, u: ZOH().step(cascade, h, u, 0.0, 0.7), (h, u))
    A, B, _, _ = (m.detach().requires_grad_() for m in cascade.matrices())
    dt = torch.tensor([0.3, 2.0], requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, d: ZOH().coefficients_dense(a, b, d), (A, B, dt))
    # parameters: compare autograd against finite differences of the whole step
    raw = cascade.cells[1].raw_leak
    out = ZOH().step(cascade, h, u, 0.0, 0.7).sum()
    (g,) = torch.autograd.grad(out, raw)
    eps = 1e-6
    with torch.no_grad():
        raw += eps
        up = ZOH().step(cascade, h, u, 0.0, 0.7).sum()
        raw -= 2 * eps
        down = ZOH().step(cascade, h, u, 0.0, 0.7).sum()
        raw += eps
    assert g.item() == pytest.approx(((up - down) / (2 * eps)).item(), rel=1e-6)


def test_adjoint_gradients_match_direct_backprop(float64):
    torch.manual_seed(0)
    cell = FitzHughNagumoCell(3, form="classic")
    h0 = torch.randn(4, 6)
    u = torch.randn(4, 3)
    grads = []
    for adjoint in (False, True):
        disc = Adaptive(rtol=1e-10, atol=1e-10, adjoint=adjoint)
        cell.zero_grad()
        out = disc.step(cell, h0, u, 0.0, 2.0)
        (out**2).sum().backward()
        grads.append(torch.stack([p.grad.clone() for p in cell.parameters()]))
    assert torch.allclose(grads[0], grads[1], atol=1e-6, rtol=0)


def cells_for(name):
    linear = [
        KirchhoffNodeCell(channels=2),
        LinearCell(-torch.rand(2, 3) - 0.1, torch.randn(2, 3), torch.randn(2, 3), torch.randn(2)),
        CascadeCell([KirchhoffNodeCell(channels=2), KirchhoffNodeCell(channels=2)]),
    ]
    nonlinear = [FitzHughNagumoCell(2)]
    return linear + (nonlinear if DISCRETIZERS[name].supports_nonlinear else [])


@pytest.mark.parametrize("name", sorted(DISCRETIZERS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_discretizer_steps_every_supported_cell(name, dtype, device):
    torch.manual_seed(0)
    for cell in cells_for(name):
        cell = cell.to(device=device, dtype=dtype)
        disc = get_discretizer(name)
        h = torch.randn(5, cell.state_dim, device=device, dtype=dtype)
        u = torch.randn(5, cell.input_dim, device=device, dtype=dtype)
        small = disc.step(cell, h, u, 0.0, 1e-3)
        # a small step moves the state by dt * f (first-order consistency of every scheme)
        drift = (small - h) / 1e-3
        expected = cell.vector_field(0.0, h, u)
        tol = 5e-2 if dtype == torch.float32 else 1e-2
        assert small.dtype == dtype and small.device.type == device.type
        assert torch.allclose(drift, expected, atol=tol, rtol=tol), (name, type(cell).__name__)
        per_sample = disc.step(cell, h, u, 0.0, torch.full((5,), 0.1, device=device, dtype=dtype))
        scalar = disc.step(cell, h, u, 0.0, 0.1)
        assert torch.allclose(per_sample, scalar, atol=1e-5)


@pytest.mark.parametrize("dt", [0.0, -0.1, float("nan"), float("inf")])
def test_bad_step_size_is_rejected(dt, monkeypatch):
    cell = KirchhoffNodeCell()
    with pytest.raises(ValueError, match="dt must be"):
        ZOH().step(cell, torch.zeros(1), torch.zeros(1), 0.0, dt)
    # a tensor of steps is read (a device-to-host sync) only under the debug switch
    steps = torch.tensor([0.1, dt])
    Euler().coefficients(torch.tensor([-1.0]), torch.ones(1), steps)
    monkeypatch.setenv("KINNSCI_CHECKS", "1")
    with pytest.raises(ValueError, match="dt must be"):
        Euler().coefficients(torch.tensor([-1.0]), torch.ones(1), steps)


def test_non_increasing_time_grid_is_rejected():
    with pytest.raises(ValueError, match=r"diff\(t\) must be > 0"):
        ZOH().solve(
            KirchhoffNodeCell(), torch.zeros(1), torch.zeros(3, 1), torch.tensor([0, 1, 1.0])
        )


def test_mismatched_state_and_input_are_rejected():
    with pytest.raises(ValueError, match="u must have shape"):
        Euler().step(KirchhoffNodeCell(channels=2), torch.zeros(4, 2), torch.zeros(4, 3), 0.0, 0.1)


@pytest.mark.parametrize("name", ["zoh", "bilinear"])
def test_linear_only_discretizer_on_nonlinear_cell_names_alternatives(name):
    with pytest.raises(TypeError, match=r"nonlinear FitzHughNagumoCell.*\['adaptive', 'euler'\]"):
        get_discretizer(name).step(FitzHughNagumoCell(1), torch.zeros(2), torch.zeros(1), 0.0, 0.1)


def test_unknown_discretizer_lists_known_names():
    with pytest.raises(ValueError, match="known discretizers: adaptive, bilinear, euler, zoh"):
        get_discretizer("rk4")


def test_discretizers_declare_their_properties():
    assert ZOH.exact_for_linear and ZOH.a_stable and not ZOH.supports_nonlinear
    assert Euler.order == 1 and not Euler.a_stable
    assert Bilinear.order == 2 and Bilinear.a_stable
    assert Adaptive.supports_nonlinear


def test_zoh_coefficients_are_exact_and_differentiable_for_every_rate():
    """No branch on values: rates 0, tiny, moderate and large in one tensor, float64
    gradcheck, and the values of exp(z) and dt phi1(z)."""
    from kinnsci.discretize.zoh import phi1

    A = torch.tensor([[0.0, -1e-9, -1e-4, -0.3], [-2.0, -40.0, 1e-6, -7.0]],
                     dtype=torch.float64, requires_grad=True)
    dt = (0.01 + torch.rand(3, 5, 2, 1, dtype=torch.float64)).requires_grad_()
    B = torch.randn(4, dtype=torch.float64)
    a, b = ZOH().coefficients(A, B, dt)
    z = (dt * A).detach()
    torch.testing.assert_close(a, torch.exp(z), rtol=1e-14, atol=0)
    torch.testing.assert_close(b, dt.detach() * phi1(z) * B, rtol=1e-13, atol=1e-300)
    assert torch.autograd.gradcheck(lambda d, r: ZOH().coefficients(r, B, d), (dt, A))
