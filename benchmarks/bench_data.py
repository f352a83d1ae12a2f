"""Data loading throughput vs raw netCDF4 slicing, and generator wall times.

Usage: python benchmarks/bench_data.py [--samples 512] [--res 64] [--batch 16]
Both readers fetch the same shuffled batches from the same file in one run; the ratio is
ours / raw samples per second (>= 0.9 is the target).
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
    print(f"\n## Generator wall time ({args.gen_samples} samples)\n")
    print("| generator | resolution | seconds | s / sample |")
    print("|---|---:|---:|---:|")
    for name, res, sec in bench_generators([64, 128], args.gen_samples):
        print(f"| {name} | {res} | {sec:.2f} | {sec / args.gen_samples:.2f} |")
    print("\nnavier_stokes: 10 snapshots, t_end 1.0, dt 1e-3; shallow_water: t_end 1.0 CFL 0.4")


if __name__ == "__main__":
    main()
