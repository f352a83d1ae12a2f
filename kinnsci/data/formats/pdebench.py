"""PDEBench's HDF5 layouts as xarray datasets with dims (sample, [time], y, x).

PDEBench indexes space as (x, y); the readers present (y, x), the CF order of kinnsci's
own files, without reading anything: each variable is an :class:`HDF5View`.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import xarray as xr
from xarray.core import indexing

from kinnsci.data.formats.hdf5_array import HDF5View, file_manager

LAYOUTS = ("darcy", "groups", "cfd", "ns_incompressible")


def pdebench_layout(fh: h5py.File) -> str | None:
    """Which PDEBench layout an open file has, or None."""
    keys = set(fh.keys())
    if {"tensor", "nu"} <= keys:
        return "darcy"
    if {"density", "Vx", "Vy"} <= keys:
        return "cfd"
    if {"velocity", "particles"} <= keys:
        return "ns_incompressible"
    if keys and all(isinstance(fh[k], h5py.Group) and "data" in fh[k] for k in keys):
        return "groups"
    return None


def open_pdebench(path: str | Path) -> xr.Dataset:
    """Open a PDEBench file lazily.

    Layouts: a Darcy file (``tensor`` (N, 1, X, Y), ``nu`` (N, X, Y)) gives ``u`` and
    ``nu``; per-seed groups (``0000/data`` (T, X, Y, C), ``0000/grid/{x,y,t}``) give
    ``data`` or ``data_0 … data_{C-1}``; a 2-D CFD file keeps ``density``, ``pressure``,
    ``Vx``, ``Vy``; an incompressible-NS file (``velocity`` (N, T, X, Y, 2),
    ``particles``, ``force``, ``t``) gives ``velocity_x``, ``velocity_y``, ``particles``,
    ``force_x``, ``force_y``.

    Raises:
        ValueError: the file has none of these layouts.
    """
    manager = file_manager(path)
    fh = manager.acquire()
    layout = pdebench_layout(fh)
    if layout is None:
        manager.close()
        raise ValueError(f"{path} has none of PDEBench's layouts ({', '.join(LAYOUTS)}); its "
                         f"top-level names are {sorted(fh.keys())[:10]}")
    reader = {"darcy": _darcy, "groups": _groups, "cfd": _cfd,
              "ns_incompressible": _ns_incompressible}[layout]
    variables, coords, attrs = reader(manager, fh)
    ds = xr.Dataset({name: _variable(dims, view, path) for name, (dims, view) in variables.items()},
                    coords=coords, attrs={"layout": f"PDEBench {layout}", **attrs})
    ds.set_close(manager.close)
    return ds


def _variable(dims: tuple[str, ...], view: HDF5View, path) -> xr.Variable:
    var = xr.Variable(dims, indexing.LazilyIndexedArray(view))
    var.encoding.update(source=str(path), _FillValue=None)
    return var


def _view(manager, fh, name, dims, axes, fixed=None):
    stored = fh[name].shape
    shape = [stored[a] for a in axes]
    return dims, HDF5View(manager, name, axes, shape, fixed)


def _coordinate(fh, name: str, dim: str, length: int | None = None) -> dict:
    if name not in fh:
        return {}
    values = np.asarray(fh[name][()])
    if values.ndim == 2:  # one row per sample (PDEBench's NS ``t``): all rows are equal
        values = values[0]
    if length is not None:
        values = values[:length]  # CFD's t-coordinate ends with the end time: nt + 1 entries
    return {dim: (dim, values)} if length is None or len(values) == length else {}


def _darcy(manager, fh):
    dims = ("sample", "y", "x")
    variables = {"u": _view(manager, fh, "tensor", dims, (0, 3, 2), {1: 0}),
                 "nu": _view(manager, fh, "nu", dims, (0, 2, 1))}
    coords = {**_coordinate(fh, "x-coordinate", "x"), **_coordinate(fh, "y-coordinate", "y")}
    return variables, coords, {}


def _groups(manager, fh):
    seeds = sorted(fh.keys())
    n_time, nx, ny, n_channels = fh[seeds[0]]["data"].shape
    dims = ("sample", "time", "y", "x")
    shape = (len(seeds), n_time, ny, nx)
    names = [f"{s}/data" for s in seeds]
    variables = {}
    for c in range(n_channels):
        name = "data" if n_channels == 1 else f"data_{c}"
        variables[name] = (dims, HDF5View(manager, names, (None, 0, 2, 1), shape, {3: c}))
    grid = fh[seeds[0]].get("grid", {})
    coords = {}
    for name, dim, length in (("x", "x", nx), ("y", "y", ny), ("t", "time", n_time)):
        if name in grid:
            coords.update(_coordinate(grid, name, dim, length))
    return variables, coords, {"seeds": ",".join(seeds)}


def _cfd(manager, fh):
    names = [n for n in ("density", "pressure", "Vx", "Vy") if n in fh]
    dims = ("sample", "time", "y", "x")
    variables = {n: _view(manager, fh, n, dims, (0, 1, 3, 2)) for n in names}
    n_time = fh[names[0]].shape[1]
    coords = {**_coordinate(fh, "t-coordinate", "time", n_time),
              **_coordinate(fh, "x-coordinate", "x"), **_coordinate(fh, "y-coordinate", "y")}
    attrs = {k: v.item() if isinstance(v, np.generic) else v for k, v in fh.attrs.items()}
    return variables, coords, attrs


def _ns_incompressible(manager, fh):
    dims = ("sample", "time", "y", "x")
    variables = {
        "velocity_x": _view(manager, fh, "velocity", dims, (0, 1, 3, 2), {4: 0}),
        "velocity_y": _view(manager, fh, "velocity", dims, (0, 1, 3, 2), {4: 1}),
        "particles": _view(manager, fh, "particles", dims, (0, 1, 3, 2), {4: 0}),
    }
    if "force" in fh:
        for c, axis in enumerate("xy"):
            variables[f"force_{axis}"] = _view(manager, fh, "force", ("sample", "y", "x"),
                                               (0, 2, 1), {3: c})
    coords = _coordinate(fh, "t", "time", fh["velocity"].shape[1])
    return variables, coords, {}
