"""One set of CF reading rules on every path: a packed variable's valid limits and fill
values are in packed units, whether the file is read directly (netCDF4) or through
xarray (a glob of files, Zarr)."""

from __future__ import annotations

import numpy as np
import pytest

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


def _reads(paths):
    ds = open_dataset(paths if len(paths) > 1 else paths[0])
    data = OperatorDataset(ds, ["a"], ["u"])
    data.check_finite()
    return data


@pytest.mark.parametrize("layout", ["single", "glob"])
def test_valid_packed_data_reads_on_every_path(tmp_path, layout):
    values = np.full((2, 4, 4), 150)  # unpacked 6.5, above valid_min 100 (6.0)
    values[0, 0, 0] = 100  # exactly at the limit: valid
    paths = [tmp_path / "p0.nc"]
    _packed(paths[0], values)
    if layout == "glob":
        paths.append(tmp_path / "p1.nc")
        _packed(paths[1], values)
    data = _reads(paths)
    x, y = data[0]
    assert float(y[0, 0, 0]) == pytest.approx(6.0, abs=1e-5)
    assert float(y[0, 1, 1]) == pytest.approx(6.5, abs=1e-5)


@pytest.mark.parametrize("layout", ["single", "glob"])
def test_packed_values_below_valid_min_are_missing_on_every_path(tmp_path, layout):
    values = np.full((2, 4, 4), 150)
    values[1, 2, 3] = 50  # packed 50 < valid_min 100: invalid
    paths = [tmp_path / "p0.nc"]
    _packed(paths[0], values)
    if layout == "glob":
        paths.append(tmp_path / "p1.nc")
        _packed(paths[1], values)
    with pytest.raises(DataError, match=r"variable 'u' .* has NaN/inf at sample 1"):
        _reads(paths)
