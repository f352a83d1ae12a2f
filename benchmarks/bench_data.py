"""Data loading throughput vs raw netCDF4/h5py/zarr slicing, and generator wall times.

Usage: python benchmarks/bench_data.py [--samples 512] [--res 64] [--batch 16]
Both readers fetch the same shuffled batches from the same file in one run; the ratio is
ours / raw samples per second (>= 0.9 is the target). The archive rows write one
trajectory set in each format kinnsci reads (PDEBench, The Well, Zarr, POSEIDON-style
channels, a multi-file set) and read shuffled batches of rollout windows from it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import netCDF4
import numpy as np
import torch
from torch.utils.data import DataLoader

from kinnsci.data import OperatorDataset, RolloutDataset, generate, open_dataset


def _batches(n: int, batch: int, seed: int = 0) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[i:i + batch] for i in range(0, n, batch)]


def bench_operator(path: Path, batch: int, chunks, loader: bool) -> tuple[float, float]:
    ds = open_dataset(path, chunks=chunks)
    data = OperatorDataset(ds, ["a"], ["u"])
    batches = _batches(len(data), batch)
    batched = DataLoader(data, batch_sampler=batches)

    def ours():
        if loader:  # adds DataLoader's fetch + default_collate (~0.3 ms a batch here)
            for _x, _y in batched:
                pass
        else:
            for idx in batches:
                data.__getitems__(idx)

    def raw():
        with netCDF4.Dataset(path) as nc:
            for idx in batches:
                idx = np.sort(idx)
                torch.from_numpy(nc["a"][idx, :, :].data[:, None]).float()
                torch.from_numpy(nc["u"][idx, :, :].data[:, None]).float()

    return _rates(ours, raw, len(data))


def _rates(ours, raw, n: int, repeats: int = 3) -> tuple[float, float]:
    """Samples/s of each reader: one warm-up pass each (page cache), then best of repeats,
    interleaved so both see the same machine state."""
    ours(), raw()
    t_ours, t_raw = [], []
    for _ in range(repeats):
        for fn, times in ((ours, t_ours), (raw, t_raw)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return n / min(t_ours), n / min(t_raw)


def bench_rollout(path: Path, history: int, horizon: int, chunks) -> tuple[float, float]:
    ds = open_dataset(path, chunks=chunks)
    data = RolloutDataset(ds, ["w"], history=history, horizon=horizon)
    order = np.random.default_rng(0).permutation(len(data))
    per = data.windows_per_sample

    def ours():
        for i in order:
            data[int(i)]

    def raw():
        with netCDF4.Dataset(path) as nc:
            for i in order:
                s, t0 = divmod(int(i), per)
                block = torch.from_numpy(nc["w"][s, t0:t0 + history + horizon].data).float()
                block[:history], block[history:]

    return _rates(ours, raw, len(data))


def write_archives(folder: Path, n: int, n_time: int, res: int) -> dict[str, tuple]:
    """One set of trajectories (two variables) in every archive format:
    {row name: (path, variable names, raw reader of (name, sorted samples, time slice)
    -> (samples, time, y, x))}."""
    import h5py
    import xarray as xr
    import zarr

    rng = np.random.default_rng(0)
    a, b = (rng.random((n, n_time, res, res), dtype=np.float32) for _ in range(2))
    rows = {}
    dims = ("sample", "time", "y", "x")
    cf = xr.Dataset({"a": (dims, a), "b": (dims, b)},
                    coords={"time": np.arange(n_time, dtype=np.float64)})
    cf.to_netcdf(folder / "cf.nc")
    rows["CF netCDF"] = (folder / "cf.nc", ["a", "b"], _netcdf_reader(folder / "cf.nc"))
    half = n // 2
    cf.isel(sample=slice(0, half)).to_netcdf(folder / "set_0.nc")
    cf.isel(sample=slice(half, None)).to_netcdf(folder / "set_1.nc")
    rows["multi-file netCDF (2 files)"] = (str(folder / "set_*.nc"), ["a", "b"],
                                          _netcdf_set_reader([folder / "set_0.nc",
                                                              folder / "set_1.nc"], half))
    with h5py.File(folder / "pdebench.hdf5", "w") as fh:  # (N, T, X, Y)
        fh["density"], fh["pressure"] = a.transpose(0, 1, 3, 2), b.transpose(0, 1, 3, 2)
        fh["Vx"] = fh["Vy"] = np.zeros_like(fh["density"])
    rows["PDEBench 2-D CFD (HDF5)"] = (folder / "pdebench.hdf5", ["density", "pressure"],
                                      _h5_reader(folder / "pdebench.hdf5",
                                                 {"density": "density", "pressure": "pressure"}))
    _write_the_well(folder / "well.hdf5", a, b)
    rows["The Well (HDF5)"] = (folder / "well.hdf5", ["a", "b"],
                              _h5_reader(folder / "well.hdf5", {"a": "t0_fields/a",
                                                                "b": "t0_fields/b"}))
    cf.to_zarr(folder / "cf.zarr", zarr_format=3)
    rows["Zarr (folder)"] = (folder / "cf.zarr", ["a", "b"],
                            _zarr_reader(zarr.open_group(folder / "cf.zarr", mode="r")))
    channels = np.stack([a, b], axis=2)  # (trajectory, time, channel, y, x)
    xr.Dataset({"data": (("trajectory", "time", "channel", "y", "x"), channels)}).to_netcdf(
        folder / "poseidon.nc")
    rows["POSEIDON-style channels (netCDF)"] = (folder / "poseidon.nc", ["data_0", "data_1"],
                                               _netcdf_channel_reader(folder / "poseidon.nc"))
    return rows


def _write_the_well(path: Path, a: np.ndarray, b: np.ndarray) -> None:
    import h5py

    with h5py.File(path, "w") as fh:
        grid = fh.create_group("dimensions")
        grid.attrs["spatial_dims"] = ["x", "y"]
        grid["time"] = np.arange(a.shape[1], dtype=np.float32)
        grid["x"] = grid["y"] = np.linspace(0, 1, a.shape[-1], dtype=np.float32)
        fields = fh.create_group("t0_fields")
        for name, values in (("a", a), ("b", b)):
            fields[name] = values.transpose(0, 1, 3, 2)  # The Well stores (x, y)
            fields[name].attrs["sample_varying"] = fields[name].attrs["time_varying"] = True
            fields[name].attrs["dim_varying"] = [True, True]


def _netcdf_reader(path):
    nc = netCDF4.Dataset(path)
    return lambda name, s, t: nc[name][s, t].data


def _netcdf_set_reader(paths, per_file):
    files = [netCDF4.Dataset(p) for p in paths]

    def read(name, s, t):
        parts = [files[f][name][s[s // per_file == f] - f * per_file, t].data
                 for f in range(len(files)) if np.any(s // per_file == f)]
        return np.concatenate(parts)
    return read


def _netcdf_channel_reader(path):
    nc = netCDF4.Dataset(path)
    return lambda name, s, t: nc["data"][s, t, int(name[-1])].data


def _h5_reader(path, names):
    import h5py

    fh = h5py.File(path, "r")
    return lambda name, s, t: fh[names[name]][s, t].transpose(0, 1, 3, 2)


def _zarr_reader(group):
    return lambda name, s, t: group[name].oindex[s, t]


def bench_archive(path, names: list[str], raw_read, batch: int, history: int = 4,
                  sample_dim: str = "sample") -> tuple[float, float]:
    """Windows/s of ``RolloutDataset.__getitems__`` vs the raw library reading the same
    blocks (each batch's distinct samples over its windows' time span, every variable)."""
    channel_dim = "channel" if sample_dim == "trajectory" else None
    ds = open_dataset(path, sample_dim=sample_dim, channel_dim=channel_dim)
    data = RolloutDataset(ds, names, history=history, horizon=1, sample_dim=sample_dim)
    batches = _batches(len(data), batch)
    length = history + 1

    def ours():
        for idx in batches:
            data.__getitems__(idx)

    def raw():
        for idx in batches:
            samples = idx // data.windows_per_sample
            starts = idx % data.windows_per_sample
            distinct, which = np.unique(samples, return_inverse=True)
            lo, hi = int(starts.min()), int(starts.max()) + length
            block = torch.from_numpy(np.stack([raw_read(n, distinct, slice(lo, hi))
                                               for n in names], axis=2).astype(np.float32))
            [(block[k, t - lo:t - lo + history].flatten(0, 1), block[k, t - lo + history:])
             for k, t in zip(which, starts, strict=True)]

    return _rates(ours, raw, len(data))


def bench_generators(resolutions: list[int], n_samples: int) -> list[tuple[str, int, float]]:
    runs = {
        "darcy": {},
        "poisson": {},
        "navier_stokes": {"n_times": 11, "dt_save": 0.1, "dt": 1e-3},
        "shallow_water": {"n_times": 11, "t_end": 1.0},
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for res in resolutions:
            for name, kw in runs.items():
                start = time.perf_counter()
                generate(name, Path(tmp) / f"{name}{res}.nc", n_samples=n_samples,
                         resolution=res, progress=False, **kw)
                rows.append((name, res, time.perf_counter() - start))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=512)
    p.add_argument("--res", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--gen-samples", type=int, default=4)
    args = p.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        darcy = generate("darcy", Path(tmp) / "darcy.nc", n_samples=args.samples,
                         resolution=args.res, progress=False)
        ns = generate("navier_stokes", Path(tmp) / "ns.nc", n_samples=max(args.samples // 16, 2),
                      resolution=args.res, n_times=20, dt_save=0.05, dt=5e-3, progress=False)
        print(f"## Loader throughput ({args.res}x{args.res}, float64 file -> float32 tensors)\n")
        print("| reader | chunks | ours (samples/s) | raw netCDF4 (samples/s) | ours / raw |")
        print("|---|---|---:|---:|---:|")
        for chunks in ("auto", None):
            for loader in (False, True):
                ours, raw = bench_operator(darcy, args.batch, chunks, loader)
                how = "through DataLoader" if loader else "__getitems__"
                print(f"| OperatorDataset, batch {args.batch}, {how} | {chunks} | {ours:,.0f} "
                      f"| {raw:,.0f} | {ours / raw:.2f} |")
            ours, raw = bench_rollout(ns, 10, 1, chunks)
            print(f"| RolloutDataset, history 10, horizon 1 | {chunks} | {ours:,.0f} | "
                  f"{raw:,.0f} | {ours / raw:.2f} |")
    print(f"\n## Archive formats (RolloutDataset, history 4, batch {args.batch} windows, "
          f"{args.res}x{args.res} float32)\n")
    print("| format | ours (windows/s) | raw library (windows/s) | ours / raw |")
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        rows = write_archives(Path(tmp), max(args.samples // 16, 4), 20, args.res)
        for name, (path, names, raw_read) in rows.items():
            sample_dim = "trajectory" if "POSEIDON" in name else "sample"
            ours, raw = bench_archive(path, names, raw_read, args.batch, sample_dim=sample_dim)
            print(f"| {name} | {ours:,.0f} | {raw:,.0f} | {ours / raw:.2f} |")
    print(f"\n## Generator wall time ({args.gen_samples} samples)\n")
    print("| generator | resolution | seconds | s / sample |")
    print("|---|---:|---:|---:|")
    for name, res, sec in bench_generators([64, 128], args.gen_samples):
        print(f"| {name} | {res} | {sec:.2f} | {sec / args.gen_samples:.2f} |")
    print("\nnavier_stokes: 10 snapshots, t_end 1.0, dt 1e-3; shallow_water: t_end 1.0 CFL 0.4")


if __name__ == "__main__":
    main()
