"""The equation contract: a PDE as a residual, on a netCDF dataset or on tensors.

An :class:`Equation` subclass with a ``name`` registers itself in ``EQUATIONS`` when it is
defined (like models and generators), under the name of the generator whose data it
describes, so ``get_equation(generator_name)`` finds it. It implements two methods:

* ``parameters(ds)``: the physical constants and grid spacings the residual needs, read
  from the file (the generator's ``param_*`` attributes and the coordinates), never
  re-typed;
* ``residual_tensor(fields, params)``: the residual of every equation component from
  tensors ``{variable: (batch, [time,] y, x)}``, differentiable, so one implementation
  serves ``residual(ds)`` (evaluation) and the physics loss (training).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from kinnsci._registry import register_class
from kinnsci.errors import DataError

if TYPE_CHECKING:
    import xarray as xr

EQUATIONS: dict[str, type[Equation]] = {}


class Equation:
    """A PDE of one generator's data, as residuals that vanish on exact solutions.

    Class attributes:
        name: the generator's registry name (``"darcy"``); defining the class registers it.
        variables: the data variables the residual reads (``("a", "u")``).
        components: names of the residual fields (``("residual",)``; Darcy and Poisson
            add ``"boundary"``, their Dirichlet condition; shallow water: mass and two
            momenta).
        steady: False when the residual needs consecutive time steps (a ``time`` axis
            of length >= 2 in every variable).
    """

    name: ClassVar[str]
    variables: ClassVar[tuple[str, ...]]
    components: ClassVar[tuple[str, ...]] = ("residual",)
    steady: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        register_class(EQUATIONS, cls, "equation")

    # --- what subclasses implement ------------------------------------------------------
    def parameters(self, ds: xr.Dataset) -> dict[str, float]:
        """Constants and spacings from ``ds`` (see :func:`read_parameters`)."""
        raise NotImplementedError

    def residual_tensor(self, fields: dict[str, Tensor], params: dict[str, float]
                        ) -> dict[str, Tensor]:
        """Residual components from ``fields[name]`` of shape (batch, y, x) (steady) or
        (batch, time, y, x) (time-dependent, >= 2 steps); each component (batch, y', x')
        or (batch, time - 1, y', x'), where y', x' are the points it is defined at, or
        (batch, [time - 1,] n) for a condition on the n boundary points."""
        raise NotImplementedError

    def interior(self, ds: xr.Dataset) -> dict[str, slice]:
        """Index slices of ``y`` and ``x`` where the residual is defined (default: all)."""
        return {"y": slice(None), "x": slice(None)}

    # --- shared -----------------------------------------------------------------------
    def residual(self, ds: xr.Dataset) -> xr.Dataset:
        """The residual of every component on ``ds``'s data, in physical units.

        Returns a Dataset with one variable per component, dims (sample, [time,] y, x) on
        the points where it is defined (interior nodes for Dirichlet problems; the
        midpoints between saved steps for time-dependent ones, ``time`` = the mean of the
        two times).

        Raises:
            DataError: a variable or attribute the equation needs is missing (one line
                naming it), or a time-dependent dataset has fewer than 2 steps.
        """
        import xarray as xr

        params = self.parameters(ds)
        missing = [v for v in self.variables if v not in ds.data_vars]
        if missing:
            raise DataError(f"the {self.name} equation needs the variables "
                            f"{', '.join(self.variables)}; the dataset lacks "
                            f"{', '.join(missing)}")
        dims = ("sample", "y", "x") if self.steady else ("sample", "time", "y", "x")
        fields = {}
        for v in self.variables:
            array = ds[v]
            if "sample" not in array.dims:
                array = array.expand_dims("sample")
            fields[v] = torch.as_tensor(array.transpose(*dims).values, dtype=torch.float64)
        if not self.steady and fields[self.variables[0]].shape[1] < 2:
            raise DataError(f"the {self.name} residual needs at least 2 time steps; the "
                            "dataset has 1")
        with torch.no_grad():
            out = self.residual_tensor(fields, params)
        where = self.interior(ds)
        coords = {"y": ds["y"].values[where["y"]], "x": ds["x"].values[where["x"]]}
        if not self.steady:
            t = time_seconds(ds)
            coords["time"] = 0.5 * (t[1:] + t[:-1])
        # a component on the grid has its dims; one on the boundary ring (Dirichlet
        # conditions) is (sample, [time,] boundary_point)
        data = {name: (dims if value.ndim == len(dims) else (*dims[:-2], "boundary_point"),
                       value.numpy()) for name, value in out.items()}
        return xr.Dataset(data, coords=coords, attrs={"equation": self.name})

    def residual_rms(self, ds: xr.Dataset) -> dict[str, float]:
        """Root mean square of each residual component over every point of ``ds``."""
        res = self.residual(ds)
        return {k: float(np.sqrt(np.mean(res[k].values ** 2))) for k in res.data_vars}


def generator_of(ds: xr.Dataset) -> str | None:
    """The kinnsci generator that wrote ``ds`` (from its ``source`` attribute), or None."""
    match = re.search(r"generator '([^']+)'", str(ds.attrs.get("source", "")))
    return match.group(1) if match else None


def read_parameters(ds: xr.Dataset, equation: str, names: tuple[str, ...],
                    defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """``ds.attrs["param_<name>"]`` for each name (a default where one is given).

    Raises:
        DataError: one line naming the attributes that are missing.
    """
    defaults = defaults or {}
    missing = [n for n in names if f"param_{n}" not in ds.attrs and n not in defaults]
    if missing:
        raise DataError(f"the {equation} equation needs the file attributes "
                        f"{', '.join('param_' + n for n in missing)} (the generator's "
                        "parameters); this file has none of them: add them with "
                        "ds.attrs[...] before computing the residual")
    out = {}
    for n in names:
        value = ds.attrs.get(f"param_{n}", defaults.get(n))
        out[n] = value.item() if hasattr(value, "item") else value
    return out


def spacing(ds: xr.Dataset, dim: str) -> float:
    """The uniform grid spacing along ``dim`` from its coordinate.

    Raises:
        DataError: the coordinate is missing, has < 2 points or is not uniform.
    """
    if dim not in ds.coords:
        raise DataError(f"the residual needs the coordinate {dim!r} (grid spacing); the "
                        "dataset has none")
    values = np.asarray(ds[dim].values, dtype=np.float64)
    if values.size < 2:
        raise DataError(f"coordinate {dim!r} has {values.size} point(s); a grid spacing "
                        "needs at least 2")
    steps = np.diff(values)
    if not np.allclose(steps, steps[0], rtol=1e-6, atol=0):
        raise DataError(f"coordinate {dim!r} is not uniform (steps {steps.min():g} to "
                        f"{steps.max():g}); the residuals assume a uniform grid")
    return float(steps[0])


def time_seconds(ds: xr.Dataset) -> np.ndarray:
    """The ``time`` coordinate in seconds (datetimes from plain ``xr.open_dataset`` are
    read as seconds from the first)."""
    t = ds["time"].values
    if np.issubdtype(t.dtype, np.datetime64) or np.issubdtype(t.dtype, np.timedelta64):
        return (t - t[0]) / np.timedelta64(1, "s")
    return np.asarray(t, dtype=np.float64)


def time_step(ds: xr.Dataset) -> float:
    """The uniform step between saved times, in seconds.

    Raises:
        DataError: no ``time`` coordinate, fewer than 2 steps, or non-uniform steps.
    """
    if "time" not in ds.coords:
        raise DataError("the residual needs the coordinate 'time' (time derivatives from "
                        "the saved steps); the dataset has none")
    t = time_seconds(ds)
    if t.size < 2:
        raise DataError("the residual needs at least 2 saved times; the dataset has 1")
    steps = np.diff(t)
    if not np.allclose(steps, steps[0], rtol=1e-6, atol=0):
        raise DataError("the saved times are not uniform; the residual's time "
                        "derivative assumes a uniform step")
    return float(steps[0])


__all__ = ["EQUATIONS", "Equation", "generator_of", "read_parameters", "spacing",
           "time_seconds", "time_step"]
