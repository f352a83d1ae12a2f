"""Open any netCDF3/netCDF4/HDF5 simulation file lazily through xarray.

Files written by kinnsci, by other simulation codes, and PDEBench's HDF5 layouts all come
back as an ``xarray.Dataset`` backed by dask arrays: nothing is read until a value is
needed, so files larger than memory are fine.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import xarray as xr
from xarray.backends import BackendEntrypoint

from kinnsci.data.direct import register_concat
from kinnsci.errors import ConfigError, DataError, InputNotFoundError

_NETCDF3_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"


def file_format(path: Path, plugins: bool = False) -> str:
    """``"netcdf3"``, ``"hdf5"`` (netCDF-4 is HDF5) or ``"zarr"`` (a store folder, or a
    zip of one) from the file's first bytes or the folder's metadata; with ``plugins``,
    ``"plugin:NAME"`` for another file an installed xarray engine says it can open.

    Raises:
        DataError: neither netCDF, HDF5 nor Zarr (nor, with ``plugins``, a plugin's).
    """
    try:
        return _known_format(path)
    except DataError:
        plugin = _plugin_for(path) if plugins else None
        if plugin is None:
            raise
        return f"plugin:{plugin}"


def _plugin_for(path: Path) -> str | None:
    """The first installed xarray engine, other than xarray's and kinnsci's own, whose
    ``guess_can_open`` accepts ``path``."""
    for name, engine in xr.backends.list_engines().items():
        if name in _OWN_ENGINES:
            continue
        try:
            if engine.guess_can_open(path):
                return name
        except Exception:  # a plugin's guess must not hide the format error
            continue
    return None


_XARRAY_ENGINES = ("netcdf4", "h5netcdf", "scipy", "zarr")
_OWN_ENGINES = (*_XARRAY_ENGINES, "store", "pydap", "the_well", "pdebench")


def _known_format(path: Path) -> str:
    if path.is_dir():
        if is_zarr_store(path):
            return "zarr"
        raise DataError(f"{path} is a folder but not a Zarr store (no .zgroup, .zattrs or "
                        "zarr.json inside); pass a file, a Zarr store or a folder of them")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head[:4] in _NETCDF3_MAGIC:
        return "netcdf3"
    if head == _HDF5_MAGIC:
        return "hdf5"
    if head[:4] == _ZIP_MAGIC and _zip_holds_zarr(path):  # not every zip (.npz) is a store
        return "zarr"
    raise DataError(
        f"{path} is not a netCDF, HDF5 or Zarr file (its first bytes are {head!r}); kinnsci "
        "reads netCDF3, netCDF4, HDF5 and Zarr stores (folder or zip). Convert other formats "
        "with xarray first (ds.to_netcdf(...))"
    )


def _zip_holds_zarr(path: Path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.rsplit("/", 1)[-1] in _ZARR_METADATA for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return True  # a broken zip: let the zarr engine say what is wrong


_ZARR_METADATA = (".zgroup", ".zattrs", ".zmetadata", "zarr.json")


def is_zarr_store(path: Path) -> bool:
    """Whether a folder is a Zarr store (format 2 or 3)."""
    return path.is_dir() and any((path / m).exists() for m in _ZARR_METADATA)


DATA_SUFFIXES = (".nc", ".nc4", ".cdf", ".h5", ".hdf5", ".hdf", ".zarr", ".zip")


def data_files(path: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """The files ``path`` names: one file or Zarr store, a glob pattern
    (``"runs/*.nc"``), a folder (its netCDF/HDF5 files and Zarr stores) or a list of any
    of these; sorted within each pattern or folder.

    Raises:
        InputNotFoundError: a file, pattern or folder that yields no file.
    """
    if isinstance(path, (list, tuple)):
        return [f for p in path for f in data_files(p)]
    text = os.fspath(path)
    if glob.has_magic(text):
        found = sorted(Path(p) for p in glob.glob(text)
                       if Path(p).is_file() or is_zarr_store(Path(p)))
        if not found:
            raise InputNotFoundError(f"no file matches {text!r} (check the pattern; quote it "
                                     "on the command line so the shell does not expand it)")
        return found
    p = Path(text)
    if p.is_dir() and not is_zarr_store(p):
        found = sorted(f for f in p.iterdir() if f.suffix.lower() in DATA_SUFFIXES
                       and (f.is_file() or is_zarr_store(f)))
        if not found:
            raise DataError(f"{p} is a folder without netCDF/HDF5 files or Zarr stores (looked for "
                            f"{', '.join(DATA_SUFFIXES)}); pass a file, a folder of them or "
                            "a glob")
        return found
    return [p]


def open_dataset(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    variables: Sequence[str] | None = None,
    chunks: str | int | dict | None = "auto",
    *,
    sample_dim: str = "sample",
    channel_dim: str | None = None,
    channels: Sequence[int | str] | Mapping[str, int | str] | None = None,
    engine: str | type[BackendEntrypoint] | None = None,
) -> xr.Dataset:
    """Open a simulation file, or a set of them, lazily.

    Args:
        path: a netCDF3, netCDF4 or HDF5 file; or several (a glob such as
            ``"data/*.nc"``, a folder of such files, or a list): they are concatenated
            along ``sample_dim`` lazily, after checking that every file has the same
            variables, grid and coordinates (a mismatch is an error naming the file and
            what differs). PDEBench HDF5 layouts are recognised:
            a Darcy file (``tensor`` (N, 1, X, Y) and ``nu`` (N, X, Y)) becomes variables
            ``u`` and ``nu`` with dims (sample, y, x); a file of per-seed groups
            (``0000/data`` (T, X, Y, C), ``0000/grid/{x,y,t}``) becomes variables
            ``data`` (one channel) or ``data_0 … data_{C-1}`` with dims
            (sample, time, y, x); a 2-D CFD file (``density``, ``pressure``, ``Vx``,
            ``Vy`` (N, T, X, Y)) keeps those names; an incompressible-NS file
            (``velocity`` (N, T, X, Y, 2), ``particles``, ``force``) becomes
            ``velocity_x``, ``velocity_y``, ``particles``, ``force_x``, ``force_y``.
            PDEBench indexes space as (x, y); kinnsci transposes to (y, x) lazily. Files
            with LZF-compressed datasets are read through h5py/h5netcdf. Files of The Well
            are read by :mod:`kinnsci.data.formats.the_well`; Zarr stores (a folder or a
            zip, format 2 or 3) through xarray's zarr engine (needs ``kinnsci[zarr]``).
        variables: names to keep (all when None); a missing name is an error that lists
            the available ones.
        chunks: dask chunking passed to xarray (``"auto"``, a dict, or None for lazily
            indexed arrays without dask).

        sample_dim: the dimension several files are concatenated along.
        channel_dim: a dimension that numbers fields (POSEIDON's ``channel`` in
            ``data(trajectory, time, channel, x, y)``): each variable with it is split
            into one variable per channel (``data_0``, ``data_1``, … or the channel
            coordinate's labels), lazily; see :func:`~kinnsci.data.formats.channels.split_channels`.
        channels: with ``channel_dim``, which channels to keep and their names: indices
            or labels, or ``{new name: index or label}``.
        engine: the xarray engine to read with (a name, e.g. an installed plugin's, or a
            ``BackendEntrypoint`` class); None chooses by the file's format
            (:func:`choose_engine`), and a file of no format kinnsci knows goes to the
            installed engines that say they can open it (``guess_can_open``).

    Returns:
        ``xarray.Dataset``; its ``encoding["source"]`` is the path (for several files:
        the first, and how many more).

    Raises:
        InputNotFoundError: a path or pattern that names no file.
        DataError: a file that is not netCDF/HDF5/Zarr, truncated, lacks a variable, does
            not match the others of a set, or a bad channel selection.
        ConfigError: ``channels`` without ``channel_dim``, or an ``engine`` name no
            installed xarray engine has.
    """
    if channels is not None and channel_dim is None:
        raise ConfigError("channels: pass channel_dim= too, the dimension the channels "
                          "are numbered along")
    if isinstance(engine, str) and engine not in xr.backends.list_engines():
        raise ConfigError(f"engine {engine!r} is not an installed xarray engine; installed: "
                          f"{', '.join(sorted(xr.backends.list_engines()))} (a format of your "
                          "own: pass its BackendEntrypoint class, or install its package)")
    paths = data_files(path)
    ds = _open_set(paths, None if channel_dim else variables, chunks, sample_dim, engine)
    if channel_dim is not None:
        from kinnsci.data.formats.channels import split_channels

        ds = split_channels(ds, channel_dim, channels)
        if variables is not None:
            require_variables(ds, variables)
            ds = ds[list(variables)]
        ds.encoding["source"] = _source(paths)
    return ds


def _source(paths: Sequence[Path]) -> str:
    return str(paths[0]) if len(paths) == 1 else (
        f"{paths[0]} and {len(paths) - 1} more file(s)")


def _open_set(paths: Sequence[Path], variables, chunks, sample_dim: str,
              engine=None) -> xr.Dataset:
    if len(paths) == 1:
        return _open_one(paths[0], variables, chunks, engine)
    parts = [_open_one(p, variables, chunks, engine) for p in paths]
    check_parts_agree(parts, paths, sample_dim)
    ds = xr.concat(parts, dim=sample_dim, data_vars="minimal", coords="minimal",
                   compat="override", join="override", combine_attrs="drop_conflicts")
    register_concat(ds, parts, sample_dim)
    ds.encoding["source"] = _source(paths)
    ds.set_close(lambda: [part.close() for part in parts])
    return ds


def check_parts_agree(parts: Sequence[xr.Dataset], paths: Sequence[Path],
                      sample_dim: str) -> None:
    """Raise ``DataError`` unless every dataset has the first one's variables, dims and
    (non-sample) coordinates, and each variable has ``sample_dim``.

    Raises:
        DataError: the parts differ in variables, dims, sizes or coordinates (the message names the
            file and what differs).
    """
    first, ref = parts[0], paths[0]
    for ds, path in zip(parts, paths, strict=True):
        if set(ds.data_vars) != set(first.data_vars):
            raise DataError(
                f"{path} has variables {sorted(map(str, ds.data_vars))} where {ref} has "
                f"{sorted(map(str, first.data_vars))}; a set of files must hold the same "
                "variables (pass variables=[...] / --inputs/--targets to pick shared ones)")
        for name, var in ds.data_vars.items():
            if sample_dim not in var.dims:
                raise DataError(f"variable {name!r} of {path} has no {sample_dim!r} dimension "
                                f"(dims {var.dims}) to join the files along; pass "
                                "sample_dim= the dimension that numbers samples")
            other = {d: n for d, n in first[name].sizes.items() if d != sample_dim}
            mine = {d: n for d, n in var.sizes.items() if d != sample_dim}
            if mine != other:
                raise DataError(f"variable {name!r} of {path} has sizes {mine} where {ref} "
                                f"has {other}; the files' grids differ")
        for name, coord in first.coords.items():
            if sample_dim in coord.dims:
                continue
            if name not in ds.coords or not _same_values(ds[name].values, coord.values):
                raise DataError(f"coordinate {name!r} of {path} differs from {ref}'s; the "
                                "files' grids or time axes differ, so their samples cannot "
                                "be stacked")


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "iuf" and b.dtype.kind in "iuf":
        return bool(np.allclose(a, b, rtol=1e-9, atol=0, equal_nan=True))
    return bool(np.array_equal(a, b))  # dates (datetime64, cftime), strings


def _open_one(path: Path, variables: Sequence[str] | None,
              chunks: str | int | dict | None, engine=None) -> xr.Dataset:
    if not path.exists():
        raise InputNotFoundError(f"data file {path} does not exist (check the path; "
                                "`kinnsci generate --help` makes one)")
    what, fmt = f"engine {engine!r} cannot read {path}", None
    if engine is None:
        fmt = file_format(path, plugins=True)
        what = (f"{path} looks like a {fmt} file but cannot be read" if ":" not in fmt else
                f"engine {fmt.split(':')[1]!r} guessed it can open {path} but cannot read it")
    try:
        engine = engine or choose_engine(path, fmt)
        try:
            ds = _xr_open(path, chunks, engine=engine)
        except (OSError, ValueError) as exc:
            if isinstance(exc, DataError) or engine != "netcdf4" or fmt != "hdf5":
                raise
            # Plain HDF5 written by h5py has no dimension scales; h5netcdf names them.
            ds = _xr_open(path, chunks, engine="h5netcdf_phony")
    except (OSError, ValueError, TypeError, IndexError, KeyError) as exc:
        if isinstance(exc, DataError):
            raise
        # A file cut short (interrupted copy or download) fails inside the format library
        # with errors that do not say so; the library's whole reason comes first, since a
        # malformed (not truncated) file is only explained by it.
        reason = " ".join(str(exc).split()) or "no reason given"
        raise DataError(
            f"{what} ({type(exc).__name__}: {reason}); fix what the reason names, or, if "
            "the file was copied or downloaded, it may be truncated: copy or generate it "
            "again") from exc
    ds.encoding["source"] = str(path)
    if variables is not None:
        require_variables(ds, variables)
        ds = ds[list(variables)]
        ds.encoding["source"] = str(path)
    return ds


def choose_engine(path: Path, fmt: str | None = None) -> str | type[BackendEntrypoint]:
    """The xarray engine that reads ``path``, by its format
    (:func:`file_format`). The one table of how kinnsci reads each format:

    * netCDF3: ``scipy``; Zarr (a folder or a zip): ``zarr``;
    * HDF5: kinnsci's ``the_well`` or ``pdebench`` engine for those layouts; ``h5netcdf``
      for files with LZF-compressed or float16 data (netCDF-C fails on every read of LZF,
      h5py's own filter, and crashes on HDF5 float16); else ``netcdf4`` (netCDF-4 files;
      plain HDF5 without dimension scales falls back to ``h5netcdf`` with phony dims);
    * any other file: the installed xarray engine (a plugin) that says it can open it.
    """
    fmt = fmt or file_format(path, plugins=True)
    if fmt == "netcdf3":
        return "scipy"
    if fmt == "zarr":
        return "zarr"
    if fmt.startswith("plugin:"):  # the class: xarray takes it whatever it is installed as
        return type(xr.backends.list_engines()[fmt.removeprefix("plugin:")])
    import h5py

    from kinnsci.data.formats import engines

    with h5py.File(path, "r") as fh:
        if engines.is_the_well(fh):
            return engines.TheWellBackendEntrypoint
        if engines.pdebench_layout(fh):
            return engines.PDEBenchBackendEntrypoint
        filters, kinds = set(), set()

        def visit(_: str, obj) -> None:
            if isinstance(obj, h5py.Dataset):
                filters.add(obj.compression)
                kinds.add(obj.dtype.str[1:])

        fh.visititems(visit)
    if "lzf" in filters or "f2" in kinds:
        return "h5netcdf_phony"
    return "netcdf4"


def require_variables(ds: xr.Dataset, names: Sequence[str], argument: str = "variables"):
    """Raise ``DataError`` naming the file and the available variables if one is missing.

    Raises:
        DataError: a name is missing (the message lists the available ones).
    """
    missing = [n for n in names if n not in ds.variables]
    if missing:
        source = ds.encoding.get("source", "the dataset")
        available = ", ".join(str(v) for v in ds.data_vars) or "(none)"
        groups = _groups(source) if not ds.data_vars else []
        where = (f" at its root; it keeps variables in group(s) {', '.join(groups)}: "
                 f"extract one with xr.open_dataset({str(source)!r}, group={groups[0]!r})"
                 ".to_netcdf(...)" if groups else "")
        raise DataError(
            f"{argument}: variable(s) {missing} not found in {source}; "
            f"available variables: {available}{where}"
        )


def _groups(source: object) -> list[str]:
    """The netCDF4/HDF5 groups of ``source`` (a path), if it is such a file."""
    try:
        import netCDF4

        with netCDF4.Dataset(str(source)) as nc:
            return list(nc.groups)
    except Exception:
        return []


def _open_zarr(path: Path, chunks) -> xr.Dataset:
    try:
        import zarr
    except ImportError:
        raise DataError(f"{path} is a Zarr store; reading Zarr needs the zarr package: "
                        "pip install 'kinnsci[zarr]'") from None
    if path.is_dir():
        return _open_plain(path, chunks, engine="zarr")
    store = zarr.storage.ZipStore(path, mode="r")
    try:
        ds = _open_plain(store, chunks, engine="zarr")
    except BaseException:
        store.close()
        raise
    ds.set_close(store.close)
    return ds


def _xr_open(path: Path, chunks, engine) -> xr.Dataset:
    if engine == "zarr":
        return _open_zarr(path, chunks)
    if engine == "h5netcdf_phony":  # h5netcdf naming undeclared dims
        return _open_plain(path, chunks, engine="h5netcdf", phony_dims="sort")
    return _open_plain(path, chunks, engine=engine)


def _open_plain(path: Path, chunks, **kwargs) -> xr.Dataset:
    if kwargs["engine"] in _XARRAY_ENGINES:  # times stay numbers; other engines decide
        kwargs["decode_times"] = False
    try:
        return xr.open_dataset(path, chunks=chunks, **kwargs)
    except NotImplementedError:
        # dask cannot auto-chunk text (object) variables; chunk the numeric ones only.
        ds = xr.open_dataset(path, chunks=None, **kwargs)
        numeric = [n for n, v in ds.data_vars.items() if v.dtype.kind in "biufc"]
        return ds.assign({n: ds[n].chunk(chunks) for n in numeric})
