"""The generator contract and registry.

A generator is a small class with a ``name``, a one-line ``title`` and a ``simulate``
method returning a CF dataset built with :func:`kinnsci.data.cf.cf_dataset`. Adding a PDE
is one file in this folder plus one line in ``GENERATORS`` (``__init__.py``).
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from kinnsci._paths import check_output_path
from kinnsci.data.cf import parameter_attrs, refuse_overwrite, write_netcdf
from kinnsci.data.generators.size import check_disk, check_memory, field_nbytes
from kinnsci.errors import ConfigError

if TYPE_CHECKING:
    import xarray as xr


class Generator:
    """Base class: a seeded PDE simulator that returns one ``xarray.Dataset``.

    Subclasses implement ``simulate(n_samples, resolution, rng, progress, **params)``
    and list their physical parameters (with defaults) as keyword arguments there.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    steady: ClassVar[bool] = True
    n_fields: ClassVar[int | None] = None
    """Number of data variables ``simulate`` returns (None: unknown, sizes not checked)."""
    disk_fraction: ClassVar[float] = 1.0
    """File size / bytes of the float64 fields, as measured for this generator's fields
    (zlib level 1); used to check the disk before simulating."""

    def simulate(
        self, n_samples: int, resolution: int, rng: np.random.Generator, progress: bool,
        **params: Any,
    ) -> xr.Dataset:
        """Simulate ``n_samples`` samples on a ``resolution``² grid, drawing every random
        number from ``rng`` (so a seed reproduces the file bit for bit), and return them
        as a CF dataset built with :func:`kinnsci.data.cf.cf_dataset`; ``params`` are the
        generator's keyword-only physical parameters, checked before the call."""
        raise NotImplementedError

    def check_parameters(self, resolution: int, params: dict[str, Any]) -> None:
        """Raise ``ValueError`` for parameters outside the physics' valid range, before any
        work is done (generators override this; ``params`` holds every parameter)."""

    def nbytes(self, n_samples: int, resolution: int, params: dict[str, Any]) -> int | None:
        """Bytes of the float64 fields ``simulate`` returns (``params``: every parameter),
        or None when the generator does not declare ``n_fields`` (and, if time-dependent,
        an ``n_times`` parameter)."""
        if self.n_fields is None or not (self.steady or "n_times" in params):
            return None
        return field_nbytes(self.n_fields, n_samples, resolution,
                            1 if self.steady else params["n_times"])

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        """Physical parameters and their defaults (everything after ``progress``)."""
        sig = inspect.signature(cls.simulate)
        return {
            k: p.default for k, p in sig.parameters.items()
            if p.kind is p.KEYWORD_ONLY
        }

    def checked_parameters(
        self, n_samples: int, resolution: int, params: dict[str, Any],
    ) -> dict[str, Any]:
        """Every parameter of a run (defaults filled in, each as its default's type) after
        checking the request, before any work is done.

        Raises:
            ConfigError: a size or parameter is invalid or unknown, or the data set will
                not fit in this machine's memory while simulating (with the sizes).
        """
        if not isinstance(n_samples, int) or n_samples < 1:
            raise ConfigError(f"n_samples must be a positive integer, got {n_samples!r}")
        if not isinstance(resolution, int) or resolution < 8:
            raise ConfigError(
                f"resolution must be an integer >= 8 (grid points per side), got {resolution!r}"
            )
        known = self.parameters()
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ConfigError(
                f"unknown parameter(s) {unknown} for generator {self.name!r}; "
                f"valid: {sorted(known)}"
            )
        full = {**known, **{k: coerce_parameter(k, v, known[k]) for k, v in params.items()}}
        self.check_parameters(resolution, full)
        nbytes = self.nbytes(n_samples, resolution, full)
        if nbytes is not None:
            check_memory(self.name, n_samples, resolution, nbytes)
        return full

    def __call__(
        self, n_samples: int, resolution: int, seed: int = 0, progress: bool = True,
        **params: Any,
    ) -> xr.Dataset:
        """Simulate ``n_samples`` samples at ``resolution``² from ``seed``.

        Raises:
            ConfigError: see :meth:`checked_parameters`.
        """
        full = self.checked_parameters(n_samples, resolution, params)
        rng = np.random.default_rng(seed)
        ds = self.simulate(n_samples, resolution, rng, progress, **full)
        # Every argument of the run is recorded, so a file says how to regenerate it.
        ds.attrs.update(parameter_attrs({"n_samples": n_samples, "resolution": resolution,
                                         "seed": seed, **full}))
        return ds


def coerce_parameter(name: str, value: Any, default: Any) -> Any:
    """``value`` as the type of the parameter's default: an integer given for a real-valued
    parameter becomes a float (``a_high=12`` must not make an integer field).

    Raises:
        ValueError: the value cannot be that type (``nu=abc``, ``n_times=2.5``).
    """
    kind = type(default)
    if isinstance(value, str) and kind in (float, int):
        # YAML 1.1 (PyYAML) reads 1e-3 without a dot as a string: take it as the number
        try:
            value = kind(value)
        except ValueError:
            pass
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is bool and isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    if kind not in (float, int, bool, str):
        return value
    wanted = {float: "a number", int: "an integer", bool: "true or false",
              str: "a string"}[kind]
    raise ConfigError(f"parameter {name} must be {wanted} (default {default!r}), got {value!r}")


def require(condition: bool, name: str, value: Any, expected: str) -> None:
    """Raise ``ValueError("<name> must be <expected>, got <value>")`` unless ``condition``.

    Raises:
        ConfigError: ``condition`` is False (the message names the parameter).
    """
    if not condition:
        raise ConfigError(f"parameter {name} must be {expected}, got {value!r}")


def require_positive(params: dict[str, Any], names: tuple[str, ...], what: str) -> None:
    """``require(params[n] > 0, ...)`` for each of ``names`` (``what`` says what they are)."""
    for name in names:
        require(params[name] > 0, name, params[name], f"> 0 ({what})")


def generate(
    name: str, out: str | os.PathLike, *, n_samples: int, resolution: int, seed: int = 0,
    overwrite: bool = False, progress: bool = True, **params: Any,
) -> Path:
    """Run generator ``name`` and write its netCDF file atomically to ``out``.

    Refuses to replace an existing ``out`` unless ``overwrite=True``, and refuses a data
    set that will not fit in memory or on ``out``'s disk (both checked before the
    simulation starts, so nothing is computed in vain).

    Raises:
        ConfigError: a parameter is invalid, or the data set will not fit (with the sizes).
        OutputExistsError: ``out`` exists and ``overwrite`` is False.
        OutputBusyError: another kinnsci process is writing ``out`` right now.
    """
    from kinnsci._lock import output_lock
    from kinnsci.data.generators import get_generator

    gen = get_generator(name)
    out = Path(out)
    # before simulating, so no work is done in vain
    check_output_path(out, "out")
    full = gen.checked_parameters(n_samples, resolution, params)
    with output_lock(out, "out"):  # one writer: a second run to the same out refuses
        refuse_overwrite(out, overwrite)
        nbytes = gen.nbytes(n_samples, resolution, full)
        if nbytes is not None:
            check_disk(name, gen.disk_fraction * nbytes, out)
        ds = gen(n_samples, resolution, seed=seed, progress=progress, **params)
        return write_netcdf(ds, out, overwrite=overwrite)
