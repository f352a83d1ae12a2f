"""2-D incompressible Navier–Stokes in vorticity form on the periodic unit torus
(``kinnsci generate navier_stokes``):

    ∂ω/∂t + u·∇ω − ν Δω − f = 0,    u = (∂ψ/∂y, −∂ψ/∂x),    −Δψ = ω
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from kinnsci.errors import DataError
from kinnsci.physics.equation import Equation, read_parameters, spacing, time_step

if TYPE_CHECKING:
    import xarray as xr


class Spectral2d:
    """Spectral derivatives of periodic fields (..., ny, nx) on a grid of spacing (hy, hx):
    neuraloperator's ``FourierDiff`` (whose first axis is our y) and the inverse
    Laplacian, which it does not provide."""

    def __init__(self, ny: int, nx: int, hy: float, hx: float) -> None:
        from neuralop.losses.differentiation import FourierDiff

        self.diff = FourierDiff(dim=2, L=(ny * hy, nx * hx))
        self.shape, self.lengths = (ny, nx), (ny * hy, nx * hx)

    def d_dx(self, f: Tensor) -> Tensor:
        return self.diff.dy(f)  # FourierDiff's second axis is our x (the last one)

    def d_dy(self, f: Tensor) -> Tensor:
        return self.diff.dx(f)

    def laplacian(self, f: Tensor) -> Tensor:
        return self.diff.laplacian(f)

    def dealias(self, f: Tensor) -> Tensor:
        """``f`` without the wavenumbers the 2/3 rule drops (the generator's rule for its
        nonlinear term: index magnitudes below a third of the grid size are kept)."""
        ny, nx = self.shape
        keep = ((torch.fft.fftfreq(ny, d=1 / ny).abs() < ny / 3)[:, None]
                & (torch.fft.rfftfreq(nx, d=1 / nx) < nx / 3)[None, :])
        return torch.fft.irfft2(torch.fft.rfft2(f) * keep.to(f.device), s=(ny, nx))

    def inverse_laplacian(self, f: Tensor) -> Tensor:
        """ψ with Δψ = f − mean(f) and mean(ψ) = 0."""
        ny, nx = self.shape
        ky = 2 * math.pi * torch.fft.fftfreq(ny, d=self.lengths[0] / ny, dtype=f.dtype)
        kx = 2 * math.pi * torch.fft.rfftfreq(nx, d=self.lengths[1] / nx, dtype=f.dtype)
        k2 = ky[:, None] ** 2 + kx[None, :] ** 2
        k2[0, 0] = 1.0
        f_hat = torch.fft.rfft2(f)
        psi_hat = -f_hat / k2.to(f.device)
        psi_hat[..., 0, 0] = 0.0
        return torch.fft.irfft2(psi_hat, s=(ny, nx))


class NavierStokes(Equation):
    """Residual between consecutive saved steps n, n + 1, at their midpoint ω̄:
    r = (ω_{n+1} − ω_n)/Δt + ū·∇ω̄ − ν Δω̄ − f, spectral in space with the generator's
    2/3 dealiasing of the advection. On the generator's data it is the time-discretisation
    error of the saved step, O(Δt²)."""

    name = "navier_stokes"
    variables = ("w",)
    steady = False

    def parameters(self, ds: xr.Dataset) -> dict[str, float]:
        p = read_parameters(ds, self.name, ("nu", "forced"), defaults={"forced": 1})
        hx, hy = spacing(ds, "x"), spacing(ds, "y")
        nx, ny = ds.sizes["x"], ds.sizes["y"]
        if not (math.isclose(nx * hx, 1.0, rel_tol=1e-6)
                and math.isclose(ny * hy, 1.0, rel_tol=1e-6)):
            raise DataError(f"the navier_stokes equation is set on the periodic unit torus; "
                            f"this grid spans {nx * hx:g} x {ny * hy:g}")
        return {"nu": float(p["nu"]), "forced": float(bool(p["forced"])), "hx": hx,
                "hy": hy, "dt": time_step(ds)}

    def residual_tensor(self, fields, params):
        w = fields["w"]
        ny, nx = w.shape[-2:]
        ops = Spectral2d(ny, nx, params["hy"], params["hx"])
        mid = 0.5 * (w[:, 1:] + w[:, :-1])
        psi = -ops.inverse_laplacian(mid)  # −Δψ = ω
        u, v = ops.d_dy(psi), -ops.d_dx(psi)
        advection = ops.dealias(u * ops.d_dx(mid) + v * ops.d_dy(mid))
        r = (w[:, 1:] - w[:, :-1]) / params["dt"] + advection - params["nu"] * ops.laplacian(mid)
        if params["forced"]:
            r = r - forcing(ny, nx, params["hy"], params["hx"]).to(r)
        return {"residual": r}


def forcing(ny: int, nx: int, hy: float, hx: float) -> Tensor:
    """The generator's forcing 0.1 (sin 2π(x+y) + cos 2π(x+y)) at the grid's nodes."""
    x, y = np.arange(nx) * hx, np.arange(ny) * hy
    phase = 2 * np.pi * (x[None, :] + y[:, None])
    return torch.as_tensor(0.1 * (np.sin(phase) + np.cos(phase)))
