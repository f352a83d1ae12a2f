"""xarray backend engines: ``xr.open_dataset(path, engine="the_well")`` and
``engine="pdebench"`` work for anyone with kinnsci installed, through the
``xarray.backends`` entry points in ``pyproject.toml``. kinnsci's own
:func:`~kinnsci.data.open_dataset` opens these files through the same classes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import h5py
import xarray as xr
from xarray.backends import BackendEntrypoint

from kinnsci.data.formats.pdebench import open_pdebench, pdebench_layout
from kinnsci.data.formats.the_well import is_the_well, open_the_well

__all__ = ["PDEBenchBackendEntrypoint", "TheWellBackendEntrypoint", "is_the_well",
           "pdebench_layout"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _peek(filename_or_obj, test) -> bool:
    """Whether ``filename_or_obj`` is an HDF5 file that passes ``test`` (an open file)."""
    try:
        path = os.fspath(filename_or_obj)
        with open(path, "rb") as fh:
            if fh.read(8) != _HDF5_MAGIC:
                return False
        with h5py.File(path, "r") as fh:
            return bool(test(fh))
    except (TypeError, OSError, ValueError):
        return False


def _drop(ds: xr.Dataset, drop_variables: str | Iterable[str] | None) -> xr.Dataset:
    if drop_variables is None:
        return ds
    names = [drop_variables] if isinstance(drop_variables, str) else list(drop_variables)
    return ds.drop_vars([n for n in names if n in ds.variables])


class _KinnsciEngine(BackendEntrypoint):
    """An engine over one of kinnsci's readers: ``read(path) -> Dataset`` and
    ``recognises(open h5py file) -> bool``."""

    open_dataset_parameters = ("filename_or_obj", "drop_variables")
    read: Callable[[str], xr.Dataset]  # set by each engine, as a staticmethod
    recognises: Callable[[h5py.File], bool]

    def open_dataset(self, filename_or_obj, *, drop_variables=None) -> xr.Dataset:
        return _drop(self.read(os.fspath(filename_or_obj)), drop_variables)

    def guess_can_open(self, filename_or_obj) -> bool:
        return _peek(filename_or_obj, self.recognises)


class TheWellBackendEntrypoint(_KinnsciEngine):
    """Reads The Well's HDF5 files (see :mod:`kinnsci.data.formats.the_well`)."""

    description = "The Well (PolymathicAI) HDF5 files, through kinnsci"
    url = "https://polymathic-ai.org/the_well/data_format/"
    read = staticmethod(open_the_well)
    recognises = staticmethod(is_the_well)


class PDEBenchBackendEntrypoint(_KinnsciEngine):
    """Reads PDEBench's HDF5 layouts (see :mod:`kinnsci.data.formats.pdebench`)."""

    description = "PDEBench HDF5 files (Darcy, per-seed groups, 2-D CFD, incompressible NS)"
    url = "https://github.com/pdebench/PDEBench"
    read = staticmethod(open_pdebench)
    recognises = staticmethod(lambda fh: pdebench_layout(fh) is not None)
