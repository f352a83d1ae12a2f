"""One set of CF reading rules on every path: a packed variable's valid limits and fill
values are in packed units, whether the file is read directly (netCDF4) or through
xarray (a glob of files, Zarr)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kinnsci.data import OperatorDataset, open_dataset
from kinnsci.errors import DataError


def _packed(path, packed_u: np.ndarray) -> None:
    """A netCDF file with int16 u = packed * 0.01 + 5, valid_min 100 in packed units
    (unpacked 6.0) and the default int16 fill value, written with netCDF4 as a data
    provider would."""
    import netCDF4

    n = packed_u.shape[0]
    with netCDF4.Dataset(path, "w") as nc:
        for dim, size in (("sample", n), ("y", 4), ("x", 4)):
            nc.createDimension(dim, size)
        for name in ("y", "x"):
            nc.createVariable(name, "f8", (name,))[:] = np.arange(4.0)
        nc.createVariable("a", "f4", ("sample", "y", "x"))[:] = np.ones((n, 4, 4))
        u = nc.createVariable("u", "i2", ("sample", "y", "x"), fill_value=-32767)
        u.set_auto_maskandscale(False)
        u.scale_factor, u.add_offset, u.valid_min = 0.01, 5.0, np.int16(100)
        u.units = "1"
        u[:] = packed_u.astype(np.int16)


def _packed_zarr(path, packed_u: np.ndarray) -> None:
    """The same packed variable in a Zarr store, written by xarray's CF encoder."""
    import xarray as xr

    n = packed_u.shape[0]
    u = xr.DataArray(packed_u * 0.01 + 5.0, dims=("sample", "y", "x"),
                     attrs={"valid_min": np.int16(100), "units": "1"})
    ds = xr.Dataset({"a": (("sample", "y", "x"), np.ones((n, 4, 4), np.float32)), "u": u},
                    coords={"y": np.arange(4.0), "x": np.arange(4.0)})
    ds.to_zarr(path, encoding={"u": {"dtype": "int16", "scale_factor": 0.01,
                                     "add_offset": 5.0, "_FillValue": np.int16(-32767)}})


def _write(layout: str, tmp_path, values: np.ndarray) -> list:
    if layout == "zarr":
        pytest.importorskip("zarr")
        path = tmp_path / "p.zarr"
        _packed_zarr(path, values)
        return [path]
    paths = [tmp_path / "p0.nc"] + ([tmp_path / "p1.nc"] if layout == "glob" else [])
    for path in paths:
        _packed(path, values)
    return paths


def _reads(paths):
    ds = open_dataset(paths if len(paths) > 1 else paths[0])
    data = OperatorDataset(ds, ["a"], ["u"])
    data.check_finite()
    return data


@pytest.mark.parametrize("layout", ["single", "glob", "zarr"])
def test_valid_packed_data_reads_on_every_path(tmp_path, layout):
    values = np.full((2, 4, 4), 150)  # unpacked 6.5, above valid_min 100 (6.0)
    values[0, 0, 0] = 100  # exactly at the limit: valid
    data = _reads(_write(layout, tmp_path, values))
    x, y = data[0]
    assert float(y[0, 0, 0]) == pytest.approx(6.0, abs=1e-5)
    assert float(y[0, 1, 1]) == pytest.approx(6.5, abs=1e-5)


@pytest.mark.parametrize("layout", ["single", "glob", "zarr"])
def test_packed_values_below_valid_min_are_missing_on_every_path(tmp_path, layout):
    values = np.full((2, 4, 4), 150)
    values[1, 2, 3] = 50  # packed 50 < valid_min 100: invalid
    paths = _write(layout, tmp_path, values)
    with pytest.raises(DataError, match=r"variable 'u' .* has NaN/inf at sample 1"):
        _reads(paths)


@pytest.mark.parametrize("layout", ["single", "zarr"])
def test_never_written_packed_values_read_as_missing(tmp_path, layout):
    """The packed fill value (what netCDF writes where nothing was written) is missing on
    every path, not a number."""
    values = np.full((2, 4, 4), 150)
    values[1, 0, 1] = -32767
    paths = _write(layout, tmp_path, values)
    with pytest.raises(DataError, match=r"has NaN/inf at sample 1, \(row, column\) = \(0, 1\)"):
        _reads(paths)


@settings(max_examples=300, deadline=None)
@given(values=hnp.arrays(np.float32, st.integers(1, 40),
                         elements=st.floats(-1e6, 1e6, width=32)),
       fill=st.floats(-1e6, 1e6, width=32), low=st.floats(-1e6, 1e6, width=32),
       span=st.floats(0, 2e6, width=32), pick=st.integers(0, 39))
def test_the_range_test_never_passes_values_a_mask_would_catch(values, fill, low, span, pick):
    """The readers skip the mask when min/max lie clear of every fill value and valid
    limit (``MissingRules.excluded_by_range``); a value equal to a fill or outside a limit
    must always send them to the mask."""
    from kinnsci.data.missing import MissingRules

    values = values.copy()
    if pick % 3 == 0:  # plant the fill value itself
        values[pick % values.size] = fill
    for rules in (MissingRules((fill,)), MissingRules((), low, low + span),
                  MissingRules((fill,), low, low + span)):
        if rules.condition(values).any():
            assert not rules.excluded_by_range(float(values.min()), float(values.max()))
