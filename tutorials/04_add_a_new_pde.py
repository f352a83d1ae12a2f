# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # 4. Add a new PDE: 2-D Allen–Cahn
#
#     ∂u/∂t = ε² Δu + u − u³     on the periodic unit square
#
# kinnsci does not ship it. Adding it takes one generator class in a file of your own
# (`tutorials/allen_cahn.py`) that calls `register_generator`. We validate the solver
# against what we know exactly, make the generator available to `kinnsci generate`, write
# a CF-1.8 file with `kinnsci.data.generate`, and train UKNO and FNO on it. The tests
# CONTRIBUTING.md asks of a new generator are in `tests/test_plugins.py`.

# %%
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SMOKE, output_dir  # noqa: E402

from kinnsci.data import Normalizer, RolloutDataset, generate, open_dataset  # noqa: E402
from kinnsci.data.generators import GENERATORS  # noqa: E402
from kinnsci.models import count_parameters, get_model  # noqa: E402
from kinnsci.train import NormalizedOperator, Trainer, evaluate  # noqa: E402

OUT = output_dir("04")

# %% [markdown]
# ## The solver (pseudo-spectral, IMEX: implicit diffusion, explicit reaction) and generator
# The solver and the generator class live in their own file, `tutorials/allen_cahn.py`,
# as they would in your project; its last line, `register_generator(AllenCahn)`, adds the
# generator to kinnsci's registry when the file is imported.

# %%
from allen_cahn import AllenCahn, solve_allen_cahn  # noqa: E402

assert "allen_cahn" in GENERATORS and GENERATORS["allen_cahn"] is AllenCahn

# %% [markdown]
# ## Validate against what we know
# 1. Linear regime: a mode of tiny amplitude A grows like exp((1 − ε²|k|²) t).
# 2. Allen–Cahn is a gradient flow: the energy ∫ ε²|∇u|²/2 + (1 − u²)²/4 never increases.

# %%
s, eps = 32, 0.05
x = np.arange(s) / s
xx, yy = np.meshgrid(x, x)
mode = 1e-8 * np.sin(2 * np.pi * (2 * xx + yy))[None]
grown = solve_allen_cahn(mode, eps=eps, save_times=np.array([1.0]), dt=1e-3)[0, -1]
rate = 1 - eps**2 * (2 * np.pi) ** 2 * 5
rel = np.abs(grown - mode[0] * np.exp(rate)).max() / np.abs(mode).max()
print(f"linear growth: relative error {rel:.2e} (first order in dt)")
assert rel < 1e-2

field = solve_allen_cahn(0.3 * np.sin(2 * np.pi * xx)[None] * np.cos(4 * np.pi * yy)[None],
                         eps=eps, save_times=np.linspace(0, 2, 21), dt=1e-2)[0]


def energy(u):
    ux = np.real(np.fft.ifft2(1j * 2 * np.pi * np.fft.fftfreq(s, 1 / s)[None, :] *
                              np.fft.fft2(u)))
    uy = np.real(np.fft.ifft2(1j * 2 * np.pi * np.fft.fftfreq(s, 1 / s)[:, None] *
                              np.fft.fft2(u)))
    return np.mean(eps**2 * (ux**2 + uy**2) / 2 + (1 - u**2) ** 2 / 4)


energies = [energy(u) for u in field]
assert np.all(np.diff(energies) <= 1e-12), energies
print(f"energy {energies[0]:.4f} -> {energies[-1]:.4f}, never increasing")

# %% [markdown]
# ## From the command line
# `kinnsci generate` finds generators of other packages and files in two ways:
#
# - **A file or module of yours**: name it in `KINNSCI_PLUGINS` (several separated by
#   `:`); kinnsci imports it, and its `register_generator` call does the rest:
#
#       KINNSCI_PLUGINS=tutorials/allen_cahn.py kinnsci generate allen_cahn \
#           --n-samples 8 --resolution 32 --out ac.nc --param n_times=10
#
# - **An installed package**: declare the class as an entry point in its `pyproject.toml`,
#   and `pip install` it:
#
#       [project.entry-points."kinnsci.generators"]
#       allen_cahn = "my_package.allen_cahn:AllenCahn"
#
# The first way, run here as a user would from a shell:

# %%
env = {**os.environ, "KINNSCI_PLUGINS": str(Path(__file__).resolve().parent / "allen_cahn.py")}
cli = subprocess.run(
    ["kinnsci", "generate", "allen_cahn", "--n-samples", "2", "--resolution", "16",
     "--param", "n_times=3", "--out", str(OUT / "from_the_cli.nc"), "--overwrite",
     "--no-progress"], env=env, capture_output=True, text=True)
print(cli.stdout.strip() or cli.stderr.strip())
assert cli.returncode == 0, cli.stderr
assert open_dataset(OUT / "from_the_cli.nc").attrs["param_n_times"] == 3

# %% [markdown]
# ## Its equation: a residual for evaluation and physics-informed training
# `tutorials/allen_cahn.py` also defines `AllenCahnEquation(Equation)` under the
# generator's name: its residual reads ε and the grid from the file and takes time
# derivatives from the saved steps. On the generator's own data (saved every 0.01 s, so
# the time difference resolves the dynamics) it is small, and 1 % noise breaks it.

# %%
from kinnsci.physics import get_equation  # noqa: E402

fine = generate("allen_cahn", OUT / "allen_cahn_fine.nc", n_samples=2, resolution=32,
                seed=1, overwrite=True, progress=False, n_times=6, dt_save=0.01, dt=1e-3)
fine_ds = open_dataset(fine).load()
equation = get_equation("allen_cahn")
clean = equation.residual_rms(fine_ds)["residual"]
noisy_ds = fine_ds.copy()
noisy_ds["u"] = fine_ds["u"] + 0.01 * float(fine_ds["u"].std()) * np.random.default_rng(
    0).standard_normal(fine_ds["u"].shape)
noisy = equation.residual_rms(noisy_ds)["residual"]
print(f"residual RMS: {clean:.3g} on the true fields, {noisy:.3g} with 1 % noise")
assert noisy > 3 * clean

# %% [markdown]
# ## Write a CF netCDF file and train UKNO vs FNO with the same budget

# %%
res, n, n_times = (16, 8, 8) if SMOKE else (32, 40, 20)
path = generate("allen_cahn", OUT / "allen_cahn.nc", n_samples=n, resolution=res, seed=0,
                overwrite=True, progress=not SMOKE, n_times=n_times)
ds = open_dataset(path)
print(ds.attrs["Conventions"], ds["u"].attrs)
train_ids, test_ids = list(range(n - 2)), [n - 2, n - 1]
train = RolloutDataset(ds, ["u"], history=1, horizon=1, samples=train_ids)
test = RolloutDataset(ds, ["u"], history=1, horizon=1, samples=test_ids)
norm = Normalizer.fit(ds, ["u"], train_ids)

results = {}
for name, config in {"fno": {"hidden_channels": 16, "n_modes": [12, 11]},
                     "ukno": {"hidden_channels": [16, 16, 32], "res_blocks": 1, "directions": 2,
                              "d_state": 4, "ckb_levels": 1}}.items():
    torch.manual_seed(0)
    model = NormalizedOperator(get_model(name, in_channels=1, out_channels=1, **config),
                               norm, norm)
    Trainer(model, train, epochs=2 if SMOKE else 20, batch_size=8, lr=3e-3, device="cpu",
            progress=not SMOKE).fit()
    results[name] = (count_parameters(model.backbone), evaluate(model, test)["rel_l2"])
for name, (params, err) in results.items():
    print(f"{name}: {params:,} parameters, one-step test rel. L2 {err:.4f}")
assert all(np.isfinite(err) for _, err in results.values())

# %% [markdown]
# ## Physics-informed training with the new equation
# The same FNO trained on the data loss plus the residual of its predictions (the loss
# the command line builds from `--loss rel_l2=1,pde=0.001`); each term's epoch mean is
# in the trainer's history.

# %%
from kinnsci.train.losses import CompositeLoss, PhysicsResidual  # noqa: E402

physics = PhysicsResidual.for_data(ds, variables=["u"], history=1)
torch.manual_seed(0)
model = NormalizedOperator(get_model("fno", in_channels=1, out_channels=1, hidden_channels=16,
                                     n_modes=[12, 11]), norm, norm)
trainer = Trainer(model, train, loss=CompositeLoss({"rel_l2": 1.0, "pde": 1e-3}, physics),
                  epochs=2 if SMOKE else 20, batch_size=8, lr=3e-3, device="cpu",
                  progress=not SMOKE)
history = trainer.fit()
print(f"last epoch: rel_l2 {history[-1]['loss_rel_l2']:.4f}, pde {history[-1]['loss_pde']:.4g}; "
      f"one-step test rel. L2 {evaluate(model, test)['rel_l2']:.4f}")
assert np.isfinite(history[-1]["loss_pde"])
