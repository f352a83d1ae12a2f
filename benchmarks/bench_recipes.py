"""Disk size and generation time of the dataset recipes in datasets/, extrapolated.

Usage: python benchmarks/bench_recipes.py [--samples 4]
Each recipe runs with --samples samples (and, for time-dependent sets, its full number of
snapshots but only the first few time units where noted); bytes and seconds per sample
are scaled to the recipe's n_samples.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

from kinnsci.data import generate

RECIPES = Path(__file__).resolve().parent.parent / "datasets"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--ns-snapshots", type=int, default=3,
                   help="Navier-Stokes snapshots simulated (time scales linearly)")
    args = p.parse_args()
    print(f"measured with {args.samples} samples, extrapolated linearly in samples (and in "
          "simulated time for Navier-Stokes)\n")
    print("| recipe | n_samples | resolution | est. disk (GB) | est. time (h, 2 cores) |")
    print("|---|---:|---:|---:|---:|")
    for path in sorted(RECIPES.glob("*.yaml")):
        recipe = yaml.safe_load(path.read_text())
        params = dict(recipe.get("params", {}))
        time_scale = size_scale = 1.0
        if recipe["generator"] == "navier_stokes":
            full = params["n_times"]
            params["n_times"] = args.ns_snapshots
            time_scale = (full - 1) / (args.ns_snapshots - 1)  # simulated time units
            size_scale = full / args.ns_snapshots  # stored snapshots
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            out = generate(recipe["generator"], Path(tmp) / "x.nc", n_samples=args.samples,
                           resolution=recipe["resolution"], progress=False, **params)
            seconds = time.perf_counter() - start
            size = out.stat().st_size
        scale = recipe["n_samples"] / args.samples
        size_full = size * scale * size_scale
        print(f"| {path.name} | {recipe['n_samples']} | {recipe['resolution']} | "
              f"{size_full / 1e9:.2f} | {seconds * scale * time_scale / 3600:.2f} |")


if __name__ == "__main__":
    main()
