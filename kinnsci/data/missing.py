"""Which stored values mean "missing", read the same way by every path.

netCDF marks missing data three ways: a ``_FillValue`` / ``missing_value`` attribute, the
library's default fill value for records that were never written (9.97e36 for float32,
and no attribute says so), and ``valid_min`` / ``valid_max`` / ``valid_range``. netCDF4's
reader masks all three; xarray's CF decoding masks only the first. kinnsci reads through
both, so it applies these rules itself: a missing value becomes NaN and is reported with
its location before training. For packed variables (``scale_factor`` / ``add_offset``)
the fill values and limits are in packed units (CF 8.1) and are unpacked before they are
compared with the (unpacked) values every path reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import netCDF4
import numpy as np
import xarray as xr


@dataclass(frozen=True)
class MissingRules:
    """Values equal to one of ``fills`` or outside [``low``, ``high``] are missing."""

    fills: tuple[float, ...] = ()
    low: float = -np.inf
    high: float = np.inf

    def condition(self, values):
        """True where ``values`` (a numpy array or an xarray object) are missing."""
        missing = values != values  # NaN, in the array's own type (numpy or xarray)
        for fill in self.fills:
            missing = missing | (values == fill)
        if np.isfinite(self.low):
            missing = missing | (values < self.low)
        if np.isfinite(self.high):
            missing = missing | (values > self.high)
        return missing

    @property
    def none(self) -> bool:
        """No fill value and no valid limit: only NaN (and inf) count as missing."""
        return not self.fills and not np.isfinite(self.low) and not np.isfinite(self.high)

    def excluded_by_range(self, lo: float, hi: float) -> bool:
        """Whether values whose minimum is ``lo`` and maximum ``hi`` (both finite) cannot
        hold a missing value: every fill value and valid limit lies outside [lo, hi], by
        a margin (1e-6 relative) that covers rounding of the limits and fills to the
        values' type. Two reductions instead of a mask pass per rule."""
        margin = 1e-6 * max(abs(lo), abs(hi), 1e-30)
        if lo < self.low + margin or hi > self.high - margin:
            return False
        return all(f < lo - max(margin, 1e-6 * abs(f)) or f > hi + max(margin, 1e-6 * abs(f))
                   for f in self.fills)

    def mask(self, values: np.ndarray) -> np.ndarray:
        """``values`` as floats with missing entries set to NaN."""
        values = np.asarray(values, dtype=np.float64 if values.dtype == np.float64
                            else np.float32)
        if self.none:
            return values
        return np.where(self.condition(values), np.nan, values)


def missing_rules(var: xr.DataArray | xr.Variable) -> MissingRules:
    """The rules of one variable from its attributes and on-disk type."""
    attrs = {**var.encoding, **var.attrs}
    # _FillValue None: the format has no fill value (HDF5 archives read by kinnsci's
    # engines), so netCDF's default fill does not apply either.
    fills = [attrs[k] for k in ("_FillValue", "missing_value")
             if k in attrs and attrs[k] is not None]
    stored = np.dtype(var.encoding.get("dtype", var.dtype))
    if "_FillValue" not in attrs:
        default = netCDF4.default_fillvals.get(f"{stored.kind}{stored.itemsize}")
        if default is not None:
            fills.append(np.asarray(default, dtype=stored).item())
    low, high = -np.inf, np.inf
    if "valid_range" in attrs:
        low, high = (float(v) for v in np.ravel(attrs["valid_range"])[:2])
    low = float(attrs.get("valid_min", low))
    high = float(attrs.get("valid_max", high))
    flat = [float(v) for f in fills for v in np.ravel(f) if np.isfinite(float(v))]
    scale, offset = float(attrs.get("scale_factor", 1.0)), float(attrs.get("add_offset", 0.0))
    if "scale_factor" in attrs or "add_offset" in attrs:
        # packed data (CF 8.1): fill values and valid limits are in packed units, while
        # every path compares unpacked values. Unpack them; a packed limit covers the
        # values within half a packing step of it (float rounding of the unpacking).
        flat = [v * scale + offset for v in flat]
        low, high = sorted((low * scale + offset, high * scale + offset))
        half = 0.5 * abs(scale)
        low, high = low - half, high + half
    return MissingRules(tuple(flat), low, high)
