# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # 6. Scaling out: several GPUs, several nodes, data larger than memory
#
# Nothing in kinnsci schedules work itself: multi-process training is PyTorch
# DistributedDataParallel launched by `torchrun`, and large files stay lazy through
# xarray + dask. The same `kinnsci train` command runs everywhere.
#
# ## One machine, N GPUs
#
# ```bash
# torchrun --nproc-per-node 4 -m kinnsci.cli.main train --config run.yaml
# ```
#
# What changes: each process joins the process group (NCCL on GPUs, gloo on CPUs), wraps
# the model in `DistributedDataParallel` and reads a disjoint quarter of every global
# batch through `DistributedSampler`. `batch_size` in the config is the **global** batch
# and must be divisible by the number of processes; the gradients are averaged, so the
# run follows the same optimisation path as one process with that batch (the test suite
# checks this to 1e-6 with two CPU processes). Only rank 0 writes checkpoints, plots
# and metrics. Add `amp: bf16` to the config for mixed precision on GPUs.
#
# ## Several nodes
#
# ```bash
# # on every node (node_rank 0..N-1), with MASTER on node 0:
# torchrun --nnodes 2 --nproc-per-node 8 --node-rank $NODE_RANK \
#     --rdzv-backend c10d --rdzv-endpoint $MASTER:29500 \
#     -m kinnsci.cli.main train --config run.yaml
# ```
#
# The data file must be readable on every node (shared file system); checkpoints go to
# rank 0's `out` folder; `--resume out/last.pt` continues on any number of processes.
#
# ## Data larger than memory
#
# `open_dataset` returns dask-backed arrays: statistics (`Normalizer.fit`) stream through
# dask, and each training window reads only its own slices from the file (straight from
# netCDF4 when the variable is unchanged, so random access stays cheap). Files written by
# `kinnsci generate` store one HDF5 chunk per snapshot for exactly this access pattern;
# rechunk foreign files the same way (`nccopy -c sample/1,time/1 in.nc out.nc`) if every
# sample read touches huge chunks. Use `--num-workers` to read in parallel processes.
#
# Below, a small demonstration on this machine: a file streamed in windows while only
# one window is ever in memory.

# %%
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SMOKE, output_dir  # noqa: E402

from kinnsci.data import Normalizer, RolloutDataset, generate, open_dataset  # noqa: E402

OUT = output_dir("06")
n = 4 if SMOKE else 32
path = generate("shallow_water", OUT / "swe.nc", n_samples=n, resolution=32, seed=0,
                overwrite=True, progress=not SMOKE, n_times=11, t_end=0.5)
ds = open_dataset(path, chunks={"sample": 1, "time": 1})
print(f"{path.stat().st_size / 1e6:.1f} MB on disk; dask chunks {ds['h'].data.chunksize}")
norm = Normalizer.fit(ds, ["h", "u", "v"])  # streamed reductions, chunk by chunk
windows = RolloutDataset(ds, ["h", "u", "v"], history=2, horizon=1)
total = sum(float(windows[i][1][0, 0].sum()) for i in range(len(windows)))
print(f"{len(windows)} windows read one by one; mean depth "
      f"{norm.shift[0].item():.4f} m; ds['h'] still lazy: {ds['h'].chunks is not None}")
assert ds["h"].chunks is not None and np.isfinite(total)
