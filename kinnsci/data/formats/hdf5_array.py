"""A lazily read view of HDF5 datasets, as xarray backends hand variables to xarray.

Archive layouts rarely store a field the way kinnsci (and CF) order it: PDEBench and The
Well put x before y, vectors in a trailing component axis, and fields that do not vary
across samples without a sample axis. :class:`HDF5View` presents such a dataset under
the logical dims a reader chooses, reading only the requested slices through h5py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np
from xarray.backends import BackendArray, CachingFileManager
from xarray.core import indexing


def file_manager(path: str | Path) -> CachingFileManager:
    """A picklable handle on an HDF5 file (reopened in each DataLoader worker)."""
    return CachingFileManager(h5py.File, str(path), mode="r")


class HDF5View(BackendArray):
    """Logical axes of one HDF5 dataset (or of several stacked along a new first axis).

    Args:
        manager: the file's :func:`file_manager`.
        names: the dataset's path in the file; a list of paths stacks those datasets
            (equal shapes) along logical axis 0, e.g. PDEBench's per-seed groups.
        axes: for each logical axis, the stored axis it reads, or None for an axis the
            file does not store (the value is repeated along it); with ``names`` a list,
            logical axis 0 is the stack and ``axes[0]`` must be None.
        shape: the logical shape.
        fixed: stored axis -> index for stored axes that are not logical ones (a vector
            component, PDEBench's singleton channel).
    """

    def __init__(self, manager: CachingFileManager, names: str | Sequence[str],
                 axes: Sequence[int | None], shape: Sequence[int],
                 fixed: Mapping[int, int] | None = None):
        self.manager = manager
        self.names = [names] if isinstance(names, str) else list(names)
        self.stacked = not isinstance(names, str)
        self.axes = tuple(axes)
        self.shape = tuple(int(n) for n in shape)
        self.fixed = dict(fixed or {})
        with self.manager.acquire_context() as fh:
            stored = fh[self.names[0]]
            self.dtype = stored.dtype
            self.ndim_stored = stored.ndim
        if len(self.axes) != len(self.shape):
            raise ValueError(f"axes {self.axes} and shape {self.shape} differ in length")
        covered = sorted([a for a in self.axes if a is not None] + list(self.fixed))
        if covered != list(range(self.ndim_stored)):
            raise ValueError(f"axes {self.axes} and fixed {self.fixed} do not cover the "
                             f"{self.ndim_stored} axes of {self.names[0]}")

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER_1VECTOR, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        key = tuple(key) + (slice(None),) * (len(self.shape) - len(key))
        if self.stacked:
            members = np.arange(len(self.names))[key[0]]
            # the file stays open (pinned) during the read even if the cache evicts it;
            # h5py serialises HDF5 calls from dask's threads itself
            with self.manager.acquire_context() as fh:
                parts = [self._read_one(fh[self.names[int(m)]], key[1:], self.axes[1:],
                                        self.shape[1:]) for m in np.atleast_1d(members)]
            return parts[0] if np.ndim(members) == 0 else np.stack(parts)
        with self.manager.acquire_context() as fh:
            return self._read_one(fh[self.names[0]], key, self.axes, self.shape)

    def _read_one(self, dataset: h5py.Dataset, key: tuple, axes: tuple,
                  shape: tuple) -> np.ndarray:
        stored_key: list = [slice(None)] * self.ndim_stored
        for axis, index in self.fixed.items():
            stored_key[axis] = index
        undo = {}
        for k, axis in zip(key, axes, strict=True):
            if axis is None:
                continue
            if isinstance(k, np.ndarray) and np.any(np.diff(k) <= 0):
                # h5py wants increasing, unique indices: read those, then reorder.
                unique, inverse = np.unique(k, return_inverse=True)
                stored_key[axis], undo[axis] = unique, inverse
            else:
                stored_key[axis] = k
        values = np.asarray(dataset[tuple(stored_key)])
        # axes of the result, in stored order: those not indexed by an integer
        kept = [a for a in range(self.ndim_stored)
                if not isinstance(stored_key[a], (int, np.integer))]
        for axis, inverse in undo.items():
            values = np.take(values, inverse, axis=kept.index(axis))
        logical = [(a, k, n) for a, k, n in zip(axes, key, shape, strict=True)
                   if not isinstance(k, (int, np.integer))]
        stored_order = [a for a, _, _ in logical if a is not None]
        values = values.transpose([kept.index(a) for a in stored_order])
        for position, (axis, k, n) in enumerate(logical):
            if axis is None:  # an axis the file does not store: repeat the values along it
                length = len(np.arange(n)[k])
                values = np.repeat(np.expand_dims(values, position), length, axis=position)
        return values

