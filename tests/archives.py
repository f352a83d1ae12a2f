"""Files laid out as public PDE archives write them (no download): The Well's HDF5
specification and POSEIDON-style netCDF with a channel dimension."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import xarray as xr


def write_the_well(path: Path, n_traj: int = 4, n_steps: int = 6, nx: int = 16, ny: int = 12,
                   seed: int = 0) -> dict[str, np.ndarray]:
    """A 2-D file of The Well (``docs/data_format.md``): a scalar field varying in
    everything, a velocity vector, a symmetric stress tensor, a coefficient that varies
    across samples but not in time, a field shared by all samples, a field constant along
    y, and scalars. Returns the arrays as stored (axes in the file's (x, y) order)."""
    rng = np.random.default_rng(seed)
    stored = {
        "pressure": rng.random((n_traj, n_steps, nx, ny), dtype=np.float32),
        "velocity": rng.random((n_traj, n_steps, nx, ny, 2), dtype=np.float32),
        "stress": rng.random((n_traj, n_steps, nx, ny, 2, 2), dtype=np.float32),
        "viscosity": rng.random((n_traj, nx, ny), dtype=np.float32),  # not time_varying
        "forcing": rng.random((n_steps, nx, ny), dtype=np.float32),  # not sample_varying
        "inflow": rng.random((n_traj, n_steps, nx), dtype=np.float32),  # not varying in y
        "energy": rng.random((n_traj, n_steps), dtype=np.float32),
    }
    with h5py.File(path, "w") as f:
        f.attrs["dataset_name"] = "toy_flow"
        f.attrs["grid_type"] = "cartesian"
        f.attrs["n_spatial_dims"] = 2
        f.attrs["n_trajectories"] = n_traj
        f.attrs["simulation_parameters"] = ["Reynolds"]
        f.attrs["Reynolds"] = 100.0
        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = ["x", "y"]
        for name, values, time_varying in (("time", np.linspace(0, 1, n_steps), True),
                                           ("x", np.linspace(0, 1, nx), False),
                                           ("y", np.linspace(0, 2, ny), False)):
            d = dims.create_dataset(name, data=values.astype(np.float32))
            d.attrs["sample_varying"], d.attrs["time_varying"] = False, time_varying
        bcs = f.create_group("boundary_conditions")
        for name, dim, kind in (("x_periodic", "x", "PERIODIC"), ("y_wall", "y", "WALL")):
            g = bcs.create_group(name)
            g.attrs["associated_dims"], g.attrs["associated_fields"] = [dim], []
            g.attrs["bc_type"] = kind
            g.attrs["sample_varying"], g.attrs["time_varying"] = False, False
            mask = np.zeros(nx if dim == "x" else ny, dtype=bool)
            mask[[0, -1]] = True
            g.create_dataset("mask", data=mask)
        scalars = f.create_group("scalars")
        scalars.attrs["field_names"] = ["Reynolds", "energy"]
        s = scalars.create_dataset("Reynolds", data=np.float32(100.0))
        s.attrs["sample_varying"], s.attrs["time_varying"] = False, False
        s = scalars.create_dataset("energy", data=stored["energy"])
        s.attrs["sample_varying"], s.attrs["time_varying"] = True, True
        groups = {g: f.create_group(g) for g in ("t0_fields", "t1_fields", "t2_fields")}
        layout = {  # name: (group, sample_varying, time_varying, dim_varying)
            "pressure": ("t0_fields", True, True, [True, True]),
            "viscosity": ("t0_fields", True, False, [True, True]),
            "forcing": ("t0_fields", False, True, [True, True]),
            "inflow": ("t0_fields", True, True, [True, False]),
            "velocity": ("t1_fields", True, True, [True, True]),
            "stress": ("t2_fields", True, True, [True, True]),
        }
        for name, (group, sample_varying, time_varying, dim_varying) in layout.items():
            d = groups[group].create_dataset(name, data=stored[name])
            d.attrs["sample_varying"], d.attrs["time_varying"] = sample_varying, time_varying
            d.attrs["dim_varying"] = np.array(dim_varying)
            if group == "t2_fields":
                d.attrs["symmetric"], d.attrs["antisymmetric"] = True, False
        for group in groups.values():
            group.attrs["field_names"] = list(group.keys())
    return stored


def write_poseidon(path: Path, n_traj: int = 8, n_time: int = 5, n: int = 16,
                   seed: int = 0) -> dict[str, np.ndarray]:
    """A POSEIDON/camlab-style netCDF file: ``data(trajectory, time, channel, x, y)``
    (density, two velocities, pressure) beside a time-independent coefficient
    ``c(trajectory, x, y)``."""
    rng = np.random.default_rng(seed)
    data = rng.random((n_traj, n_time, 4, n, n), dtype=np.float32)
    c = rng.random((n_traj, n, n), dtype=np.float32) + 0.5
    xr.Dataset({"data": (("trajectory", "time", "channel", "x", "y"), data),
                "c": (("trajectory", "x", "y"), c)},
               coords={"time": np.arange(n_time) * 0.1}).to_netcdf(path)
    return {"data": data, "c": c}
