"""Open any netCDF3/netCDF4/HDF5 simulation file lazily through xarray.

Files written by kinnsci, by other simulation codes, and PDEBench's HDF5 layouts all come
back as an ``xarray.Dataset`` backed by dask arrays: nothing is read until a value is
needed, so files larger than memory are fine.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr

from kinnsci.errors import DataError, InputNotFoundError

_NETCDF3_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def file_format(path: Path) -> str:
    """``"netcdf3"`` or ``"hdf5"`` (netCDF-4 is HDF5) from the file's first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head[:4] in _NETCDF3_MAGIC:
        return "netcdf3"
    if head == _HDF5_MAGIC:
        return "hdf5"
    raise DataError(
        f"{path} is not a netCDF or HDF5 file (its first bytes are {head!r}); kinnsci reads "
        "netCDF3, netCDF4 and HDF5. Convert other formats with xarray first "
        "(e.g. xr.open_zarr(...).to_netcdf(...))"
    )


DATA_SUFFIXES = (".nc", ".nc4", ".cdf", ".h5", ".hdf5", ".hdf")


def data_files(path: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """The files ``path`` names: one file, a glob pattern (``"runs/*.nc"``), a folder (its
    netCDF/HDF5 files) or a list of any of these; sorted within each pattern or folder.

    Raises:
        InputNotFoundError: a file, pattern or folder that yields no file.
    """
    if isinstance(path, (list, tuple)):
        return [f for p in path for f in data_files(p)]
    text = os.fspath(path)
    if glob.has_magic(text):
        found = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
        if not found:
            raise InputNotFoundError(f"no file matches {text!r} (check the pattern; quote it "
                                     "on the command line so the shell does not expand it)")
        return found
    p = Path(text)
    if p.is_dir():
        found = sorted(f for f in p.iterdir() if f.suffix.lower() in DATA_SUFFIXES)
        if not found:
            raise DataError(f"{p} is a folder without netCDF/HDF5 files (looked for "
                            f"{', '.join(DATA_SUFFIXES)}); pass a file, a folder of them or "
                            "a glob")
        return found
    return [p]


def open_dataset(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    variables: Sequence[str] | None = None,
    chunks: str | int | dict | None = "auto",
    *,
    sample_dim: str = "sample",
) -> xr.Dataset:
    """Open a simulation file, or a set of them, lazily.

    Args:
        path: a netCDF3, netCDF4 or HDF5 file; or several (a glob such as
            ``"data/*.nc"``, a folder of such files, or a list): they are concatenated
            along ``sample_dim`` lazily, after checking that every file has the same
            variables, grid and coordinates (a mismatch is an error naming the file and
            what differs). PDEBench HDF5 layouts are recognised:
            a Darcy file (``tensor`` (N, 1, X, Y) and ``nu`` (N, X, Y)) becomes variables
            ``u`` and ``nu`` with dims (sample, y, x); a file of per-seed groups
            (``0000/data`` (T, X, Y, C), ``0000/grid/{x,y,t}``) becomes variables
            ``data`` (one channel) or ``data_0 … data_{C-1}`` with dims
            (sample, time, y, x); a 2-D CFD file (``density``, ``pressure``, ``Vx``,
            ``Vy`` (N, T, X, Y)) keeps those names; an incompressible-NS file
            (``velocity`` (N, T, X, Y, 2), ``particles``, ``force``) becomes
            ``velocity_x``, ``velocity_y``, ``particles``, ``force_x``, ``force_y``.
            PDEBench indexes space as (x, y); kinnsci transposes to (y, x) lazily. Files
            with LZF-compressed datasets are read through h5py/h5netcdf.
        variables: names to keep (all when None); a missing name is an error that lists
            the available ones.
        chunks: dask chunking passed to xarray (``"auto"``, a dict, or None for lazily
            indexed arrays without dask).

        sample_dim: the dimension several files are concatenated along.

    Returns:
        ``xarray.Dataset``; its ``encoding["source"]`` is the path (for several files:
        the first, and how many more).

    Raises:
        InputNotFoundError: a path or pattern that names no file.
        DataError: a file that is not netCDF/HDF5, truncated, lacks a variable, or does
            not match the others of a set.
    """
    paths = data_files(path)
    if len(paths) == 1:
        return _open_one(paths[0], variables, chunks)
    parts = [_open_one(p, variables, chunks) for p in paths]
    check_parts_agree(parts, paths, sample_dim)
    ds = xr.concat(parts, dim=sample_dim, data_vars="minimal", coords="minimal",
                   compat="override", join="override", combine_attrs="drop_conflicts")
    ds.encoding["source"] = f"{paths[0]} and {len(paths) - 1} more file(s)"
    ds.set_close(lambda: [part.close() for part in parts])
    return ds


def check_parts_agree(parts: Sequence[xr.Dataset], paths: Sequence[Path],
                      sample_dim: str) -> None:
    """Raise ``DataError`` unless every dataset has the first one's variables, dims and
    (non-sample) coordinates, and each variable has ``sample_dim``."""
    first, ref = parts[0], paths[0]
    for ds, path in zip(parts, paths, strict=True):
        if set(ds.data_vars) != set(first.data_vars):
            raise DataError(
                f"{path} has variables {sorted(map(str, ds.data_vars))} where {ref} has "
                f"{sorted(map(str, first.data_vars))}; a set of files must hold the same "
                "variables (pass variables=[...] / --inputs/--targets to pick shared ones)")
        for name, var in ds.data_vars.items():
            if sample_dim not in var.dims:
                raise DataError(f"variable {name!r} of {path} has no {sample_dim!r} dimension "
                                f"(dims {var.dims}) to join the files along; pass "
                                "sample_dim= the dimension that numbers samples")
            other = {d: n for d, n in first[name].sizes.items() if d != sample_dim}
            mine = {d: n for d, n in var.sizes.items() if d != sample_dim}
            if mine != other:
                raise DataError(f"variable {name!r} of {path} has sizes {mine} where {ref} "
                                f"has {other}; the files' grids differ")
        for name, coord in first.coords.items():
            if sample_dim in coord.dims:
                continue
            if name not in ds.coords or not _same_values(ds[name].values, coord.values):
                raise DataError(f"coordinate {name!r} of {path} differs from {ref}'s; the "
                                "files' grids or time axes differ, so their samples cannot "
                                "be stacked")


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "iuf" and b.dtype.kind in "iuf":
        return bool(np.allclose(a, b, rtol=1e-9, atol=0, equal_nan=True))
    return bool(np.array_equal(a, b))  # dates (datetime64, cftime), strings


def _open_one(path: Path, variables: Sequence[str] | None,
              chunks: str | int | dict | None) -> xr.Dataset:
    if not path.exists():
        raise InputNotFoundError(f"data file {path} does not exist (check the path; "
                                "`kinnsci generate --help` makes one)")
    fmt = file_format(path)
    try:
        ds = _xr_open(path, chunks, engine="scipy") if fmt == "netcdf3" else _open_hdf5(
            path, chunks)
    except (OSError, ValueError, TypeError, IndexError) as exc:
        if isinstance(exc, DataError):
            raise
        # A file cut short (interrupted copy or download) fails inside the format library
        # with errors that do not say so.
        raise DataError(
            f"{path} looks like a {fmt} file but cannot be read ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200]}); it is probably truncated or corrupt: copy "
            "or generate it again") from exc
    ds.encoding["source"] = str(path)
    if variables is not None:
        require_variables(ds, variables)
        ds = ds[list(variables)]
        ds.encoding["source"] = str(path)
    return ds


def require_variables(ds: xr.Dataset, names: Sequence[str], argument: str = "variables"):
    """Raise ``DataError`` naming the file and the available variables if one is missing."""
    missing = [n for n in names if n not in ds.variables]
    if missing:
        source = ds.encoding.get("source", "the dataset")
        available = ", ".join(str(v) for v in ds.data_vars) or "(none)"
        raise DataError(
            f"{argument}: variable(s) {missing} not found in {source}; "
            f"available variables: {available}"
        )


def _open_hdf5(path: Path, chunks) -> xr.Dataset:
    import h5py

    with h5py.File(path, "r") as fh:
        keys = set(fh.keys())
        layout = ("pdebench_darcy" if {"tensor", "nu"} <= keys else
                  "pdebench_cfd" if {"density", "Vx", "Vy"} <= keys else
                  "pdebench_ns_incompressible" if {"velocity", "particles"} <= keys else
                  "pdebench_groups" if keys and all(isinstance(fh[k], h5py.Group)
                                                   and "data" in fh[k] for k in keys)
                  else "netcdf")
        filters = set()
        fh.visititems(lambda _, obj: filters.add(obj.compression)
                      if isinstance(obj, h5py.Dataset) else None)
    if layout == "pdebench_darcy":
        return _pdebench_darcy(path)
    if layout == "pdebench_groups":
        return _pdebench_groups(path)
    if layout == "pdebench_cfd":
        return _pdebench_cfd(path)
    if layout == "pdebench_ns_incompressible":
        return _pdebench_ns_incompressible(path)
    if "lzf" in filters:
        # LZF (PDEBench's writers, h5py/h5netcdf compression="lzf") is h5py's own filter:
        # netCDF-C opens such files but fails on every read, so read them through h5py.
        return _xr_open(path, chunks, engine="h5netcdf", phony_dims="sort")
    try:
        return _xr_open(path, chunks, engine="netcdf4")
    except (OSError, ValueError):
        # Plain HDF5 written by h5py has no dimension scales; h5netcdf names them.
        return _xr_open(path, chunks, engine="h5netcdf", phony_dims="sort")


def _xr_open(path: Path, chunks, **kwargs) -> xr.Dataset:
    try:
        return xr.open_dataset(path, chunks=chunks, decode_times=False, **kwargs)
    except NotImplementedError:
        # dask cannot auto-chunk text (object) variables; chunk the numeric ones only.
        ds = xr.open_dataset(path, chunks=None, decode_times=False, **kwargs)
        numeric = [n for n, v in ds.data_vars.items() if v.dtype.kind in "biufc"]
        return ds.assign({n: ds[n].chunk(chunks) for n in numeric})


def _owning(fh, ds: xr.Dataset) -> xr.Dataset:
    """``ds`` reads lazily from the open h5py file ``fh``: ``ds.close()`` (or a ``with``
    block) closes it, as for files xarray opens itself."""
    ds.set_close(fh.close)
    return ds


def _lazy(dataset) -> da.Array:
    return da.from_array(dataset, chunks=(1,) + tuple(dataset.shape[1:]))


def _pdebench_darcy(path: Path) -> xr.Dataset:
    import h5py

    fh = h5py.File(path, "r")  # stays open: the dask graph reads from it on demand
    u = _lazy(fh["tensor"])[:, 0].transpose(0, 2, 1)
    nu = _lazy(fh["nu"]).transpose(0, 2, 1)
    coords = {}
    if "x-coordinate" in fh:
        coords["x"] = ("x", fh["x-coordinate"][()])
    if "y-coordinate" in fh:
        coords["y"] = ("y", fh["y-coordinate"][()])
    return _owning(fh, xr.Dataset(
        {"u": (("sample", "y", "x"), u), "nu": (("sample", "y", "x"), nu)}, coords=coords,
        attrs={"layout": "PDEBench Darcy (tensor, nu)"}))


def _pdebench_groups(path: Path) -> xr.Dataset:
    import h5py

    fh = h5py.File(path, "r")
    seeds = sorted(fh.keys())
    first = fh[seeds[0]]
    data = da.stack([_lazy(fh[s]["data"]) for s in seeds])  # (sample, T, X, Y, C)
    data = data.transpose(0, 1, 3, 2, 4)  # -> (sample, T, Y, X, C)
    dims = ("sample", "time", "y", "x")
    n_channels = data.shape[-1]
    if n_channels == 1:
        variables = {"data": (dims, data[..., 0])}
    else:
        variables = {f"data_{c}": (dims, data[..., c]) for c in range(n_channels)}
    coords = {}
    if "grid" in first:
        for name in ("x", "y", "t"):
            if name in first["grid"]:
                coords["time" if name == "t" else name] = (
                    "time" if name == "t" else name, np.asarray(first["grid"][name][()]))
    if "time" in coords and len(coords["time"][1]) != data.shape[1]:
        del coords["time"]
    return _owning(fh, xr.Dataset(variables, coords=coords,
                                  attrs={"layout": "PDEBench per-seed groups (data, grid/x,y,t)",
                                         "seeds": ",".join(seeds)}))


def _pdebench_cfd(path: Path) -> xr.Dataset:
    """PDEBench 2-D compressible NS: density, pressure, Vx, Vy as (N, nt, nx, ny), with
    ``t-coordinate`` of nt + 1 entries (the last is the end time, not a stored state)."""
    import h5py

    fh = h5py.File(path, "r")
    names = [n for n in ("density", "pressure", "Vx", "Vy") if n in fh]
    dims = ("sample", "time", "y", "x")
    variables = {n: (dims, _lazy(fh[n]).transpose(0, 1, 3, 2)) for n in names}
    n_time = fh[names[0]].shape[1]
    coords = {}
    if "t-coordinate" in fh:
        coords["time"] = ("time", np.asarray(fh["t-coordinate"][()])[:n_time])
    for axis in ("x", "y"):
        if f"{axis}-coordinate" in fh:
            coords[axis] = (axis, np.asarray(fh[f"{axis}-coordinate"][()]))
    return _owning(fh, xr.Dataset(variables, coords=coords,
                                  attrs={"layout": "PDEBench 2D CFD (density, pressure, Vx, Vy)",
                                         **{k: _attr(v) for k, v in fh.attrs.items()}}))


def _pdebench_ns_incompressible(path: Path) -> xr.Dataset:
    """PDEBench 2-D incompressible NS: velocity (N, T, X, Y, 2), particles (N, T, X, Y, 1),
    force (N, X, Y, 2) and t (N, T); written with LZF compression, read through h5py."""
    import h5py

    fh = h5py.File(path, "r")
    dims = ("sample", "time", "y", "x")
    velocity = _lazy(fh["velocity"]).transpose(0, 1, 3, 2, 4)
    variables = {"velocity_x": (dims, velocity[..., 0]), "velocity_y": (dims, velocity[..., 1]),
                 "particles": (dims, _lazy(fh["particles"])[..., 0].transpose(0, 1, 3, 2))}
    if "force" in fh:
        force = _lazy(fh["force"]).transpose(0, 2, 1, 3)
        variables["force_x"] = (("sample", "y", "x"), force[..., 0])
        variables["force_y"] = (("sample", "y", "x"), force[..., 1])
    coords = {}
    if "t" in fh and fh["t"].shape[-1] == fh["velocity"].shape[1]:
        coords["time"] = ("time", np.asarray(fh["t"][0] if fh["t"].ndim == 2 else fh["t"][()]))
    return _owning(fh, xr.Dataset(variables, coords=coords,
                                  attrs={"layout": "PDEBench 2D incompressible NS (velocity, "
                                                   "particles, force, t)"}))


def _attr(value):
    return value.item() if isinstance(value, np.generic) else (
        value.tolist() if isinstance(value, np.ndarray) else value)
