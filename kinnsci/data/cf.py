"""CF-1.8 metadata for the files kinnsci writes, and an atomic netCDF writer.

Every generator builds its fields as plain numpy arrays and hands them to
:func:`cf_dataset`, which adds the coordinate variables, ``long_name``/``units`` on every
variable, the global attributes the CF checker asks for and the generator's parameters,
so no generator repeats metadata code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import kinnsci
from kinnsci._atomic import atomic_path
from kinnsci.errors import OutputExistsError

if TYPE_CHECKING:
    import xarray as xr

CONVENTIONS = "CF-1.8"
TIME_UNITS = "seconds since 1970-01-01 00:00:00"
TIME_COMMENT = ("simulated time in seconds from the start of the simulation; CF needs a "
                "reference date, so plain xarray.open_dataset shows it as dates from "
                "1970-01-01: open with decode_times=False, or kinnsci.data.open_dataset, "
                "to get seconds")

Field = tuple[tuple[str, ...], np.ndarray, str, str]
"""``(dims, values, long_name, units)`` of one data variable."""


def _attr_value(value: Any) -> Any:
    """netCDF attributes hold numbers, strings and 1-D numeric arrays only."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, str, np.integer, np.floating)):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
        return np.asarray(value)
    return str(value)


def parameter_attrs(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Generator arguments as global attributes named ``param_<name>``."""
    return {f"param_{k}": _attr_value(v) for k, v in parameters.items()}


def cf_dataset(
    fields: Mapping[str, Field],
    *,
    x: np.ndarray,
    y: np.ndarray,
    time: np.ndarray | None = None,
    title: str,
    generator: str,
    parameters: Mapping[str, Any] | None = None,
    length_units: str = "m",
) -> xr.Dataset:
    """Assemble a CF-1.8 dataset from numpy fields.

    Args:
        fields: name -> ``(dims, values, long_name, units)``; dims drawn from
            ``("sample", "time", "y", "x")`` in that order.
        x: cell or node coordinates along x, shape ``(nx,)``.
        y: cell or node coordinates along y, shape ``(ny,)``.
        time: simulated times in seconds, shape ``(nt,)``, or None for steady problems.
            CF rejects dimensionless time, so nondimensional times are stored as seconds.
        title: one-line description (global ``title``).
        generator: registry name of the generator (recorded in ``source``).
        parameters: generator arguments; each becomes a global attribute ``param_<name>``.
        length_units: units of x and y. CF requires projection coordinates in length
            units, so the nondimensional unit square is written as a square of side 1 m.
    """
    coords: dict[str, Any] = {
        "x": ("x", np.asarray(x, dtype=np.float64), {
            "standard_name": "projection_x_coordinate", "long_name": "x coordinate",
            "units": length_units, "axis": "X"}),
        "y": ("y", np.asarray(y, dtype=np.float64), {
            "standard_name": "projection_y_coordinate", "long_name": "y coordinate",
            "units": length_units, "axis": "Y"}),
    }
    if time is not None:
        coords["time"] = ("time", np.asarray(time, dtype=np.float64), {
            "standard_name": "time", "long_name": "simulated time (seconds from the start)",
            "units": TIME_UNITS, "calendar": "standard", "axis": "T",
            "comment": TIME_COMMENT})
    data_vars = {
        name: (dims, values, {"long_name": long_name, "units": units})
        for name, (dims, values, long_name, units) in fields.items()
    }
    attrs: dict[str, Any] = {
        "Conventions": CONVENTIONS,
        "title": title,
        "source": f"kinnsci {kinnsci.__version__} generator '{generator}'",
        # No wall-clock stamp: the same seed must give a bit-identical file.
        "history": f"created by kinnsci.data.generators.{generator} (kinnsci generate)",
        "institution": "generated locally with kinnsci",
        "references": "https://cfconventions.org/Data/cf-conventions/cf-conventions-1.8/",
    }
    attrs.update(parameter_attrs(parameters or {}))
    import xarray as xr  # imported here: the generators' help must not wait for it

    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _encoding(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    # CF 2.5.1: coordinate variables must not carry _FillValue; our fields have no gaps.
    enc: dict[str, dict[str, Any]] = {name: {"_FillValue": None} for name in ds.variables}
    for name, var in ds.data_vars.items():
        # One HDF5 chunk per field snapshot: training reads random samples, and a chunk
        # spanning many samples would be decompressed whole for every one of them.
        chunks = tuple(1 if d in ("sample", "time") else n for d, n in var.sizes.items())
        enc[name].update({"zlib": True, "complevel": 1, "chunksizes": chunks})
    return enc


def refuse_overwrite(path: Path, overwrite: bool) -> None:
    """Raise ``FileExistsError`` if ``path`` exists and replacing it was not asked for.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is False.
    """
    if path.exists() and not overwrite:
        raise OutputExistsError(f"out: {path} already exists; pass overwrite=True to replace it, "
                                "or choose another path", path=path)


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``ds`` to ``path`` atomically (temporary file in the same folder + rename).

    An interrupted write leaves no half file behind, and an existing file is only replaced
    when ``overwrite=True``.
    """
    path = Path(path)
    refuse_overwrite(path, overwrite)
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=_encoding(ds))
    return path
