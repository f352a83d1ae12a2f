"""Split a channel dimension into one variable per physical field.

Archives such as POSEIDON's (camlab-ethz) store several fields in one variable,
``data(trajectory, time, channel, x, y)``; kinnsci's datasets take one variable per
field. :func:`split_channels` makes ``data_0``, ``data_1``, … (or names you choose)
lazily: nothing is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from kinnsci.data.direct import register_channel
from kinnsci.errors import DataError

Channels = Sequence[int | str] | Mapping[str, int | str] | None


def split_channels(ds: xr.Dataset, channel_dim: str, channels: Channels = None) -> xr.Dataset:
    """Replace every variable with dimension ``channel_dim`` by one variable per channel.

    Args:
        ds: the dataset.
        channel_dim: the dimension that numbers fields (e.g. ``"channel"``).
        channels: which channels, and their names:
            None: all, named ``<variable>_<label>``, where the label is the channel's
            coordinate value if ``channel_dim`` has one (e.g. ``data_rho``), else its
            index (``data_0``);
            a list of indices or coordinate labels: those channels, named as above;
            a mapping ``{new name: index or label}``: those channels under those names
            (with several variables split, ``<variable>_<new name>``).

    Returns:
        The dataset without ``channel_dim``: split variables in place of the originals,
        all others unchanged.

    Raises:
        DataError: no variable has ``channel_dim``, an index out of range, a label that is
            not in the coordinate, or a new name that already exists.
    """
    split = [n for n, v in ds.data_vars.items() if channel_dim in v.dims]
    if not split:
        have = sorted({d for v in ds.data_vars.values() for d in v.dims})
        raise DataError(f"channel_dim: no variable of {ds.encoding.get('source', 'the dataset')} "
                        f"has a dimension {channel_dim!r}; its variables' dims are {have}")
    n = ds.sizes[channel_dim]
    labels = (ds[channel_dim].values.tolist() if channel_dim in ds.coords
              else list(range(n)))
    picks = _picks(channels, labels, n, channel_dim)
    out = ds.drop_vars(split + ([channel_dim] if channel_dim in ds.coords else []))
    for name in split:
        var = ds[name]
        for new, index in picks.items():
            full = new if isinstance(channels, Mapping) and len(split) == 1 else f"{name}_{new}"
            if full in out.variables:
                raise DataError(f"channels: splitting {name!r} makes {full!r}, which the "
                                "dataset already has; pass channels={new name: channel} to "
                                "choose other names")
            out[full] = var.isel({channel_dim: index}, drop=True)
            register_channel(out[full].variable, var.variable, var.dims.index(channel_dim),
                             index)
    out.encoding = dict(ds.encoding)
    return out


def _picks(channels: Channels, labels: list, n: int, channel_dim: str) -> dict[str, int]:
    """{name suffix: channel index} for the requested channels."""

    def index_of(c) -> int:
        if isinstance(c, str) and c not in labels and c.lstrip("-").isdigit():
            c = int(c)  # from the command line
        if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
            if not -n <= c < n:
                raise DataError(f"channels: index {c} is out of range for {channel_dim!r} of "
                                f"length {n}")
            return int(c) % n
        if c in labels:
            return labels.index(c)
        raise DataError(f"channels: {c!r} is neither an index below {n} nor a label of "
                        f"{channel_dim!r} (labels: {labels})")

    if channels is None:
        return {str(label): i for i, label in enumerate(labels)}
    if isinstance(channels, Mapping):
        return {str(name): index_of(c) for name, c in channels.items()}
    if isinstance(channels, str):
        channels = [channels]
    picks = {}
    for c in channels:
        i = index_of(c)
        picks[str(labels[i])] = i
    return picks
