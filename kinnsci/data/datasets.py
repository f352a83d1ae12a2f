"""PyTorch datasets over xarray fields: operator pairs and autoregressive windows.

Both read lazily: each item (or batch, through ``__getitems__``) pulls only its own
slices from the file, so datasets larger than memory work.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
import xarray as xr
from torch import Tensor
from torch.utils.data import Dataset

from kinnsci.data.direct import plan_for
from kinnsci.data.layout import InputLayout
from kinnsci.data.missing import missing_rules
from kinnsci.data.open import require_variables
from kinnsci.errors import DataError

CHECK_BLOCK_BYTES = 64 * 2**20
"""The most bytes one read of the data checks holds: a trajectory larger than this (The
Well's are ~210 MB) is checked a time window at a time, so memory stays bounded whatever
the data set's size."""


def split_samples(
    n_samples: int, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> dict[str, np.ndarray]:
    """Shuffle sample indices with ``seed`` and cut them into train/val/test.

    Splitting by sample (never by time step) keeps windows of one trajectory out of two
    splits. Returns sorted index arrays keyed ``"train"``, ``"val"``, ``"test"``.

    Raises:
        DataError: ``fractions`` are not three non-negative numbers summing to 1.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise DataError(f"fractions must be three non-negative numbers summing to 1, got "
                         f"{tuple(fractions)}")
    order = np.random.default_rng(seed).permutation(n_samples)
    n_train = int(round(fractions[0] * n_samples))
    n_val = int(round(fractions[1] * n_samples))
    parts = (order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:])
    return {k: np.sort(p) for k, p in zip(("train", "val", "test"), parts, strict=True)}


class _Fields:
    """Checks and reads named variables with dims (sample, [time], *spatial)."""

    def __init__(self, ds: xr.Dataset, names: Sequence[str], argument: str,
                 sample_dim: str | None, time_dim: str | None,
                 spatial_dims: tuple[str, str], dtype: torch.dtype):
        if isinstance(names, str) or not names:
            raise DataError(f"{argument} must be a non-empty list of variable names, "
                             f"got {names!r}")
        require_variables(ds, names, argument)
        self.source = ds.encoding.get("source", "the dataset")
        self.sample_dim = sample_dim
        self.names = list(names)
        self.dtype = dtype
        self.np_dtype = torch.empty((), dtype=dtype).numpy().dtype  # what reads return
        # for labels and plots: the grid's coordinates (values, units) and the times
        self.coords = {d: (np.asarray(ds[d].values), str(ds[d].attrs.get("units", "")))
                       for d in spatial_dims if d in ds.coords and ds[d].ndim == 1}
        self.times = (np.asarray(ds[time_dim].values)
                      if time_dim is not None and time_dim in ds.coords else None)
        expected = tuple(d for d in (sample_dim, time_dim, *spatial_dims) if d is not None)
        self.variables = []
        for name in self.names:
            var = ds[name].variable
            if var.dims != expected:
                hint = (f"ds = ds.transpose({', '.join(map(repr, expected))})"
                        if set(var.dims) == set(expected) else
                        "select or rename dims first (ds.isel / ds.rename), or pass "
                        "sample_dim/time_dim/spatial_dims naming this file's dims")
                raise DataError(
                    f"{argument}: variable {name!r} in {self.source} has dims {var.dims}; "
                    f"expected {expected}. Fix: {hint}"
                )
            self.variables.append(var if sample_dim is not None else var.expand_dims("_s"))
        shapes = {v.shape[1:] for v in self.variables}
        if len(shapes) != 1:
            raise DataError(f"{argument}: variables {self.names} have different shapes "
                            f"{sorted(shapes)} in {self.source}")
        self.shape = self.variables[0].shape  # (sample, [time], *spatial)
        self.missing = [missing_rules(ds[n]) for n in self.names]
        # each variable's plan to read the engine's arrays without dask, if any (else xarray)
        self._plans = ([plan_for(v) for v in self.variables]
                       if sample_dim is not None else [None] * len(names))

    def _read_arrays(self, key: tuple) -> list[np.ndarray]:
        return [np.asarray(plan.read(key)) if plan is not None else np.asarray(v[key].values)
                for v, plan in zip(self.variables, self._plans, strict=True)]

    def read(self, sample: np.ndarray | int, time: slice | None = None) -> Tensor:
        """Stack variables on a new axis after the sample/time indices.

        Returns (..., n_variables, H, W) for the selected sample(s) and time window.
        """
        key = (sample,) if time is None else (sample, time)
        arrays = self._read_arrays(key)
        out = np.empty(arrays[0].shape[:-2] + (len(arrays),) + arrays[0].shape[-2:],
                       dtype=self.np_dtype)
        clean, largest = True, float(np.finfo(out.dtype).max)
        with np.errstate(over="ignore"):
            for j, (a, rules) in enumerate(zip(arrays, self.missing, strict=True)):
                if rules.none:  # only NaN/inf are missing: the finiteness pass decides
                    out[..., j, :, :] = a
                    clean = False
                    continue
                # min/max propagate NaN and inf: finite, representable in the training
                # dtype and clear of every fill value and valid limit means nothing is
                # missing, without a mask pass per rule and a finiteness pass after
                lo, hi = float(a.min()), float(a.max())
                if (np.isfinite(lo) and np.isfinite(hi) and max(-lo, hi) <= largest
                        and rules.excluded_by_range(lo, hi)):
                    out[..., j, :, :] = a
                else:
                    out[..., j, :, :] = rules.mask(a)
                    clean = False
        if not clean and not np.isfinite(out).all():
            raise DataError(self._where_not_finite(out, sample, time, arrays))
        return torch.from_numpy(out)

    def check_blocks(self, samples: np.ndarray, budget: int | None = None
                     ) -> list[tuple[np.ndarray | int, slice | None]]:
        """Reads ``(samples, time window)`` that cover ``samples`` (sorted, each once), each
        holding at most ``budget`` bytes (the file's values and their float copy), and at
        least one state: whole trajectories several at a time when they fit, else one
        trajectory a time window at a time. ``budget`` defaults to ``CHECK_BLOCK_BYTES``."""
        budget = CHECK_BLOCK_BYTES if budget is None else budget
        unique = np.unique(np.asarray(samples))
        per_value = np.dtype(self.variables[0].dtype).itemsize + self.np_dtype.itemsize
        state = int(np.prod(self.shape[-2:])) * len(self.names) * per_value
        steps = self.shape[1] if len(self.shape) == 4 else 1
        if state * steps <= budget:
            k = max(1, budget // (state * steps))
            return [(unique[i:i + k], None) for i in range(0, len(unique), k)]
        window = max(1, budget // state)
        return [(int(s), slice(t, min(t + window, steps))) for s in unique
                for t in range(0, steps, window)]

    def scan(self, samples: np.ndarray, budget: int | None = None,
             progress: bool = False) -> np.ndarray:
        """One pass over ``samples`` in reads of at most ``budget`` bytes
        (:meth:`check_blocks`): raise ``DataError`` at the first NaN/inf (its variable,
        sample, time and grid position); return where a state is zero everywhere (every
        variable), ``(len(samples), [time])`` bool, for the relative-loss check.

        Raises:
            DataError: a NaN/inf (or missing) value.
        """
        from tqdm.auto import tqdm

        unique = np.unique(np.asarray(samples))
        zero = np.zeros((len(unique), *self.shape[1:-2]), dtype=bool)
        blocks = self.check_blocks(unique, budget)
        for sample, time in tqdm(blocks, desc=f"checking {', '.join(self.names)}",
                                 unit="read", disable=not progress, leave=False):
            block = self.read(sample, time)  # raises at a NaN/inf
            flat = block.flatten(start_dim=block.ndim - 3)
            empty = (flat == 0).all(dim=-1).numpy()
            rows = np.searchsorted(unique, np.atleast_1d(sample))
            if time is None:
                zero[rows] = empty
            else:
                zero[rows[0], time] = empty
        return zero[np.searchsorted(unique, np.asarray(samples))]

    def _where_not_finite(self, out: np.ndarray, sample, time: slice | None,
                          arrays: list[np.ndarray] | None = None) -> str:
        """Locate the first NaN/inf of a block in the file's own coordinates (and say so
        when the stored value is finite but too large for the training dtype)."""
        pos = [int(p) for p in np.argwhere(~np.isfinite(out))[0]]
        name = self.names[pos[-3]]
        largest = float(np.finfo(out.dtype).max)
        if arrays is not None and np.isinf(out[tuple(pos)]):
            raw = arrays[pos[-3]][tuple(pos[:-3] + pos[-2:])]
            if np.isfinite(raw) and abs(float(raw)) > largest:
                return (f"variable {name!r} in {self.source} holds {float(raw):.3g}, which "
                        f"overflows {out.dtype} (largest {largest:.3g}); rescale it (e.g. "
                        f"ds[{name!r}] = ds[{name!r}] / 1e30) or read it in float64 "
                        "(dtype=torch.float64)")
        where = []
        index = int(np.asarray(sample)[pos.pop(0)]) if np.ndim(sample) else int(sample)
        where.append(f"sample {index}")
        if time is not None:
            where.append(f"time index {(time.start or 0) + pos[0]}")
        where.append(f"(row, column) = ({pos[-2]}, {pos[-1]})")
        drop = (f"ds = ds.drop_isel({self.sample_dim}=[{index}])" if self.sample_dim
                else "ds = ds.fillna(...)")
        return (
            f"variable {name!r} in {self.source} has NaN/inf at {', '.join(where)} (a NaN, an "
            "inf, a fill value or a value outside valid_min/valid_max counts as missing); clean "
            f"the file, or leave the sample out lazily: {drop}"
        )


class OperatorDataset(Dataset):
    """(input, target) pairs of a steady operator-learning problem, e.g. Darcy a -> u.

    Args:
        ds: dataset whose ``inputs``/``targets`` variables have dims
            (sample_dim, *spatial_dims).
        inputs: input variable names; each becomes one channel.
        targets: target variable names; each becomes one channel.
        samples: indices along ``sample_dim`` in this split (all when None).
        sample_dim: name of the sample dim, or None when the file holds one field.
        spatial_dims: (rows, columns) dim names, default ("y", "x").

    Items: ``x`` (len(inputs), H, W) and ``y`` (len(targets), H, W).
    """

    def __init__(self, ds: xr.Dataset, inputs: Sequence[str], targets: Sequence[str],
                 samples: Sequence[int] | None = None, *, sample_dim: str | None = "sample",
                 spatial_dims: tuple[str, str] = ("y", "x"),
                 dtype: torch.dtype = torch.float32):
        self.inputs = _Fields(ds, inputs, "inputs", sample_dim, None, spatial_dims, dtype)
        self.targets = _Fields(ds, targets, "targets", sample_dim, None, spatial_dims, dtype)
        n = self.inputs.shape[0]
        self.samples = _check_samples(samples, n)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        s = int(self.samples[i])
        return self.inputs.read(s), self.targets.read(s)

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Tensor, Tensor]]:
        # One read per variable for the whole batch (sorted, as netCDF/HDF5 want it).
        wanted = self.samples[np.asarray(indices)]
        order = np.argsort(wanted, kind="stable")
        sorted_idx = wanted[order]
        x, y = self.inputs.read(sorted_idx), self.targets.read(sorted_idx)
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return [(x[j], y[j]) for j in inverse]

    @property
    def spatial_shape(self) -> tuple[int, int]:
        return tuple(self.inputs.shape[-2:])

    @property
    def input_layout(self) -> InputLayout:
        """``x``'s channels by name: ``"inputs"``, one channel per input variable."""
        return InputLayout((("inputs", len(self.inputs.names)),))

    def check_finite(self, progress: bool = False) -> None:
        """Read the whole split once, in reads of at most ``CHECK_BLOCK_BYTES``, and raise
        ``DataError`` at the first NaN/inf; remembers which targets are zero everywhere
        (:meth:`zero_target_items`) from the same pass.

        Raises:
            DataError: naming the variable, sample and grid position of the value.
        """
        self.inputs.scan(self.samples, progress=progress)
        self._zero_targets = self.targets.scan(self.samples, progress=progress)

    def zero_target_items(self) -> list[int]:
        """Items whose target is zero everywhere (a relative loss is undefined there), from
        :meth:`check_finite`'s pass (one read of the targets if it has not run)."""
        zero = getattr(self, "_zero_targets", None)
        if zero is None:
            zero = self.targets.scan(self.samples)
        return [int(i) for i in np.flatnonzero(zero)]


class RolloutDataset(Dataset):
    """Windows of ``history`` past states -> the next ``horizon`` states, across samples.

    Args:
        ds: dataset whose ``variables`` have dims (sample_dim, time_dim, *spatial_dims).
        variables: names of the state variables (V of them).
        history: number of past states k fed to the model.
        horizon: number of future states h to predict (h > 1 for unrolled training).
        samples: trajectories in this split (all when None).
        stride: step between window starts.
        static_inputs: names of time-independent fields, dims (sample_dim, *spatial_dims)
            (a coefficient such as a wave speed c(x, y) or a permeability), appended to
            every input after the history: S extra channels.

    Items: ``x`` (k·V + S, H, W), time-major (all variables of the oldest state first, then
    the static inputs), and ``y`` (h, V, H, W).

    Raises:
        DataError: too few time steps for history + horizon, a size that is not a positive integer,
            or static inputs on another grid (and, through the loaders, missing variables).
    """

    def __init__(self, ds: xr.Dataset, variables: Sequence[str], history: int = 1,
                 horizon: int = 1, samples: Sequence[int] | None = None, *, stride: int = 1,
                 sample_dim: str | None = "sample", time_dim: str = "time",
                 spatial_dims: tuple[str, str] = ("y", "x"),
                 static_inputs: Sequence[str] | None = None,
                 dtype: torch.dtype = torch.float32):
        for name, value in (("history", history), ("horizon", horizon), ("stride", stride)):
            if not isinstance(value, int) or value < 1:
                raise DataError(f"{name} must be a positive integer, got {value!r}")
        self.fields = _Fields(ds, variables, "variables", sample_dim, time_dim, spatial_dims,
                              dtype)
        self.history, self.horizon, self.stride = history, horizon, stride
        n_samples, n_time = self.fields.shape[:2]
        if time_dim in ds.coords:
            check_time_axis(ds[time_dim], time_dim, self.fields.source)
        if n_time < history + horizon:
            raise DataError(
                f"{self.fields.source} has {n_time} time steps, fewer than history + horizon "
                f"= {history} + {horizon}; lower history/horizon or use longer trajectories"
            )
        self.samples = _check_samples(samples, n_samples)
        self.windows_per_sample = (n_time - history - horizon) // stride + 1
        self.n_variables = len(self.fields.names)
        self.static = None
        if static_inputs:
            self.static = _Fields(ds, static_inputs, "static_inputs", sample_dim, None,
                                  spatial_dims, dtype)
            if self.static.shape[-2:] != self.fields.shape[-2:]:
                raise DataError(f"static_inputs {list(static_inputs)} have grid "
                                f"{self.static.shape[-2:]}, the variables "
                                f"{self.fields.shape[-2:]}; they must share one grid")

    @property
    def n_static(self) -> int:
        """S, the number of static input channels."""
        return 0 if self.static is None else len(self.static.names)

    @property
    def input_layout(self) -> InputLayout:
        """``x``'s channels by name: ``"states"`` (k·V, time-major), then ``"static"`` (S)
        when there are static inputs."""
        groups = (("states", self.history * self.n_variables),)
        return InputLayout(groups + ((("static", self.n_static),) if self.n_static else ()))

    def static_inputs(self, i: int) -> Tensor | None:
        """The static inputs of the i-th trajectory of this split, (S, H, W), or None."""
        return None if self.static is None else self.static.read(int(self.samples[i]))

    def __len__(self) -> int:
        return len(self.samples) * self.windows_per_sample

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"window {i} out of range for {len(self)} windows")
        i %= len(self)
        sample = int(self.samples[i // self.windows_per_sample])
        t0 = (i % self.windows_per_sample) * self.stride
        block = self.fields.read(sample, slice(t0, t0 + self.history + self.horizon))
        x = block[: self.history].flatten(0, 1)
        if self.static is not None:
            x = torch.cat([x, self.static.read(sample)])
        return x, block[self.history:]

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Tensor, Tensor]]:
        """A batch of windows (what ``DataLoader`` asks for) with one read per variable:
        the distinct samples of the batch over the time span its windows cover. When that
        span would read more than 4 × the windows' own values (windows far apart in time),
        each distinct sample is read once over its own span instead."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        bad = idx[(idx < -n) | (idx >= n)]
        if bad.size:
            raise IndexError(f"window {int(bad[0])} out of range for {n} windows")
        idx = idx % n
        samples = self.samples[idx // self.windows_per_sample]
        starts = (idx % self.windows_per_sample) * self.stride
        length = self.history + self.horizon
        distinct, which = np.unique(samples, return_inverse=True)
        lo, hi = int(starts.min()), int(starts.max()) + length
        if len(distinct) * (hi - lo) <= 4 * len(idx) * length:
            block = self.fields.read(distinct, slice(lo, hi))  # (S, T, V, H, W)
            windows = [block[k, t - lo:t - lo + length] for k, t in zip(which, starts, strict=True)]
        else:
            spans = {}
            for k in range(len(distinct)):
                mine = starts[which == k]
                first = int(mine.min())
                spans[k] = (first, self.fields.read(int(distinct[k]),
                                                    slice(first, int(mine.max()) + length)))
            windows = [spans[k][1][t - spans[k][0]:t - spans[k][0] + length]
                       for k, t in zip(which, starts, strict=True)]
        if self.static is None:
            return [(w[:self.history].flatten(0, 1), w[self.history:]) for w in windows]
        static = self.static.read(distinct)  # (S_distinct, n_static, H, W)
        return [(torch.cat([w[:self.history].flatten(0, 1), static[k]]), w[self.history:])
                for w, k in zip(windows, which, strict=True)]

    def trajectory(self, i: int) -> Tensor:
        """The whole trajectory of the i-th sample of this split, (T, V, H, W)."""
        return self.fields.read(int(self.samples[i]), slice(None))

    @property
    def n_trajectories(self) -> int:
        return len(self.samples)

    @property
    def n_times(self) -> int:
        """States per trajectory."""
        return self.fields.shape[1]

    def check_finite(self, progress: bool = False) -> None:
        """Read every trajectory of the split once, in reads of at most
        ``CHECK_BLOCK_BYTES`` (long trajectories a time window at a time), and raise
        ``DataError`` at the first NaN/inf (also at time steps no training window touches:
        rollouts read them); remembers which states are zero everywhere
        (:meth:`zero_target_items`) from the same pass.

        Raises:
            DataError: naming the variable, sample, time index and grid position.
        """
        self._zero_states = self.fields.scan(self.samples, progress=progress)
        if self.static is not None:
            self.static.scan(self.samples, progress=progress)

    def zero_target_items(self) -> list[int]:
        """Windows whose target states are all zero everywhere (a relative loss is
        undefined there), from :meth:`check_finite`'s pass (one read if it has not run)."""
        zero = getattr(self, "_zero_states", None)
        if zero is None:
            zero = self.fields.scan(self.samples)
        starts = np.arange(self.windows_per_sample) * self.stride + self.history
        steps = starts[:, None] + np.arange(self.horizon)  # (windows, horizon)
        empty = zero[:, steps].all(axis=-1)  # (trajectories, windows)
        return [int(i) for i in np.flatnonzero(empty.reshape(-1))]

    @property
    def spatial_shape(self) -> tuple[int, int]:
        return tuple(self.fields.shape[-2:])


def time_in_seconds(times: xr.DataArray) -> np.ndarray:
    """A time coordinate as float seconds from its first entry: numbers as they are,
    ``datetime64`` and cftime dates (noleap, 360-day, ... calendars) by their differences.

    Raises:
        DataError: the values are neither numbers nor dates.
    """
    t = np.asarray(times.values)
    if t.dtype.kind in "iuf":
        return t.astype(np.float64)
    if t.dtype.kind == "M":
        return (t - t[0]) / np.timedelta64(1, "s")
    try:  # cftime dates: their differences are datetime.timedelta
        return np.array([(ti - t[0]).total_seconds() for ti in t], dtype=np.float64)
    except (TypeError, AttributeError):
        raise DataError(f"time coordinate {times.name!r} holds {t.dtype} values that are "
                        "neither numbers nor dates; decode it (xr.decode_cf) or replace it "
                        "with numbers") from None


def check_time_axis(times: xr.DataArray, time_dim: str, source: str) -> None:
    """The time coordinate must increase strictly; uneven steps are reported (a warning:
    the model then learns steps of different lengths as one).

    Raises:
        DataError: a time that does not increase, with its index and the fix.
    """
    t = time_in_seconds(times)
    steps = np.diff(t)
    if np.any(steps <= 0):
        k = int(np.argmax(steps <= 0))
        raw = np.asarray(times.values)
        raise DataError(
            f"time coordinate {time_dim!r} in {source} is not strictly "
            f"increasing (t[{k}] = {raw[k]}, t[{k + 1}] = {raw[k + 1]}); sort it with "
            f"ds = ds.sortby({time_dim!r}) and drop duplicate times"
        )
    if len(steps) > 1 and np.ptp(steps) > 1e-6 * np.abs(steps).max():
        k = int(np.argmax(np.abs(steps - steps[0]) > 1e-6 * np.abs(steps).max()))
        warnings.warn(f"time coordinate {time_dim!r} in {source} has uneven steps (step {k} "
                      f"is {steps[k]:g} s, step 0 is {steps[0]:g} s); rollout windows treat "
                      "every step as one model step", stacklevel=3)


def _check_samples(samples: Sequence[int] | None, n: int) -> np.ndarray:
    if samples is None:
        return np.arange(n)
    samples = np.asarray(samples, dtype=np.int64)
    if samples.ndim != 1 or samples.size == 0:
        raise DataError(f"samples must be a non-empty 1-D list of indices, got {samples!r}")
    if samples.min() < 0 or samples.max() >= n:
        raise DataError(f"samples must lie in [0, {n}), got min {samples.min()} and max "
                         f"{samples.max()}")
    return samples
