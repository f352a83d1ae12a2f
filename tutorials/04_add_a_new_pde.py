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
# kinnsci does not ship it. Adding it takes one generator class (below, as it would sit in
# `kinnsci/data/generators/allen_cahn.py`) and one registry line. We validate the solver
# against what we know exactly, write a CF-1.8 file with `kinnsci.data.generate`, and
# train UKNO and FNO on it.

# %%
import sys
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SMOKE, output_dir  # noqa: E402

from kinnsci.data import Normalizer, RolloutDataset, generate, open_dataset  # noqa: E402
from kinnsci.data.cf import cf_dataset  # noqa: E402
from kinnsci.data.generators import GENERATORS, Generator  # noqa: E402
from kinnsci.data.grf import gaussian_random_field  # noqa: E402
from kinnsci.models import build_model, count_parameters  # noqa: E402
from kinnsci.train import NormalizedOperator, Trainer, evaluate  # noqa: E402

OUT = output_dir("04")

# %% [markdown]
# ## The solver: pseudo-spectral, IMEX (implicit diffusion, explicit reaction)


# %%
def solve_allen_cahn(u0, *, eps, save_times, dt, progress=False):
    """u0 (batch, s, s) on the grid j/s -> (batch, len(save_times), s, s)."""
    s = u0.shape[-1]
    k = 2 * np.pi * np.fft.fftfreq(s, d=1.0 / s)
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    u, out, t = u0.copy(), np.empty((len(u0), len(save_times), s, s)), 0.0
    for j, t_save in enumerate(tqdm(save_times, disable=not progress, desc="allen_cahn")):
        while t < t_save - 1e-12:
            h = min(dt, t_save - t)
            u_hat = (np.fft.fft2(u) + h * np.fft.fft2(u - u**3)) / (1 + h * eps**2 * k2)
            u, t = np.real(np.fft.ifft2(u_hat)), t + h
        out[:, j] = u
    return out


class AllenCahn(Generator):
    """Phase separation from a small random initial field."""

    name = "allen_cahn"
    title = "2-D Allen-Cahn equation, periodic unit square, pseudo-spectral IMEX"
    steady = False

    def simulate(self, n_samples, resolution, rng, progress, *, eps: float = 0.05,
                 n_times: int = 20, dt_save: float = 0.5, dt: float = 0.01,
                 amplitude: float = 0.1) -> xr.Dataset:
        u0 = gaussian_random_field(rng, n_samples, resolution, alpha=2.0, tau=5.0)
        u0 = amplitude * u0 / u0.std()
        times = dt_save * np.arange(n_times)
        u = solve_allen_cahn(u0, eps=eps, save_times=times, dt=dt, progress=progress)
        grid = np.arange(resolution) / resolution
        fields = {"u": (("sample", "time", "y", "x"), u, "order parameter", "1")}
        return cf_dataset(fields, x=grid, y=grid, time=times, title=self.title,
                          generator=self.name)


GENERATORS["allen_cahn"] = AllenCahn  # the one registry line

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
for name, config in {"fno": {"width": 16, "modes": 6},
                     "ukno": {"widths": [16, 16, 32], "res_blocks": 1, "directions": 2,
                              "d_state": 4, "ckb_levels": 1}}.items():
    torch.manual_seed(0)
    model = NormalizedOperator(build_model(name, in_channels=1, out_channels=1, **config),
                               norm, norm)
    Trainer(model, train, epochs=2 if SMOKE else 20, batch_size=8, lr=3e-3, device="cpu",
            progress=not SMOKE).fit()
    results[name] = (count_parameters(model.backbone), evaluate(model, test)["rel_l2"])
for name, (params, err) in results.items():
    print(f"{name}: {params:,} parameters, one-step test rel. L2 {err:.4f}")
assert all(np.isfinite(err) for _, err in results.values())
