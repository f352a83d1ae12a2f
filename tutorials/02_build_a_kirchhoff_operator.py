# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # 2. Build a Kirchhoff operator
#
# From parts to a model: a selective Kirchhoff Neural Cell (KNC), a Cascaded Kirchhoff
# Block (CKB) that chains K of them, a 2-D mixer that scans a grid along 1, 2 or 4
# directions, and FKNO, the FNO whose first local operator is that mixer. We swap the
# discretizer and the routing, count parameters, train briefly on Navier–Stokes data we
# generate here, and plot the rollout error.

# %%
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SMOKE, output_dir  # noqa: E402

from kinnsci.data import Normalizer, RolloutDataset, generate, open_dataset  # noqa: E402
from kinnsci.layers import CKB, KNC, KirchhoffMixer2d  # noqa: E402
from kinnsci.models import FKNO, count_parameters, get_model  # noqa: E402
from kinnsci.train import NormalizedOperator, Trainer, plots, rollout_errors  # noqa: E402

OUT = output_dir("02")
torch.manual_seed(0)

# %% [markdown]
# ## The parts
# A KNC maps sequences (batch, length, channels) to the same shape. Its decay rates
# A = −exp(A_log) are negative by construction (KCL: a passive node relaxes), so its time
# constants 1/|A| are physical and can be read off.

# %%
knc = KNC(channels=8, d_state=4)
seq = torch.randn(2, 50, 8)
print("KNC:", tuple(knc(seq).shape), "time constants (first channel):",
      [round(t, 2) for t in knc.time_constants()[0].tolist()])

for discretizer in ("zoh", "euler", "bilinear"):
    for routing in ("series", "parallel"):
        block = CKB(8, ckb_order=2, d_state=4, discretizer=discretizer, routing=routing)
        print(f"CKB {discretizer:8s} {routing:8s}: {count_parameters(block)} parameters, "
              f"output {tuple(block(seq).shape)}")

mixer = KirchhoffMixer2d(8, ckb_order=2, directions=4, d_state=4)
grid = torch.randn(2, 8, 12, 12)
assert mixer(grid).shape == grid.shape

# %% [markdown]
# ## FKNO: each scan direction adds the same weights
# The KINN paper's FKNO-1/2/4 differ by 4,320 parameters per direction at width 20.

# %%
counts = {d: count_parameters(FKNO(directions=d)) for d in (1, 2, 4)}
print("FKNO-1/2/4 parameters:", counts)
assert counts[2] - counts[1] == 4320 and counts[4] - counts[2] == 2 * 4320

# %% [markdown]
# ## Train briefly on Navier–Stokes (vorticity) data generated here

# %%
res, n, n_times = (16, 6, 8) if SMOKE else (32, 24, 30)
data_file = generate("navier_stokes", OUT / "ns.nc", n_samples=n, resolution=res, seed=0,
                     overwrite=True, progress=not SMOKE, n_times=n_times, dt_save=0.5,
                     dt=1e-2)
ds = open_dataset(data_file)
history = 2 if SMOKE else 4
train = RolloutDataset(ds, ["w"], history=history, horizon=2, samples=range(n - 2))
test = RolloutDataset(ds, ["w"], history=history, horizon=1, samples=[n - 2, n - 1])
norm = Normalizer.fit(ds, ["w"], list(range(n - 2)))

torch.manual_seed(0)
backbone = get_model("fkno", in_channels=history, out_channels=1, hidden_channels=12,
                     n_modes=(8, 7), directions=2, d_state=4, projection_channels=32)
model = NormalizedOperator(backbone, norm, norm)
trainer = Trainer(model, train, epochs=2 if SMOKE else 15, batch_size=4, lr=3e-3,
                  device="cpu", progress=not SMOKE)
hist = trainer.fit()
print("train loss per epoch:", [round(h["train_loss"], 4) for h in hist])
assert hist[-1]["train_loss"] < hist[0]["train_loss"]

# %% [markdown]
# ## Rollout error
# 40 steps in the full run (the KINN protocol); fewer in smoke mode.

# %%
steps = n_times - history
errors, _, _ = rollout_errors(model, test, n_steps=steps)
plots.plot_rollout_error(errors, OUT / "rollout_error.png")
print(f"rollout rel. L2: step 1 {errors[0]:.3f}, step {steps} {errors[-1]:.3f}; plot in {OUT}")
assert errors.shape == (steps,) and (errors > 0).all()
