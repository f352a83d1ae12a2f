# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # 3. Your own netCDF data
#
# Simulation codes write netCDF in their own layouts. This tutorial plays "some other
# code": it writes a file with plain `netCDF4`, with its own dimension names
# (`run, step, j, i`), an extra diagnostic variable, float64 fields and time in hours.
# Then kinnsci opens it lazily, builds autoregressive windows, normalises with training
# statistics only, trains an FNO, and evaluates one-step and rollout errors.

# %%
import sys
from pathlib import Path

import netCDF4
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SMOKE, output_dir  # noqa: E402

from kinnsci.data import Normalizer, RolloutDataset, open_dataset, split_samples  # noqa: E402
from kinnsci.models import get_model  # noqa: E402
from kinnsci.train import NormalizedOperator, Trainer, evaluate, rollout_errors  # noqa: E402

OUT = output_dir("03")
N_RUNS, N_STEPS, N = (8, 12, 16) if SMOKE else (48, 30, 32)

# %% [markdown]
# ## "Another code": periodic heat equation, written by hand with netCDF4

# %%
rng = np.random.default_rng(0)
k = np.fft.fftfreq(N, 1.0 / N)
decay = np.exp(-0.002 * (2 * np.pi) ** 2 * (k[:, None] ** 2 + k[None, :] ** 2))  # 1 hour
fields = np.empty((N_RUNS, N_STEPS, N, N))
for r in range(N_RUNS):
    spectrum = rng.standard_normal((N, N)) / (1 + k[:, None] ** 2 + k[None, :] ** 2)
    state = 280 + 5 * np.real(np.fft.ifft2(spectrum * N))
    for s in range(N_STEPS):
        fields[r, s] = state
        state = np.real(np.fft.ifft2(np.fft.fft2(state) * decay))

path = OUT / "heat_from_another_code.nc"
with netCDF4.Dataset(path, "w") as nc:
    for name, size in (("run", N_RUNS), ("step", N_STEPS), ("j", N), ("i", N)):
        nc.createDimension(name, size)
    hours = nc.createVariable("step", "f8", ("step",))
    hours.units = "hours since 2000-01-01"
    hours[:] = np.arange(N_STEPS)
    temp = nc.createVariable("temperature", "f8", ("run", "step", "j", "i"))
    temp.units = "K"
    temp[:] = fields
    mean = nc.createVariable("mean_temperature", "f8", ("run", "step"))
    mean[:] = fields.mean(axis=(-2, -1))

# %% [markdown]
# ## Open lazily and build windows
# Tell the dataset which dims mean sample, time and space; everything stays on disk until
# a window is read.

# %%
ds = open_dataset(path)
print(ds)
split = split_samples(ds.sizes["run"], (0.75, 0.0, 0.25), seed=0)
dims = {"sample_dim": "run", "time_dim": "step", "spatial_dims": ("j", "i")}
train = RolloutDataset(ds, ["temperature"], history=2, horizon=2, samples=split["train"],
                       **dims)
test = RolloutDataset(ds, ["temperature"], history=2, horizon=1, samples=split["test"], **dims)
x, y = train[0]
print(f"{len(train)} training windows; x {tuple(x.shape)}, y {tuple(y.shape)}")

# Statistics from the training runs only (dask reductions: fine for files > RAM).
norm = Normalizer.fit(ds, ["temperature"], split["train"], sample_dim="run")
print(f"mean {norm.shift.item():.2f} K, std {norm.scale.item():.3f} K")

# %% [markdown]
# ## Train an FNO (2-step unrolled) in physical units

# %%
torch.manual_seed(0)
backbone = get_model("fno", in_channels=2, out_channels=1, hidden_channels=16, n_modes=(12, 11),
                     projection_channels=32)
model = NormalizedOperator(backbone, norm, norm)
trainer = Trainer(model, train, epochs=3 if SMOKE else 20, batch_size=8, lr=3e-3,
                  device="cpu", progress=not SMOKE, checkpoint_dir=OUT / "run")
history = trainer.fit()
print([round(h["train_loss"], 5) for h in history])
assert history[-1]["train_loss"] < history[0]["train_loss"]

# %% [markdown]
# ## Evaluate: one step, and rollouts compared with "nothing changes"

# %%
metrics = evaluate(model, test)
steps = N_STEPS - 2
errors, pred, true = rollout_errors(model, test, n_steps=steps)
persistence = [
    float(np.mean([np.linalg.norm(test.trajectory(i)[1 + s, 0] - test.trajectory(i)[1, 0])
                   / np.linalg.norm(test.trajectory(i)[1 + s, 0])
                   for i in range(test.n_trajectories)]))
    for s in range(1, steps + 1)]
print(f"one-step rel. L2 {metrics['rel_l2']:.2e}; rollout step 1 {errors[0]:.2e}, "
      f"step {steps} {errors[-1]:.2e} (persistence {persistence[-1]:.2e})")
assert np.isfinite(errors).all()

from kinnsci.train import plots  # noqa: E402

plots.plot_rollout_error(errors, OUT / "rollout_error.png")
plots.plot_predictions(pred[:, -1], true[:, -1], OUT / "last_step.png")
print(f"plots in {OUT}")
