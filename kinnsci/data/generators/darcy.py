"""2-D Darcy flow −∇·(a∇u) = f on [0, 1]², u = 0 on the boundary (Li et al. 2021 setup)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from kinnsci.data.cf import cf_dataset
from kinnsci.data.generators.base import Generator, require_positive
from kinnsci.data.grf import gaussian_random_field

if TYPE_CHECKING:
    import scipy.sparse as sp
    import xarray as xr


def node_grid(resolution: int) -> np.ndarray:
    """Nodes of the uniform grid on [0, 1] including both boundaries, shape (resolution,)."""
    return np.linspace(0.0, 1.0, resolution)


def darcy_matrix(a: np.ndarray) -> sp.csr_matrix:
    """Five-point finite-volume operator of −∇·(a∇·) on the interior nodes, times h².

    Args:
        a: coefficient at the nodes, shape (s, s) including the boundary nodes; the face
            coefficients are arithmetic means of the two nodes they join.

    Returns:
        ``((s-2)², (s-2)²)`` sparse matrix acting on interior values in row-major order.
    """
    import scipy.sparse as sp  # imported on use: `kinnsci generate --help` stays fast

    s = a.shape[0]
    n = s - 2
    east = 0.5 * (a[1:-1, 1:-1] + a[1:-1, 2:])
    west = 0.5 * (a[1:-1, 1:-1] + a[1:-1, :-2])
    north = 0.5 * (a[1:-1, 1:-1] + a[2:, 1:-1])
    south = 0.5 * (a[1:-1, 1:-1] + a[:-2, 1:-1])
    idx = np.arange(n * n).reshape(n, n)
    rows = [idx.ravel()]
    cols = [idx.ravel()]
    vals = [(east + west + north + south).ravel()]
    # Neighbours on the boundary carry u = 0 and drop out of the system.
    for coef, di, dj in ((east, 0, 1), (west, 0, -1), (north, 1, 0), (south, -1, 0)):
        i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        ni, nj = i + di, j + dj
        inside = (ni >= 0) & (ni < n) & (nj >= 0) & (nj < n)
        rows.append(idx[inside])
        cols.append(idx[ni[inside], nj[inside]])
        vals.append(-coef[inside])
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n * n, n * n)
    )


def solve_darcy(a: np.ndarray, f: np.ndarray | float = 1.0) -> np.ndarray:
    """Solve −∇·(a∇u) = f with u = 0 on the boundary of [0, 1]².

    Args:
        a: (s, s) coefficient at the grid nodes (boundary included).
        f: (s, s) source at the nodes, or a constant.

    Returns:
        u: (s, s), second-order accurate in h = 1/(s-1) for smooth a and u.
    """
    import scipy.sparse.linalg as spla

    s = a.shape[0]
    h = 1.0 / (s - 1)
    rhs = np.broadcast_to(np.asarray(f, dtype=np.float64), (s, s))[1:-1, 1:-1] * h**2
    u = np.zeros((s, s))
    u[1:-1, 1:-1] = spla.spsolve(darcy_matrix(a).tocsc(), rhs.ravel()).reshape(s - 2, s - 2)
    return u


class Darcy(Generator):
    """Darcy flow with a thresholded Gaussian random field permeability (values 12 and 3)."""

    name = "darcy"
    n_fields = 2
    disk_fraction = 0.41  # measured: file size / float64 fields
    title = "2-D Darcy flow -div(a grad u) = f, Dirichlet 0, piecewise-constant a"

    def check_parameters(self, resolution: int, params: dict) -> None:
        require_positive(params, ("a_high", "a_low"), "a permeability")
        require_positive(params, ("alpha", "tau"), "random-field shape")

    def simulate(self, n_samples, resolution, rng, progress, *, a_high: float = 12.0,
                 a_low: float = 3.0, forcing: float = 1.0, alpha: float = 2.0,
                 tau: float = 3.0) -> xr.Dataset:
        field = gaussian_random_field(rng, n_samples, resolution, alpha=alpha, tau=tau)
        a = np.where(field >= 0, a_high, a_low)
        u = np.empty_like(a)
        for i in tqdm(range(n_samples), desc="darcy", disable=None if progress else True):
            u[i] = solve_darcy(a[i], forcing)
        grid = node_grid(resolution)
        fields = {
            "a": (("sample", "y", "x"), a, "permeability coefficient a(x)", "1"),
            "u": (("sample", "y", "x"), u, "pressure solution u(x)", "1"),
        }
        return cf_dataset(fields, x=grid, y=grid, title=self.title, generator=self.name)
