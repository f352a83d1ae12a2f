"""2-D Poisson problem −Δu = f on [0, 1]², u = 0 on the boundary, solved with a DST."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.fft
from tqdm.auto import tqdm

from kinnsci.data.cf import cf_dataset
from kinnsci.data.generators.base import Generator, require, require_positive
from kinnsci.data.generators.darcy import node_grid
from kinnsci.data.grf import gaussian_random_field

if TYPE_CHECKING:
    import xarray as xr


def solve_poisson(f: np.ndarray) -> np.ndarray:
    """Solve the five-point discretisation of −Δu = f with u = 0 on the boundary.

    The DST-I diagonalises the Dirichlet five-point Laplacian exactly, so this is a direct
    solve in O(s² log s), second-order accurate in h = 1/(s-1).

    Args:
        f: (..., s, s) source at the grid nodes (boundary included; boundary values unused).

    Returns:
        u: (..., s, s) with zero boundary rows and columns.
    """
    s = f.shape[-1]
    n, h = s - 2, 1.0 / (s - 1)
    theta = np.pi * np.arange(1, n + 1) / (n + 1)
    lam = (2 - 2 * np.cos(theta)) / h**2
    eig = lam[:, None] + lam[None, :]
    coeff = scipy.fft.dstn(f[..., 1:-1, 1:-1], type=1, axes=(-2, -1))
    u = np.zeros_like(f, dtype=np.float64)
    u[..., 1:-1, 1:-1] = scipy.fft.idstn(coeff / eig, type=1, axes=(-2, -1))
    return u


class Poisson(Generator):
    """Poisson problem with a smooth Gaussian-random-field source."""

    name = "poisson"
    n_fields = 2
    disk_fraction = 0.81  # measured: file size / float64 fields
    title = "2-D Poisson problem -laplace(u) = f, Dirichlet 0, Gaussian random field f"

    def check_parameters(self, resolution: int, params: dict) -> None:
        require_positive(params, ("alpha", "tau"), "random-field shape")
        require(params["batch"] >= 1, "batch", params["batch"], ">= 1")

    def simulate(self, n_samples, resolution, rng, progress, *, alpha: float = 3.0,
                 tau: float = 3.0, batch: int = 64) -> xr.Dataset:
        f = gaussian_random_field(rng, n_samples, resolution, alpha=alpha, tau=tau)
        u = np.empty_like(f)
        for start in tqdm(range(0, n_samples, batch), desc="poisson",
                          disable=None if progress else True):
            u[start:start + batch] = solve_poisson(f[start:start + batch])
        grid = node_grid(resolution)
        fields = {
            "f": (("sample", "y", "x"), f, "source term f(x)", "1"),
            "u": (("sample", "y", "x"), u, "solution u(x)", "1"),
        }
        return cf_dataset(fields, x=grid, y=grid, title=self.title, generator=self.name)
