"""The Allen-Cahn generator of tutorial 04 and its equation, as a user keeps them in their
own file: a kinnsci plug-in. ``KINNSCI_PLUGINS=tutorials/allen_cahn.py kinnsci generate
allen_cahn ...`` imports this file, whose last line registers the generator; defining
``AllenCahnEquation`` registers the equation (``kinnsci.physics.get_equation``), so
``kinnsci evaluate`` reports its residual and ``--loss rel_l2=1,pde=...`` trains with it.

    ∂u/∂t = ε² Δu + u − u³     on the periodic unit square
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from kinnsci.data.cf import cf_dataset
from kinnsci.data.generators import Generator, register_generator
from kinnsci.data.generators.base import require, require_positive
from kinnsci.data.grf import gaussian_random_field
from kinnsci.physics.equation import Equation, read_parameters, spacing, time_step
from kinnsci.physics.navier_stokes import Spectral2d


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
    n_fields = 1  # lets kinnsci check memory and disk before simulating

    def check_parameters(self, resolution: int, params: dict) -> None:
        require_positive(params, ("eps", "dt_save", "dt", "amplitude"), "Allen-Cahn")
        require(params["n_times"] >= 2, "n_times", params["n_times"], ">= 2")

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


class AllenCahnEquation(Equation):
    """r = (u_{n+1} − u_n)/Δt − (ε² Δū + ū − ū³) between saved steps, ū their mean;
    spectral Laplacian (the grid is periodic). ε and the spacings come from the file."""

    name = "allen_cahn"  # the generator's name: get_equation finds it from the data
    variables = ("u",)
    steady = False

    def parameters(self, ds):
        eps = read_parameters(ds, self.name, ("eps",))["eps"]
        return {"eps": float(eps), "hx": spacing(ds, "x"), "hy": spacing(ds, "y"),
                "dt": time_step(ds)}

    def residual_tensor(self, fields, params):
        u = fields["u"]  # (batch, time, y, x)
        ops = Spectral2d(*u.shape[-2:], params["hy"], params["hx"])
        mid = 0.5 * (u[:, 1:] + u[:, :-1])
        rhs = params["eps"] ** 2 * ops.laplacian(mid) + mid - mid**3
        return {"residual": (u[:, 1:] - u[:, :-1]) / params["dt"] - rhs}


register_generator(AllenCahn)
