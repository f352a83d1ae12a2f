"""PDE generators against manufactured solutions, analytic decay and conservation laws."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import numpy as np
import pytest

from kinnsci.data.generators import (
    GENERATORS,
    generate,
    get_generator,
    solve_darcy,
    solve_poisson,
    solve_shallow_water,
    solve_vorticity,
)
from kinnsci.data.generators.darcy import node_grid
from kinnsci.data.generators.navier_stokes import periodic_grid


def _observed_order(errors: list[float], sizes: list[int]) -> np.ndarray:
    h = 1.0 / (np.asarray(sizes) - 1)
    return np.diff(np.log(errors)) / np.diff(np.log(h))


def _manufactured(s: int):
    x = node_grid(s)
    xx, yy = np.meshgrid(x, x, indexing="xy")
    return xx, yy, np.sin(np.pi * xx) * np.sin(np.pi * yy)


@pytest.mark.parametrize("a_kind", ["constant", "smooth"])
def test_darcy_converges_at_second_order_on_a_manufactured_solution(a_kind):
    sizes, errors = [17, 33, 65, 129], []
    for s in sizes:
        xx, yy, u = _manufactured(s)
        if a_kind == "constant":
            a = np.full_like(xx, 3.0)
            f = 2 * np.pi**2 * 3.0 * u
        else:  # a = 1 + x y: f = -div(a grad u) by hand
            a = 1 + xx * yy
            ux = np.pi * np.cos(np.pi * xx) * np.sin(np.pi * yy)
            uy = np.pi * np.sin(np.pi * xx) * np.cos(np.pi * yy)
            f = a * 2 * np.pi**2 * u - (yy * ux + xx * uy)
        errors.append(np.abs(solve_darcy(a, f) - u).max())
    orders = _observed_order(errors, sizes)
    assert np.all(orders > 1.9), (errors, orders)
    assert errors[-1] < 1e-3


def test_poisson_dst_converges_at_second_order_and_matches_the_sparse_solver():
    sizes, errors = [17, 33, 65, 129], []
    for s in sizes:
        _, _, u = _manufactured(s)
        errors.append(np.abs(solve_poisson(2 * np.pi**2 * u) - u).max())
    assert np.all(_observed_order(errors, sizes) > 1.95), errors
    # Two independent solvers of the same discrete problem agree to rounding.
    f = np.random.default_rng(0).standard_normal((33, 33))
    np.testing.assert_allclose(solve_poisson(f), solve_darcy(np.ones((33, 33)), f), atol=1e-13)


def test_taylor_green_vortex_decays_at_the_analytic_rate():
    s, nu = 32, 1e-2
    x = periodic_grid(s)
    xx, yy = np.meshgrid(x, x, indexing="xy")
    psi = np.sin(2 * np.pi * xx) * np.sin(2 * np.pi * yy)
    w0 = (8 * np.pi**2 * psi)[None]
    times = np.array([0.0, 0.5, 1.0])
    w = solve_vorticity(w0, nu=nu, forcing=None, save_times=times, dt=1e-3)
    for j, t in enumerate(times):
        exact = w0[0] * np.exp(-2 * nu * (2 * np.pi) ** 2 * t)
        rel = np.linalg.norm(w[0, j] - exact) / np.linalg.norm(exact)
        assert rel < 1e-6, (t, rel)


def test_unforced_navier_stokes_never_grows_enstrophy():
    ds = get_generator("navier_stokes")(3, 32, seed=4, progress=False, forced=False,
                                       n_times=11, dt_save=0.2, dt=1e-2)
    enstrophy = 0.5 * (ds["w"].values ** 2).mean(axis=(-2, -1))  # (sample, time)
    assert np.all(np.diff(enstrophy, axis=1) <= 1e-14 * enstrophy[:, :1]), enstrophy
    assert np.all(enstrophy[:, -1] < enstrophy[:, 0])  # viscosity does dissipate
    # The velocity field is divergence-free by construction, so mean vorticity stays 0.
    assert np.abs(ds["w"].values.mean(axis=(-2, -1))).max() < 1e-12


@pytest.mark.parametrize("boundary", ["reflective", "periodic"])
def test_shallow_water_conserves_mass(boundary):
    ds = get_generator("shallow_water")(2, 48, seed=0, progress=False, boundary=boundary,
                                       t_end=0.5, n_times=6)
    mass = ds["h"].values.sum(axis=(-2, -1))
    rel = np.abs(mass - mass[:, :1]) / mass[:, :1]
    assert rel.max() < 1e-10, rel
    assert not np.allclose(ds["h"].values[:, -1], ds["h"].values[:, 0])  # it did move


def test_shallow_water_lake_at_rest_stays_at_rest():
    q0 = np.zeros((1, 3, 24, 24))
    q0[:, 0] = 1.3
    q = solve_shallow_water(q0, dx=0.1, g=9.81, save_times=np.array([0.0, 0.5]))
    np.testing.assert_array_equal(q[:, -1], q0)


def test_shallow_water_dam_break_is_radially_symmetric():
    ds = get_generator("shallow_water")(1, 40, seed=1, progress=False, t_end=0.3, n_times=2)
    h = ds["h"].values[0, -1]
    np.testing.assert_allclose(h, h.T, atol=1e-12)
    np.testing.assert_allclose(h, h[::-1, ::-1], atol=1e-12)


def test_darcy_coefficient_takes_the_two_benchmark_values():
    ds = get_generator("darcy")(3, 32, seed=0, progress=False)
    assert set(np.unique(ds["a"].values)) == {3.0, 12.0}
    u = ds["u"].values
    assert np.all(u[:, 0, :] == 0) and np.all(u[:, :, -1] == 0)
    assert u.min() >= 0  # maximum principle with f = 1 > 0


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_seed_gives_a_bit_identical_file(name, tmp_path):
    kw = {"n_times": 2, "t_end": 0.05} if name == "shallow_water" else (
        {"n_times": 2, "dt_save": 0.01, "dt": 1e-2} if name == "navier_stokes" else {})
    digests = []
    for run in ("a", "b", "c"):
        seed = 7 if run != "c" else 8
        path = generate(name, tmp_path / f"{run}.nc", n_samples=2, resolution=16, seed=seed,
                        progress=False, **kw)
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]


def test_generate_refuses_to_overwrite_and_leaves_no_temporary_files(tmp_path):
    out = tmp_path / "d.nc"
    out.write_text("user data")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        generate("darcy", out, n_samples=1, resolution=16, progress=False)
    assert out.read_text() == "user data"
    generate("darcy", out, n_samples=1, resolution=16, progress=False, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.nc"]


def test_generator_arguments_are_checked():
    with pytest.raises(ValueError, match="known generators: darcy"):
        get_generator("burgers")
    with pytest.raises(ValueError, match="valid: .*nu"):
        get_generator("navier_stokes")(1, 16, viscosity=1e-3)
    with pytest.raises(ValueError, match="resolution"):
        get_generator("darcy")(1, 4)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generated_files_pass_the_cf_1_8_compliance_checker(name, tmp_path):
    checker = shutil.which("compliance-checker")
    if checker is None:
        pytest.skip("compliance-checker is not installed (pip install -e '.[test]' adds it)")
    kw = {"n_times": 2, "t_end": 0.05} if name == "shallow_water" else (
        {"n_times": 2, "dt_save": 0.01, "dt": 1e-2} if name == "navier_stokes" else {})
    path = generate(name, tmp_path / "f.nc", n_samples=1, resolution=16, progress=False, **kw)
    report = subprocess.run([checker, "--test", "cf:1.8", str(path)], capture_output=True,
                            text=True)
    assert report.returncode == 0, report.stdout


def test_the_time_coordinate_says_how_to_read_seconds(tmp_path):
    """CF needs a reference date, so plain xarray decodes simulated seconds as dates; the
    file's own time attributes say so and how to get seconds."""
    import xarray as xr

    from kinnsci.data import generate, open_dataset

    path = generate("navier_stokes", tmp_path / "ns.nc", n_samples=1, resolution=16,
                    n_times=3, dt_save=0.05, dt=1e-2, progress=False)
    with xr.open_dataset(path, decode_times=False) as raw:
        assert "decode_times=False" in raw.time.attrs["comment"]
        assert raw.time.attrs["long_name"] == "simulated time (seconds from the start)"
        seconds = raw.time.values
    assert seconds[1] == pytest.approx(0.05)
    assert float(open_dataset(path).time[1]) == pytest.approx(0.05)
