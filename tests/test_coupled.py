"""Coupled Kirchhoff layer: passivity, exact ZOH, energy, steady state, the naive baseline."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from kinnsci.cells import CoupledKirchhoffCell
from kinnsci.discretize import get_discretizer
from kinnsci.layers import CoupledKirchhoffLayer, KirchhoffMLP


def test_zoh_step_matches_scipy_expm(float64):
    torch.manual_seed(0)
    cell = CoupledKirchhoffCell(7, 3)
    A, B, _, _ = (m.detach() for m in cell.matrices())
    dt = 0.37
    a_bar, b_bar = get_discretizer("zoh").coefficients_dense(A, B, dt)
    aug = np.zeros((10, 10))
    aug[:7, :7], aug[:7, 7:] = A.numpy(), B.numpy()
    ref = scipy.linalg.expm(aug * dt)
    np.testing.assert_allclose(a_bar.numpy(), ref[:7, :7], atol=1e-12)
    np.testing.assert_allclose(b_bar.numpy(), ref[:7, 7:], atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_symmetric_couplings_are_passive_for_random_parameters(seed, float64):
    torch.manual_seed(seed)
    cell = CoupledKirchhoffCell(12, 2, init_scale=3.0)
    with torch.no_grad():
        cell.raw_leak.normal_(0, 3)
        cell.raw_capacitance.normal_(0, 3)
        eig = torch.linalg.eigvals(cell.matrices()[0])
    assert eig.imag.abs().max() < 1e-8  # real spectrum
    assert eig.real.max() <= 1e-12
    assert cell.energy_growth_penalty().item() == 0.0


def test_energy_never_grows_with_zoh_while_naive_euler_diverges_on_the_same_weights(float64):
    torch.manual_seed(1)
    layer = CoupledKirchhoffLayer(2, 16, dt=10.0, n_steps=1)
    naive = CoupledKirchhoffLayer(2, 16, dt=10.0, n_steps=1, naive=True)
    A, B, _, _ = layer.cell.matrices()
    with torch.no_grad():
        naive.weight.copy_(A)  # the same circuit, written as a free matrix
        naive.input_weight.copy_(B)
        a_zoh, _ = layer.step_matrices()
        a_euler, _ = naive.step_matrices()
        v = torch.randn(4, 16)
        w = v.clone()
        energies = [layer.cell.energy(v)]
        for _ in range(10_000):
            v = v @ a_zoh.T
            energies.append(layer.cell.energy(v))
        for _ in range(50):
            w = w @ a_euler.T
    e = torch.stack(energies)
    assert (e[1:] <= e[:-1] * (1 + 1e-12) + 1e-300).all()
    assert not torch.isfinite(w).all() or w.abs().max() > 1e10


def test_the_layer_converges_to_the_dc_steady_state(float64):
    torch.manual_seed(2)
    layer = CoupledKirchhoffLayer(3, 6, dt=50.0, n_steps=40)
    x = torch.randn(5, 3)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), layer.cell.steady_state(x), atol=1e-9, rtol=0)


def test_directed_couplings_get_a_penalty_when_energy_can_grow(float64):
    torch.manual_seed(3)
    cell = CoupledKirchhoffCell(6, 1, symmetric=False, init_scale=4.0, leak=1e-6)
    assert cell.energy_growth_penalty().item() > 0
    assert torch.linalg.eigvals(cell.matrices()[0]).real.max() <= 1e-10  # still stable


def test_layer_gradcheck(float64):
    torch.manual_seed(4)
    layer = CoupledKirchhoffLayer(2, 3, dt=0.7, n_steps=3)
    x = torch.randn(2, 2, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x_, *p: layer(x_), (x, *layer.parameters()))


def test_kirchhoff_mlp_learns_and_bad_arguments_are_rejected():
    torch.manual_seed(0)
    x = torch.rand(128, 3)
    y = torch.sin(3 * x[:, :1]) + x[:, 1:2]
    model = KirchhoffMLP(3, 1, hidden_channels=16, n_layers=2, dt=1.0, n_steps=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(200):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    with pytest.raises(ValueError, match="dt must be > 0"):
        CoupledKirchhoffLayer(2, 3, dt=-1.0)
    with pytest.raises(ValueError, match="capacitance must be > 0"):
        CoupledKirchhoffCell(3, 1, capacitance=0.0)
