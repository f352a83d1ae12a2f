"""Read a lazily opened variable without dask, when that is provably the same data.

Datasets read small random batches; dask's per-read graph work costs more than the read
itself (measured in ``benchmarks/bench_data.py``). A variable that is still exactly what
:func:`~kinnsci.data.open_dataset` made of a file (or of a set of files joined along
``sample``, or of one channel of a variable) is read straight from the lazily indexed
arrays xarray's backends provide, which decode values as xarray does.

"Still exactly": every transformation of a dask array (indexing, arithmetic, rechunking)
gives it a new name, so a plan is looked up by the dask name of the variable it was made
for; anything else is read through xarray and dask.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import xarray as xr

_OPENED = ("open_dataset-", "original-open_dataset-")
_PLANS: OrderedDict[str, DirectRead] = OrderedDict()
_MAX_PLANS = 4096


class DirectRead:
    """Reads ``var[key]`` from source arrays: ``parts`` stacked along axis 0 (one per
    file of a set; ``(lazily indexed array, length along axis 0)``), with an optional
    ``channel`` ``(axis, index)`` of the source arrays fixed (a channel split out)."""

    def __init__(self, parts: Sequence[tuple[object, int]], channel: tuple[int, int] | None = None,
                 order: tuple[int, ...] | None = None):
        self.parts = list(parts)
        self.offsets = np.cumsum([0] + [n for _, n in self.parts])  # first index of each part
        self.channel = channel
        self.order = order  # the variable's axis i is axis order[i] of the (channel-free) source

    def with_channel(self, axis: int, index: int) -> DirectRead:
        return DirectRead(self.parts, (axis, index), self.order)

    def with_order(self, order: tuple[int, ...]) -> DirectRead:
        return DirectRead(self.parts, self.channel, order)

    def read(self, key: tuple) -> np.ndarray:
        """``key``: an int or a sorted index array for axis 0, then ints/slices."""
        if self.order is None:
            return self._read(key)
        key = tuple(key) + (slice(None),) * (len(self.order) - len(key))
        source_key = [None] * len(self.order)
        for i, k in enumerate(key):
            source_key[self.order[i]] = k
        values = self._read(tuple(source_key))
        kept = [a for a, k in enumerate(source_key) if not isinstance(k, (int, np.integer))]
        return values.transpose([kept.index(self.order[i]) for i in range(len(key))
                                 if not isinstance(key[i], (int, np.integer))])

    def _source_key(self, key: tuple) -> tuple:
        if self.channel is None:
            return key
        axis, index = self.channel
        key = key + (slice(None),) * max(0, axis - len(key))
        return key[:axis] + (index,) + key[axis:]

    def _read(self, key: tuple) -> np.ndarray:
        first, rest = key[0], tuple(key[1:])
        if len(self.parts) == 1:
            return np.asarray(self.parts[0][0][self._source_key(key)])
        offsets = self.offsets
        if np.ndim(first) == 0:
            f = int(np.searchsorted(offsets, int(first), side="right") - 1)
            return np.asarray(self.parts[f][0][self._source_key((int(first) - offsets[f],)
                                                                 + rest)])
        first = np.asarray(first)
        which = np.searchsorted(offsets, first, side="right") - 1
        pieces = []
        for f in np.unique(which):  # sorted samples: parts come in order
            local = first[which == f] - offsets[f]
            pieces.append(np.asarray(self.parts[f][0][self._source_key((local,) + rest)]))
        return np.concatenate(pieces)


def untouched_source(var: xr.Variable):
    """The lazily indexed array ``var`` reads if it is a dask array of nothing but
    xarray's ``open_dataset`` layers, with its file's shape; else None."""
    graph = getattr(var.data, "dask", None)
    if graph is None or var.encoding.get("original_shape", var.shape) != var.shape:
        return None
    layers = getattr(graph, "layers", None)
    if layers is None or not all(str(n).startswith(_OPENED) for n in layers):
        return None
    original = [n for n in layers if str(n).startswith("original-")]
    if len(original) != 1:
        return None
    values = list(dict(layers[original[0]]).values())
    return _backend_reader(values[0]) if len(values) == 1 else None


_PASS_THROUGH = ("ImplicitToExplicitIndexingAdapter", "CopyOnWriteArray",
                 "LazilyIndexedArray", "MemoryCachedArray")
"""xarray's wrappers that hand values through unchanged (a LazilyIndexedArray only with a
full key); any other layer between the engine's array and the variable (CF decoding,
xarray's ``_ElementwiseFunctionArray``) changes values and keeps xarray's adapter."""


def _backend_reader(source):
    """The reader under ``source`` that the engine that opened the file provides, when
    nothing between them changes values; else ``source`` (xarray's adapter, with its CF
    decoding). Each engine's raw reader takes a plain tuple key, where xarray's adapter
    turns a sample index into an outer indexer, a slice and a numpy copy, which costs ~10 %
    of a batch's read (``benchmarks/bench_data.py``):

    * kinnsci's HDF5 views (engines ``the_well``, ``pdebench``): their own reader;
    * xarray's ``netcdf4`` engine: the engine's netCDF4 variable, values left as stored
      (``set_auto_maskandscale(False)``), exactly as the engine reads them.
    """
    from xarray.backends.netCDF4_ import NetCDF4ArrayWrapper

    from kinnsci.data.formats.hdf5_array import HDF5View

    inner = source
    for _ in range(5):
        inner = getattr(inner, "array", None)
        if isinstance(inner, HDF5View):
            return _RawKey(inner)
        if isinstance(inner, NetCDF4ArrayWrapper):
            return _NetCDF4Variable(inner)
        if type(inner).__name__ not in _PASS_THROUGH:
            break
        key = getattr(getattr(inner, "key", None), "tuple", None)
        if key is not None and not all(k == slice(None) for k in key):
            break  # a lazily indexed subset: keep xarray's adapter
    return source


class _NetCDF4Variable:
    """``variable[key]`` straight from netCDF4, through the handle of the xarray engine that
    opened the file (its file manager: closed with the dataset, reopened on demand) and
    under the engine's lock, as xarray itself reads it, without its indexing adapter."""

    def __init__(self, wrapper):
        self.wrapper = wrapper
        self._variable = None

    def __getstate__(self):
        return {**self.__dict__, "_variable": None}

    def __getitem__(self, key: tuple) -> np.ndarray:
        with self.wrapper.datastore.lock:
            variable = self._variable
            # the engine's variable, kept while its file stays open (the file manager may
            # close it: the dataset closed, or evicted from xarray's cache of open files)
            if variable is None or not variable.group().isopen():
                variable = self._variable = self.wrapper.get_array(needs_lock=False)
            return np.asarray(variable[key])


class _RawKey:
    """``view[key]`` for a plain tuple key (ints, slices, one sorted index array)."""

    def __init__(self, view):
        self.view = view

    def __getitem__(self, key: tuple) -> np.ndarray:
        return self.view._read(tuple(np.asarray(k) if isinstance(k, list) else k for k in key))


def plan_for(var: xr.Variable) -> DirectRead | None:
    """How to read ``var`` without dask, or None (read it through xarray)."""
    name = getattr(var.data, "name", None)
    if name is not None and name in _PLANS:
        return _PLANS[name]
    source = untouched_source(var)
    return None if source is None else DirectRead([(source, var.shape[0])])


def register(var: xr.Variable, plan: DirectRead | None) -> None:
    """Remember that ``var`` (by its dask name) reads as ``plan``."""
    name = getattr(var.data, "name", None)
    if plan is None or name is None:
        return
    _PLANS[name] = plan
    _PLANS.move_to_end(name)
    while len(_PLANS) > _MAX_PLANS:
        _PLANS.popitem(last=False)


def register_concat(joined: xr.Dataset, parts: Sequence[xr.Dataset], dim: str) -> None:
    """Plans for the variables of ``joined`` = ``parts`` concatenated along ``dim``."""
    for name, var in joined.data_vars.items():
        if not var.dims or var.dims[0] != dim:
            continue
        sources = [plan_for(p[name].variable) for p in parts]
        if all(s is not None and len(s.parts) == 1 and s.channel is None for s in sources):
            register(var.variable, DirectRead([s.parts[0] for s in sources]))


def register_channel(new: xr.Variable, source: xr.Variable, axis: int, index: int) -> None:
    """A plan for ``new`` = ``source`` with ``axis`` fixed at ``index``."""
    plan = plan_for(source)
    if plan is not None and plan.channel is None and plan.order is None and axis > 0:
        register(new, plan.with_channel(axis, index))


def register_transpose(new: xr.Variable, source: xr.Variable) -> None:
    """A plan for ``new`` = ``source`` with its dims reordered, axis 0 kept first."""
    plan = plan_for(source)
    order = tuple(source.dims.index(d) for d in new.dims)
    if plan is not None and plan.order is None and order and order[0] == 0:
        register(new, plan.with_order(order))
