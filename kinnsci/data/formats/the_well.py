"""The Well (PolymathicAI) HDF5 files as xarray datasets.

The Well's published specification (``docs/data_format.md`` of its repository): fields
live in groups ``t0_fields`` (scalars), ``t1_fields`` (vectors, a trailing axis of D
components) and ``t2_fields`` (tensors, two trailing axes of D), shaped
``[n_trajectories] [n_steps] coord_1 … coord_D``, where a field stores the trajectory axis
only if ``sample_varying``, the time axis only if ``time_varying``, and a spatial axis
only where ``dim_varying`` is true. ``dimensions`` holds the grid (its ``spatial_dims``
attribute names the axes) and ``time``; ``scalars`` holds constants and
``boundary_conditions`` one group per boundary.

What kinnsci makes of it:

- Scalars become variables under their own names; a vector field ``velocity`` becomes
  ``velocity_x``, ``velocity_y`` (component names from ``spatial_dims``); a tensor
  field ``stress`` becomes ``stress_xx``, ``stress_xy``, … (a ``symmetric`` tensor
  only its upper triangle, an ``antisymmetric`` one its strict upper triangle).
- Dims are (sample, time, *reversed spatial dims*): CF's (…, z, y, x) order, the order of
  kinnsci's own files, so ``--spatial-dims y x`` (the default) trains on 2-D sets as
  they are. A field that is not ``sample_varying`` is repeated along ``sample``; one that
  is not ``time_varying`` has no ``time`` dim (a coefficient: a static input of a
  rollout model); one that is not ``dim_varying`` along an axis is repeated along it.
- Simulation parameters, constant scalars, the grid type and the boundary conditions
  (``bc_<name> = "<bc_type> on <dims>"``) become attributes of the dataset.
"""

from __future__ import annotations

from itertools import combinations_with_replacement, product
from pathlib import Path

import h5py
import numpy as np
import xarray as xr
from xarray.core import indexing

from kinnsci.data.formats.hdf5_array import HDF5View, file_manager

FIELD_GROUPS = ("t0_fields", "t1_fields", "t2_fields")


def is_the_well(fh: h5py.File) -> bool:
    """Whether an open HDF5 file follows The Well's specification."""
    keys = set(fh.keys())
    return "dimensions" in keys and bool(keys & set(FIELD_GROUPS))


def open_the_well(path: str | Path) -> xr.Dataset:
    """Open a file of The Well lazily (see the module docstring for the mapping).

    Raises:
        ValueError: the file lacks ``dimensions`` or its field groups, or a field's shape
            does not match what its ``*_varying`` attributes say.
    """
    manager = file_manager(path)
    fh = manager.acquire()
    try:
        ds = _read(manager, fh, path)
    except BaseException:
        manager.close()
        raise
    ds.set_close(manager.close)
    return ds


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return ", ".join(_text(v) for v in value.tolist())
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _names(value) -> list[str]:
    if isinstance(value, str | bytes):
        return [_text(value)]
    return [_text(v) for v in np.asarray(value).tolist()]


def _attr(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes | np.ndarray | list | tuple):
        array = np.asarray(value)
        if array.dtype.kind in "OSU":
            return _text(value)
        return array.tolist() if array.ndim else array.item()
    return value


def _read(manager, fh: h5py.File, path) -> xr.Dataset:
    if not is_the_well(fh):
        raise ValueError(f"{path} is not a file of The Well: it needs a 'dimensions' group "
                         f"and one of {FIELD_GROUPS}, has {sorted(fh.keys())[:10]}")
    grid = fh["dimensions"]
    spatial = _names(grid.attrs["spatial_dims"]) if "spatial_dims" in grid.attrs else [
        n for n in ("x", "y", "z") if n in grid]
    n_samples = int(fh.attrs.get("n_trajectories", 0)) or _n_samples(fh)
    n_time = int(grid["time"].shape[-1]) if "time" in grid else None
    sizes = {d: int(grid[d].shape[-1]) for d in spatial}
    dims_out = ["sample", "time", *reversed(spatial)]
    coords = _coordinates(grid, spatial, n_time)
    variables = {}
    for group_name in FIELD_GROUPS:
        if group_name not in fh:
            continue
        rank = int(group_name[1])
        for name, dataset in fh[group_name].items():
            for component, fixed in _components(name, dataset, spatial, rank):
                dims, view = _field(manager, dataset, group_name, fixed, spatial, sizes,
                                    n_samples, n_time, dims_out, path)
                variables[component] = xr.Variable(dims, indexing.LazilyIndexedArray(view),
                                                   attrs=_field_attrs(dataset, group_name))
                variables[component].encoding.update(source=str(path), _FillValue=None)
    attrs = {k: _attr(v) for k, v in fh.attrs.items()}
    attrs["layout"] = "The Well"
    attrs.update(_scalars(manager, fh, variables, n_samples, n_time, path))
    attrs.update(_boundary_conditions(fh))
    return xr.Dataset(variables, coords=coords, attrs=attrs)


def _n_samples(fh: h5py.File) -> int:
    for group_name in FIELD_GROUPS:
        for dataset in fh.get(group_name, {}).values():
            if dataset.attrs.get("sample_varying", True):
                return int(dataset.shape[0])
    return 1


def _coordinates(grid: h5py.Group, spatial: list[str], n_time: int | None) -> dict:
    coords = {}
    if "time" in grid:
        time = np.asarray(grid["time"][()])
        if time.ndim == 1:
            coords["time"] = ("time", time)
        else:  # a time axis per trajectory
            coords["sample_time"] = (("sample", "time"), time)
    for d in spatial:
        values = np.asarray(grid[d][()])
        if values.ndim == 1:
            coords[d] = (d, values)
        else:  # a grid that moves (the specification does not support this yet)
            coords[f"{d}_coordinate"] = ((("sample",) if grid[d].attrs.get("sample_varying")
                                          else ()) + (("time",) if grid[d].attrs.get(
                                              "time_varying") else ()) + (d,), values)
    return coords


def _components(name: str, dataset: h5py.Dataset, spatial: list[str], rank: int):
    """(variable name, {stored trailing axis: component index}) for each component."""
    if rank == 0:
        yield name, {}
        return
    ndim = dataset.ndim
    if rank == 1:
        for c, d in enumerate(spatial):
            yield f"{name}_{d}", {ndim - 1: c}
        return
    if dataset.attrs.get("antisymmetric", False):
        pairs = [(i, j) for i, j in combinations_with_replacement(range(len(spatial)), 2)
                 if i < j]
    elif dataset.attrs.get("symmetric", False):
        pairs = list(combinations_with_replacement(range(len(spatial)), 2))
    else:
        pairs = list(product(range(len(spatial)), repeat=2))
    for i, j in pairs:
        yield f"{name}_{spatial[i]}{spatial[j]}", {ndim - 2: i, ndim - 1: j}


def _field(manager, dataset: h5py.Dataset, group_name: str, fixed: dict, spatial: list[str],
           sizes: dict, n_samples: int, n_time: int | None, dims_out: list[str], path):
    attrs = dataset.attrs
    varies_sample = bool(attrs.get("sample_varying", True))
    varies_time = bool(attrs.get("time_varying", True))
    varies_dim = [bool(v) for v in np.atleast_1d(attrs.get("dim_varying",
                                                              [True] * len(spatial)))]
    expected_ndim = (varies_sample + varies_time + sum(varies_dim)
                     + int(group_name[1]))
    if dataset.ndim != expected_ndim:
        raise ValueError(
            f"{path}: {group_name}/{dataset.name.rsplit('/', 1)[-1]} has shape "
            f"{dataset.shape}, but its attributes (sample_varying={varies_sample}, "
            f"time_varying={varies_time}, dim_varying={varies_dim}) call for {expected_ndim} "
            "axes; the file does not follow The Well's specification")
    stored = iter(range(dataset.ndim))
    axis_of = {"sample": next(stored) if varies_sample else None,
               "time": next(stored) if varies_time else None}
    for d, varies in zip(spatial, varies_dim, strict=True):
        axis_of[d] = next(stored) if varies else None
    length = {"sample": n_samples, "time": n_time, **sizes}
    dims = [d for d in dims_out if d != "time" or varies_time]
    for d in dims:
        a = axis_of[d]
        if a is not None and dataset.shape[a] != length[d]:
            raise ValueError(f"{path}: {dataset.name} has {dataset.shape[a]} entries along "
                             f"{d}, the file's {d} has {length[d]}")
    view = HDF5View(manager, dataset.name, [axis_of[d] for d in dims],
                    [length[d] for d in dims], fixed)
    return tuple(dims), view


def _field_attrs(dataset: h5py.Dataset, group_name: str) -> dict:
    keep = {k: _attr(v) for k, v in dataset.attrs.items()
            if k in ("sample_varying", "time_varying", "symmetric", "antisymmetric")}
    return {"field_group": group_name, **{k: int(v) if isinstance(v, bool) else v
                                          for k, v in keep.items()}}


def _scalars(manager, fh: h5py.File, variables: dict, n_samples: int,
             n_time: int | None, path) -> dict:
    """Constant scalars as attributes; those varying in time or across samples as
    variables (sample, [time])."""
    attrs = {}
    for name, dataset in fh.get("scalars", {}).items():
        varies_sample = bool(dataset.attrs.get("sample_varying", False))
        varies_time = bool(dataset.attrs.get("time_varying", False))
        if not (varies_sample or varies_time):
            attrs[name] = _attr(np.asarray(dataset[()]).reshape(-1)[0])
            continue
        dims = ("sample",) + (("time",) if varies_time else ())
        axes = ([0] if varies_sample else [None]) + (
            [int(varies_sample)] if varies_time else [])
        shape = [n_samples] + ([n_time] if varies_time else [])
        if name in variables:
            name = f"scalar_{name}"
        variables[name] = xr.Variable(
            dims, indexing.LazilyIndexedArray(HDF5View(manager, dataset.name, axes, shape)))
        variables[name].encoding.update(source=str(path), _FillValue=None)
    return attrs


def _boundary_conditions(fh: h5py.File) -> dict:
    attrs = {}
    for name, group in fh.get("boundary_conditions", {}).items():
        kind = _text(group.attrs.get("bc_type", "unknown"))
        on = _text(group.attrs.get("associated_dims", ""))
        attrs[f"bc_{name}"] = f"{kind} on {on}" if on else kind
    return attrs

