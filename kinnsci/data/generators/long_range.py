"""Causal long-range problems on [0, 1]²: every point depends on everything upstream of it
along its row, the structure a row scan represents exactly and a local or band-limited
operator only approximately (KINN's "does the Kirchhoff state help?" test bed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kinnsci.data.cf import cf_dataset
from kinnsci.data.generators.base import Generator, require, require_positive
from kinnsci.data.generators.darcy import node_grid
from kinnsci.data.grf import gaussian_random_field

if TYPE_CHECKING:
    import xarray as xr

MODES = ("mean", "integral", "decay")


def row_response(f: np.ndarray, mode: str = "mean", memory: float = 0.25) -> np.ndarray:
    """The causal response u of f along the last axis (x in [0, 1], nodes included):

    * ``mean``: the running mean u(x) = (1/x) ∫_0^x f, u(0) = f(0);
    * ``integral``: the running integral u(x) = ∫_0^x f;
    * ``decay``: an RC node driven by f, u' = (f - u) / memory, u(0) = 0, i.e.
      u(x) = (1/memory) ∫_0^x exp(-(x - s)/memory) f(s) ds.

    Integrals by the trapezoidal rule on the nodes (second order); ``decay`` by the exact
    update of a piecewise-linear input (exact for f linear between nodes).

    Args:
        f: (..., s) samples at s nodes of [0, 1].

    Returns:
        u: (..., s).
    """
    s = f.shape[-1]
    h = 1.0 / (s - 1)
    if mode in ("mean", "integral"):
        steps = 0.5 * h * (f[..., 1:] + f[..., :-1])
        integral = np.concatenate([np.zeros_like(f[..., :1]), np.cumsum(steps, -1)], -1)
        if mode == "integral":
            return integral
        x = node_grid(s)
        out = np.empty_like(integral)
        out[..., 0] = f[..., 0]
        out[..., 1:] = integral[..., 1:] / x[1:]
        return out
    # decay: over one cell, with f linear from f0 to f1 and r = h / memory,
    # u1 = e^-r u0 + (1 - e^-r) f0 + (1 - (1 - e^-r)/r) (f1 - f0)
    r = h / memory
    a = np.exp(-r)
    slope = 1 - (1 - a) / r
    u = np.empty_like(f, dtype=np.float64)
    u[..., 0] = 0.0
    for j in range(1, s):
        f0, f1 = f[..., j - 1], f[..., j]
        u[..., j] = a * u[..., j - 1] + (1 - a) * f0 + slope * (f1 - f0)
    return u


class LongRange(Generator):
    """Causal long-range responses of a Gaussian random field along rows (see
    :func:`row_response`); input ``f``, target ``u``."""

    name = "long_range"
    n_fields = 2
    disk_fraction = 1.0
    title = "Causal long-range row responses u of a Gaussian random field f"

    def check_parameters(self, resolution: int, params: dict) -> None:
        require_positive(params, ("alpha", "tau", "memory"), "field shape or memory")
        require(params["mode"] in MODES, "mode", params["mode"], f"one of {MODES}")

    def simulate(self, n_samples, resolution, rng, progress, *, mode: str = "mean",
                 memory: float = 0.25, alpha: float = 1.5, tau: float = 5.0) -> xr.Dataset:
        f = gaussian_random_field(rng, n_samples, resolution, alpha=alpha, tau=tau)
        f = f / f.std()
        u = row_response(f, mode, memory)
        grid = node_grid(resolution)
        fields = {
            "f": (("sample", "y", "x"), f, "random forcing field f(x, y)", "1"),
            "u": (("sample", "y", "x"), u, f"causal row response u(x, y) ({mode})", "1"),
        }
        return cf_dataset(fields, x=grid, y=grid, title=self.title, generator=self.name)
