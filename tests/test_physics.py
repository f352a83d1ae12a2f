"""Each generator's PDE as a residual (kinnsci.physics): vanishing on the generator's own
data, growing under 1 % noise, converging at the known order, differentiable, and the
errors that name what a file lacks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kinnsci.data import generate, open_dataset
from kinnsci.errors import ConfigError, DataError
from kinnsci.physics import get_equation
from kinnsci.physics.darcy import darcy_operator
from kinnsci.physics.navier_stokes import Spectral2d
from kinnsci.physics.shallow_water import flux_divergence

# generator kwargs: NS saves every 0.01 s and shallow water every 0.0125 s (near its CFL
# step), so time derivatives from saved steps resolve the dynamics
RECIPES = {
    "darcy": dict(resolution=32),
    "poisson": dict(resolution=32),
    "navier_stokes": dict(resolution=32, n_times=5, dt_save=0.01, dt=1e-3),
    "shallow_water": dict(resolution=32, n_times=41, t_end=0.5),
}
# true-field residual RMS relative to the noisy one's: rounding for the steady problems
# (the generators solve the very stencil), the saved step's time error for the others
FACTOR = {"darcy": 1e6, "poisson": 1e6, "navier_stokes": 3.0, "shallow_water": 3.0}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("physics")
    out = {}
    for name, kwargs in RECIPES.items():
        out[name] = generate(name, root / f"{name}.nc", n_samples=2, seed=0,
                             progress=False, **kwargs)
    return out


def _noisy(ds, equation, rng):
    """Every solved variable (not the given coefficients) + 1 % of its std as noise."""
    noisy = ds.copy()
    for v in equation.variables:
        if v in ("a", "f"):
            continue
        noisy[v] = ds[v] + 0.01 * float(ds[v].std()) * rng.standard_normal(ds[v].shape)
    return noisy


@pytest.mark.parametrize("name", list(RECIPES))
def test_true_fields_satisfy_their_equation_and_noise_breaks_it(files, name):
    ds = open_dataset(files[name]).load()
    equation = get_equation(name)
    res = equation.residual(ds)
    assert set(res.data_vars) == set(equation.components)
    clean = equation.residual_rms(ds)
    noisy = equation.residual_rms(_noisy(ds, equation, np.random.default_rng(0)))
    # the first component is the one noise in any solved field reaches (mass for SWE)
    first = equation.components[0]
    assert noisy[first] >= FACTOR[name] * clean[first], (clean, noisy)
    if name in ("darcy", "poisson"):
        assert clean[first] < 1e-9  # the generator solved this very stencil


def test_darcy_residual_converges_at_second_order_on_an_analytic_solution():
    """u = sin(πx) sin(πy), a = 1 + x y, f = −∇·(a∇u) exactly: the stencil's residual
    falls as h² (measured order within 0.15 of 2)."""
    errors = []
    sizes = (17, 33, 65)
    for s in sizes:
        x = torch.linspace(0, 1, s, dtype=torch.float64)
        y, xx = torch.meshgrid(x, x, indexing="ij")
        pi = math.pi
        u = torch.sin(pi * xx) * torch.sin(pi * y)
        a = 1 + xx * y
        ux = pi * torch.cos(pi * xx) * torch.sin(pi * y)
        uy = pi * torch.sin(pi * xx) * torch.cos(pi * y)
        f = -(y * ux + xx * uy + a * (-2 * pi**2 * u))
        r = darcy_operator(a, u, 1 / (s - 1), 1 / (s - 1)) - f[1:-1, 1:-1]
        errors.append(float(r.abs().max()))
    orders = [math.log2(errors[i] / errors[i + 1]) for i in range(len(sizes) - 1)]
    assert all(abs(o - 2) < 0.15 for o in orders), (errors, orders)


def test_navier_stokes_residual_falls_as_the_saved_step_squared(tmp_path):
    """The midpoint time difference is second order: over steps Δt = 0.02, 0.01, 0.005
    centred on the same time (t = 0.02), the true fields' residual falls by about 4 per
    halving (measured order within 0.2 of 2)."""
    path = generate("navier_stokes", tmp_path / "ns.nc", n_samples=1, seed=0, resolution=32,
                    n_times=17, dt_save=0.0025, dt=1e-4, progress=False)
    ds = open_dataset(path)
    rms = [get_equation("navier_stokes").residual_rms(ds.isel(time=[8 - k, 8 + k]))["residual"]
           for k in (4, 2, 1)]
    orders = [math.log2(rms[i] / rms[i + 1]) for i in range(2)]
    assert all(abs(o - 2) < 0.2 for o in orders), (rms, orders)


def test_spectral_derivatives_act_on_the_right_axes():
    s = 16
    x = torch.arange(s, dtype=torch.float64) / s
    y, xx = torch.meshgrid(x, x, indexing="ij")
    f = torch.sin(2 * math.pi * xx) * torch.cos(4 * math.pi * y)
    ops = Spectral2d(s, s, 1 / s, 1 / s)
    torch.testing.assert_close(ops.d_dx(f[None])[0], 2 * math.pi * torch.cos(2 * math.pi * xx)
                               * torch.cos(4 * math.pi * y))
    torch.testing.assert_close(ops.d_dy(f[None])[0], -4 * math.pi * torch.sin(2 * math.pi * xx)
                               * torch.sin(4 * math.pi * y))
    torch.testing.assert_close(ops.laplacian(ops.inverse_laplacian(f[None])), f[None])


@pytest.mark.parametrize("boundary", ["reflective", "periodic"])
def test_shallow_water_fluxes_are_the_generators_own(boundary):
    """The differentiable flux divergence equals the generator's numpy one (MUSCL,
    minmod, Rusanov, its boundaries) on a random state that is busy at every wall."""
    from kinnsci.data.generators.shallow_water import _divergence

    rng = np.random.default_rng(1)
    q = np.stack([1 + rng.random((2, 12, 10)), rng.normal(size=(2, 12, 10)),
                  rng.normal(size=(2, 12, 10))], axis=1)
    expected = -_divergence(q, 9.81, 0.1, boundary)
    got = flux_divergence(torch.as_tensor(q), 9.81, 0.1, 0.1, boundary).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(RECIPES))
def test_residuals_are_differentiable(files, name):
    ds = open_dataset(files[name]).load().isel(sample=[0])
    if "x" in ds.dims:  # a small patch keeps gradcheck quick
        ds = ds.isel(x=slice(0, 8), y=slice(0, 8)) if name in ("darcy", "poisson") else ds
    if "time" in ds.dims:
        ds = ds.isel(time=slice(0, 2))
    equation = get_equation(name)
    params = equation.parameters(open_dataset(files[name]))
    dims = ("sample", "y", "x") if equation.steady else ("sample", "time", "y", "x")
    fields = {v: torch.as_tensor(ds[v].transpose(*dims).values) for v in equation.variables}
    solved = [v for v in equation.variables if v not in ("a", "f")][0]
    base = dict(fields)

    def first_component(field):
        return equation.residual_tensor({**base, solved: field}, params)[
            equation.components[0]].sum()

    start = fields[solved].clone().requires_grad_(True)
    if name == "shallow_water":  # minmod is piecewise: check the gradient exists, is finite
        first_component(start).backward()
        assert torch.isfinite(start.grad).all() and start.grad.abs().sum() > 0
    else:
        assert torch.autograd.gradcheck(lambda f: first_component(f), (start,), eps=1e-6,
                                        atol=1e-5)


def test_a_file_without_the_parameters_is_refused_with_one_line(files):
    ds = open_dataset(files["navier_stokes"])
    del ds.attrs["param_nu"]
    with pytest.raises(DataError) as info:
        get_equation("navier_stokes").residual(ds)
    assert "param_nu" in str(info.value) and "\n" not in str(info.value)
    ds = open_dataset(files["darcy"]).drop_vars("a")
    with pytest.raises(DataError, match="lacks a"):
        get_equation("darcy").residual(ds)
    with pytest.raises(ConfigError, match="known equations: darcy, navier_stokes"):
        get_equation("heat")


def test_a_users_equation_registers_by_defining_it(files):
    from kinnsci.physics import EQUATIONS, Equation
    from kinnsci.physics.poisson import five_point_laplacian

    class Helmholtz(Equation):
        name = "test_helmholtz"
        variables = ("f", "u")

        def parameters(self, ds):
            return {"h": 1 / (ds.sizes["x"] - 1), "k": 1.0}

        def residual_tensor(self, fields, params):
            u = fields["u"]
            return {"residual": -five_point_laplacian(u, params["h"], params["h"])
                    - params["k"] * u[..., 1:-1, 1:-1] - fields["f"][..., 1:-1, 1:-1]}

        def interior(self, ds):
            return {"y": slice(1, -1), "x": slice(1, -1)}

    try:
        res = get_equation("test_helmholtz").residual(open_dataset(files["poisson"]))
        assert res["residual"].shape == (2, 30, 30)
        # on Poisson's data the extra -k u term is all that is left
        u = open_dataset(files["poisson"])["u"].values[:, 1:-1, 1:-1]
        np.testing.assert_allclose(res["residual"].values, -u, atol=1e-9)
    finally:
        EQUATIONS.pop("test_helmholtz")


# --- physics-aware metrics (PDEBench's) ------------------------------------------------------
def test_the_fourier_bands_partition_the_rmse_and_place_each_mode():
    from kinnsci.physics.metrics import band_rmse, frmse_high, frmse_low, frmse_mid
    from kinnsci.train.metrics import rmse

    torch.manual_seed(0)
    pred, true = torch.randn(3, 1, 40, 40, dtype=torch.float64), torch.zeros(3, 1, 40, 40,
                                                                            dtype=torch.float64)
    parts = [f(pred, true, reduction="none") for f in (frmse_low, frmse_mid, frmse_high)]
    torch.testing.assert_close(sum(p**2 for p in parts), rmse(pred, true, reduction="none")**2)
    s = 40
    x = torch.arange(s, dtype=torch.float64) / s
    for k, band in ((3, "low"), (8, "mid"), (15, "high")):
        mode = torch.sin(2 * math.pi * k * x)[None, :].expand(s, s)[None, None]
        for other in ("low", "mid", "high"):
            value = float(band_rmse(mode, torch.zeros_like(mode), other))
            expected = math.sqrt(0.5) if other == band else 0.0  # RMS of a sine: 1/sqrt(2)
            assert value == pytest.approx(expected, abs=1e-12), (k, other)


def test_conserved_and_boundary_errors_see_only_their_part():
    from kinnsci.physics.metrics import brmse, crmse

    true = torch.rand(2, 3, 10, 12)
    assert float(crmse(true + 0.25, true)) == pytest.approx(0.25)
    zero_mean = torch.zeros_like(true)
    zero_mean[..., 0, 0], zero_mean[..., 0, 1] = 1.0, -1.0  # mean unchanged, boundary hit
    assert float(crmse(true + zero_mean, true)) == pytest.approx(0.0, abs=1e-7)
    n_boundary = 2 * 10 + 2 * 12 - 4
    assert float(brmse(true + zero_mean, true)) == pytest.approx(math.sqrt(2 / n_boundary))
    inside = torch.zeros_like(true)
    inside[..., 1:-1, 1:-1] = 5.0
    assert float(brmse(true + inside, true)) == 0.0


def test_kinnsci_evaluate_reports_the_physics_metrics_and_the_residual(files, tmp_path, capsys):
    from kinnsci.cli.main import main

    run = tmp_path / "run"
    data = generate("darcy", tmp_path / "d.nc", n_samples=8, resolution=16, seed=0,
                    progress=False)
    assert main(["train", "--model", "fno", "--data", str(data), "--inputs", "a",
                 "--targets", "u", "--epochs", "1", "--batch-size", "2",
                 "--model-config", '{"n_modes": [8, 7], "hidden_channels": 8}',
                 "--out", str(run), "--no-progress", "--no-plots"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run / "final.pt"), "--data", str(data),
                 "--json", str(tmp_path / "m.json")]) == 0
    import json

    metrics = json.loads((tmp_path / "m.json").read_text())["test"]
    for name in ("frmse_low", "frmse_mid", "frmse_high", "crmse", "brmse", "pde_residual"):
        assert math.isfinite(metrics[name]), name
    assert metrics["pde_residual"] > 0


def test_conservation_drift_measures_the_mean_and_the_energy():
    from kinnsci.physics.metrics import conservation_drift

    true = torch.rand(3, 4, 2, 8, 8) + 1.0
    pred = true.clone()
    pred[:, :, 0] += 0.5  # variable 0 gains 0.5 everywhere
    drift = conservation_drift(pred, true)
    np.testing.assert_allclose(drift["conserved_error"][:, 0], 0.5, rtol=1e-6)
    np.testing.assert_allclose(drift["conserved_error"][:, 1], 0.0, atol=1e-7)
    expected = 0.5 * ((pred[:, :, 0] ** 2).mean((-2, -1)) / (true[:, :, 0] ** 2).mean(
        (-2, -1)) + 1.0).mean(0)
    np.testing.assert_allclose(drift["energy_ratio"], expected.numpy(), rtol=1e-6)


def test_evaluate_writes_the_physics_figures_for_rollouts(tmp_path, capsys):
    from kinnsci.cli.main import main

    data = generate("navier_stokes", tmp_path / "ns.nc", n_samples=8, resolution=16,
                    n_times=6, dt_save=0.01, dt=1e-3, seed=0, progress=False)
    run = tmp_path / "run"
    assert main(["train", "--model", "fno", "--data", str(data), "--variables", "w",
                 "--history", "2", "--epochs", "1", "--batch-size", "4", "--model-config",
                 '{"n_modes": [8, 7], "hidden_channels": 8}', "--out", str(run),
                 "--no-progress", "--no-plots"]) == 0
    assert main(["evaluate", str(run / "final.pt"), "--data", str(data), "--rollout", "3",
                 "--plots", str(tmp_path / "plots"), "--json", str(tmp_path / "m.json"),
                 "--no-progress"]) == 0
    import json

    report = json.loads((tmp_path / "m.json").read_text())
    assert len(report["rollout_energy_ratio"]) == 3
    assert np.asarray(report["rollout_conserved_error"]).shape == (3, 1)
    assert report["test"]["pde_residual"] > 0
    for name in ("physics.png", "conservation.png", "predictions.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 0
    assert "rollout energy / true energy" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["darcy", "poisson"])
def test_the_dirichlet_condition_closes_the_residuals_null_space(files, name):
    """u + c (a constant, boundary included) leaves the interior stencil's residual at
    rounding: only the boundary term sees it. Without that term, physics-only
    fine-tuning could drift along such fields."""
    ds = open_dataset(files[name]).load()
    shifted = ds.copy()
    shifted["u"] = ds["u"] + 0.01
    rms = get_equation(name).residual_rms(shifted)
    h = float(ds["x"][1] - ds["x"][0])
    assert rms["residual"] < 1e-9
    assert rms["boundary"] == pytest.approx(0.01 / h**2, rel=1e-6)
