"""CircuitCell / KirchhoffNet / DynPMNN against hand loops, solve_ivp and ngspice."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from torchdiffeq import odeint

from kinnsci.cells import BRANCHES, CascadeCell, CircuitCell, KirchhoffNodeCell
from kinnsci.cells.topology import fully_connected, neighbour_emphasizing, projection
from kinnsci.discretize import get_discretizer
from kinnsci.discretize.adaptive import Adaptive
from kinnsci.export import read_wrdata, run_ngspice, to_spice
from kinnsci.models import DynPMNN, KirchhoffFlow, KirchhoffNet, count_parameters, get_model
from kinnsci.models.dynpmnn import FHNLayer


def _hand_vector_field(cell: CircuitCell, v: torch.Tensor) -> torch.Tensor:
    """KCL written out edge by edge, as in a circuit textbook."""
    full = [0.0] + v.tolist()
    dv = [0.0] * (cell.n_nodes + 1)
    for (s, d), th in zip(cell.edges.tolist(), cell.theta.detach(), strict=True):
        i = cell.branch.current(torch.tensor([full[s]]), torch.tensor([full[d]]), th[None])[0]
        dv[d] += float(i)
        dv[s] -= float(i)
    return torch.tensor(dv[1:]) / cell.capacitance


@pytest.mark.parametrize("branch", sorted(BRANCHES))
def test_circuit_vector_field_matches_a_per_edge_loop_and_conserves_charge(branch, float64):
    torch.manual_seed(0)
    cell = CircuitCell(6, fully_connected(6, repeat=2), branch, capacitance=0.7)
    v = torch.randn(6)
    torch.testing.assert_close(cell.vector_field(0.0, v), _hand_vector_field(cell, v),
                               atol=1e-12, rtol=0)
    net = cell.node_currents(torch.randn(5, 6))  # includes ground
    assert net.sum(-1).abs().max() < 1e-12


def test_duplicate_edges_are_parallel_devices(float64):
    edges = torch.tensor([[1, 2], [1, 2], [2, 0]])
    cell = CircuitCell(2, edges, "conductance")
    single = CircuitCell(2, edges[1:], "conductance")
    with torch.no_grad():
        single.theta.copy_(torch.stack([cell.theta[0] + cell.theta[1], cell.theta[2]]))
    v = torch.randn(3, 2)
    torch.testing.assert_close(cell.vector_field(0, v), single.vector_field(0, v))


def _paper_ne_topo(c, w, h, k):
    """The NE layer exactly as the KirchhoffNet paper's Fig. 4 lists it (Python loops)."""
    ind = torch.nn.functional.unfold(torch.arange(1, 1 + c * w * h).view(1, c, w, h).float(), k)[0]
    return [[int(ind[j, i]), int(ind[m, i])] for i in range(ind.shape[1])
            for j in range(ind.shape[0]) for m in range(ind.shape[0]) if j != m]


def test_topologies_match_the_paper_listing():
    assert fully_connected(4, repeat=2).shape == (5 * 4 * 2, 2)
    assert fully_connected(3).tolist() == [[i, j] for i in range(4) for j in range(4) if i != j]
    assert neighbour_emphasizing(2, 4, 3, 2).tolist() == _paper_ne_topo(2, 4, 3, 2)
    proj = projection(1, 3, 3, 2, n_projected=2)
    extra = proj[len(_paper_ne_topo(1, 3, 3, 2)):]
    assert len(extra) == 2 * 2 * 10 and set(extra[:, 0].tolist()) | set(
        extra[:, 1].tolist()) == set(range(12))


def test_kirchhoffnet_s_for_diabetes_has_the_papers_528_parameters():
    # 10 inputs + 1 output node + ground, fully connected, 2 devices per edge, Eq. (10)
    assert count_parameters(get_model("kirchhoffnet", in_channels=10, out_channels=1)) == 528


def test_adjoint_gradients_match_direct_backpropagation(float64):
    torch.manual_seed(0)
    grads = []
    for adjoint in (False, True):
        torch.manual_seed(0)
        net = KirchhoffNet(4, 2, hidden_channels=2, branch="tanh", rtol=1e-9, atol=1e-9,
                           adjoint=adjoint)
        x = torch.linspace(-1, 1, 12).reshape(3, 4)
        net(x).square().sum().backward()
        grads.append(net.periods[0].theta.grad.clone())
    torch.testing.assert_close(grads[1], grads[0], atol=1e-5, rtol=0)


def test_kirchhoffnet_output_is_the_ode_solution(float64):
    torch.manual_seed(1)
    net = KirchhoffNet(3, 1, hidden_channels=1, branch="relu_diff", rtol=1e-10, atol=1e-10)
    x = torch.tensor([0.3, -0.2, 0.5])
    cell = net.periods[0]

    def rhs(t, v):
        with torch.no_grad():
            return cell.vector_field(t, torch.from_numpy(v)).numpy()

    v0 = np.concatenate([x.numpy(), np.zeros(2)])
    ref = solve_ivp(rhs, (0, 1), v0, rtol=1e-11, atol=1e-12, method="DOP853").y[:, -1]
    with torch.no_grad():
        assert abs(net(x[None])[0, 0].item() - ref[-1]) < 1e-6  # ReLU kinks cap accuracy


def test_circuit_bad_input_gives_clear_errors():
    with pytest.raises(ValueError, match=r"edge 1 = \[2, 5\] refers to a node that does not "
                                         r"exist: nodes are 0 \(ground\) .. 3"):
        CircuitCell(3, torch.tensor([[1, 2], [2, 5]]))
    with pytest.raises(ValueError, match="connects a node to itself"):
        CircuitCell(3, torch.tensor([[1, 1]]))
    with pytest.raises(ValueError, match="capacitance must be > 0"):
        CircuitCell(3, torch.tensor([[1, 2]]), capacitance=-1.0)
    with pytest.raises(ValueError, match="unknown branch 'diode'; known branches: conductance"):
        CircuitCell(3, torch.tensor([[1, 2]]), "diode")
    with pytest.raises(ValueError, match=r"expects \(batch, 10\) inputs, got \(4, 9\)"):
        get_model("kirchhoffnet", in_channels=10, out_channels=1)(torch.zeros(4, 9))
    with pytest.raises(ValueError, match="image_shape"):
        KirchhoffNet(9, 1, topology="ne")


# --- DynPMNN -----------------------------------------------------------------------------

def test_dynpmnn_euler_layer_equals_the_hand_written_fhn_recurrence(float64):
    torch.manual_seed(0)
    layer = FHNLayer(5, 4)  # Euler, 25 steps of 0.1, a = 0.2, b = 0.02, g = 3
    x = torch.randn(3, 5)
    v, w = layer.initial(x).split(4, dim=-1)
    a, b, g = 0.2, 0.02, 3.0
    for _ in range(25):
        v, w = v + 0.1 * (-v * (v - a) * (v - 1) - w), w + 0.1 * b * (v - g * w)
    torch.testing.assert_close(layer(x), v, atol=1e-12, rtol=0)
    assert {n for n, _ in layer.cell.named_parameters()} == {"a", "b", "g"}


def test_dynpmnn_with_adaptive_steps_converges_to_solve_ivp(float64):
    torch.manual_seed(0)
    layer = FHNLayer(3, 2, discretizer="adaptive", t_end=10.0, n_steps=5)
    layer.discretizer = Adaptive(rtol=1e-10, atol=1e-12)
    x = torch.randn(1, 3)
    with torch.no_grad():
        h0 = layer.initial(x)[0].numpy()
        out = layer(x)[0].numpy()

    def rhs(t, h):
        v, w = h[:2], h[2:]
        return np.concatenate([-v * (v - 0.2) * (v - 1) - w, 0.02 * (v - 3 * w)])

    ref = solve_ivp(rhs, (0, 10), h0, rtol=1e-11, atol=1e-12, method="DOP853").y[:2, -1]
    np.testing.assert_allclose(out, ref, atol=1e-7)


def test_dynpmnn_learns_a_generated_regression_set():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(256, 4, generator=g)
    y = (torch.sin(3 * x[:, :1]) + x[:, 1:2] * x[:, 2:3])
    torch.manual_seed(0)
    model = DynPMNN(4, 1, hidden_channels=16)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(150):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        first = first if first is not None else loss.item()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first
    assert model.layers[0].cell.a.grad is not None  # dynamical parameters are trained


# --- SPICE -------------------------------------------------------------------------------

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None,
                                   reason="ngspice is not installed (apt-get install ngspice; "
                                          ".ci/run installs it)")


@needs_ngspice
def test_ngspice_simulates_an_exported_trained_kirchhoffnet_like_kinnsci(tmp_path, float64):
    torch.manual_seed(0)
    net = KirchhoffNet(6, 2, hidden_channels=1, branch="tanh_diff", repeat=1)  # 9 nodes
    x = torch.rand(32, 6)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(5):  # "trained": parameters moved away from their initialisation
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(x), x[:, :2].flip(-1)).backward()
        opt.step()
    net.solver = Adaptive(rtol=1e-10, atol=1e-10)
    with torch.no_grad():
        ours = net.node_voltages(x[:1], torch.tensor([0.0, 1.0]))[-1, 0].numpy()
    to_spice(net, tmp_path / "net.cir", x[0], data_file="out.txt")
    run_ngspice(tmp_path / "net.cir")
    t, v = read_wrdata(tmp_path / "out.txt")
    assert t[-1] == pytest.approx(1.0) and v.shape[1] == 9
    np.testing.assert_allclose(v[-1], ours, atol=1e-4)


@needs_ngspice
def test_ngspice_simulates_an_exported_cascade_like_zoh(tmp_path, float64):
    cascade = CascadeCell([
        KirchhoffNodeCell(capacitance=0.5, leak_conductance=0.7, input_conductance=1.5,
                          channels=2),
        KirchhoffNodeCell(leak_conductance=2.0, input_conductance=0.8, readout_gain=1.3,
                          feedthrough=0.2, channels=2)])
    u = torch.tensor([0.7, -0.4])
    with torch.no_grad():
        h = get_discretizer("zoh").solve(cascade, torch.zeros(4), u.expand(2, 2).clone(),
                                         torch.tensor([0.0, 2.0]))[-1]
    to_spice(cascade, tmp_path / "ladder.cir", u, t_end=2.0, data_file="out.txt")
    run_ngspice(tmp_path / "ladder.cir")
    _, v = read_wrdata(tmp_path / "out.txt")
    # ngspice order: channel by channel, stage by stage; kinnsci: stage by stage
    np.testing.assert_allclose(v[-1], h[[0, 2, 1, 3]].numpy(), atol=1e-4)


def test_spice_export_refuses_what_it_cannot_express(tmp_path):
    with pytest.raises(ValueError, match="2 periods"):
        to_spice(KirchhoffNet(2, 1, periods=2), tmp_path / "x.cir", [0.1, 0.2])
    with pytest.raises(ValueError, match="need 2 values"):
        to_spice(KirchhoffNet(2, 1), tmp_path / "x.cir", [0.1])


# --- KirchhoffNet as a density model and a classifier -------------------------------------

def _two_moons(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=g) * math.pi
    upper = torch.rand(n, generator=g) < 0.5
    x = torch.where(upper, torch.cos(t), 1 - torch.cos(t))
    y = torch.where(upper, torch.sin(t), 0.5 - torch.sin(t))
    pts = torch.stack([x - 0.5, y - 0.25], -1) * 1.5
    return pts + 0.08 * torch.randn(n, 2, generator=g)


def test_flow_log_prob_matches_the_change_of_variables_by_autograd_jacobian(float64):
    torch.manual_seed(0)
    flow = KirchhoffFlow(channels=2, repeat=3, rtol=1e-10, atol=1e-10)
    z = torch.tensor([[0.3, -0.7]], requires_grad=True)
    times = torch.tensor([0.0, 1.0])

    def push(z_):
        return odeint(lambda t, v: flow.cell.vector_field(t, v), z_, times, rtol=1e-10,
                      atol=1e-10)[-1]

    x = push(z)
    jac = torch.autograd.functional.jacobian(lambda z_: push(z_[None])[0], z[0].detach())
    expected = (-0.5 * (z**2).sum() - math.log(2 * math.pi) - torch.linalg.slogdet(jac)[1])
    torch.testing.assert_close(flow.log_prob(x.detach())[0], expected.detach(), atol=1e-7,
                               rtol=0)


def test_flow_density_integrates_to_one(float64):
    torch.manual_seed(1)
    flow = KirchhoffFlow(channels=2, repeat=2, rtol=1e-7, atol=1e-7)
    s = torch.linspace(-7, 7, 71)
    grid = torch.stack(torch.meshgrid(s, s, indexing="ij"), -1).reshape(-1, 2)
    with torch.no_grad():
        mass = flow.log_prob(grid).exp().sum() * (s[1] - s[0]) ** 2
    assert abs(mass.item() - 1) < 2e-2


@pytest.mark.slow
def test_flow_learns_the_two_moons_density():
    torch.manual_seed(0)
    flow = KirchhoffFlow(channels=2, repeat=16, rtol=1e-3, atol=1e-3)
    train, test = _two_moons(512, 0), _two_moons(512, 1)
    base = -0.5 * (test**2).sum(-1) - math.log(2 * math.pi)  # N(0, I) on the same points
    opt = torch.optim.AdamW(flow.parameters(), lr=1e-2)
    for step in range(300):
        idx = torch.randint(0, len(train), (128,), generator=torch.Generator().manual_seed(step))
        opt.zero_grad()
        (-flow.log_prob(train[idx]).mean()).backward()
        opt.step()
    with torch.no_grad():
        gain = (flow.log_prob(test) - base).mean().item()
    print(f"two moons: test log-likelihood {flow.log_prob(test).mean().item():.3f} nats "
          f"({gain:+.3f} over N(0, I))")
    assert gain > 0.3


@pytest.mark.slow
def test_kirchhoffnet_classifies_digits_well_above_chance():
    sklearn = pytest.importorskip("sklearn", reason="pip install -e '.[papers]' for sklearn")
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    tr, te = perm[:1400], perm[1400:]
    torch.manual_seed(0)
    net = KirchhoffNet(64, 10, hidden_channels=8, topology="proj", image_shape=(1, 8, 8),
                       kernel=3, repeat=1)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    for _ in range(4):
        for idx in tr[torch.randperm(len(tr))].split(64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x[idx]) * 5, y[idx]).backward()
            opt.step()
    with torch.no_grad():
        acc = (net(x[te]).argmax(-1) == y[te]).float().mean().item()
    print(f"digits: test accuracy {acc:.3f} with {count_parameters(net)} parameters "
          f"({sklearn.__version__})")
    assert acc > 0.8


@needs_ngspice
def test_ngspice_runs_a_netlist_given_by_a_relative_path(tmp_path, monkeypatch):
    """``run_ngspice("sub/net.cir")`` used to run ngspice inside sub/ on the path sub/net.cir
    (tutorial 05 crashed with a relative output folder)."""
    monkeypatch.chdir(tmp_path)
    cascade = CascadeCell([KirchhoffNodeCell(channels=1)])
    (tmp_path / "sub").mkdir()
    to_spice(cascade, "sub/ladder.cir", torch.tensor([1.0]), t_end=1.0, data_file="out.txt")
    run_ngspice("sub/ladder.cir")
    t, v = read_wrdata("sub/out.txt")  # beside the netlist
    assert t[-1] == pytest.approx(1.0) and v[-1, 0] > 0
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_ngspice("sub/missing.cir")


def test_a_circuit_refuses_an_input_of_another_dtype_instead_of_casting():
    """torch's modules raise on a dtype mismatch; CircuitCell silently cast its parameters
    to the input's dtype (float64 inputs ran a float32 circuit in float64 and back)."""
    net = KirchhoffNet(3, 1, hidden_channels=1)
    with pytest.raises(ValueError, match="float64 but the circuit's parameters are"):
        net(torch.rand(2, 3, dtype=torch.float64))
    assert net(torch.rand(2, 3)).shape == (2, 1)
