"""Poisson problem −Δu = f, u = 0 on the boundary of [0, 1]² (``kinnsci generate poisson``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

from kinnsci.physics.darcy import dirichlet_boundary
from kinnsci.physics.equation import Equation, spacing

if TYPE_CHECKING:
    import xarray as xr


def five_point_laplacian(u: Tensor, hx: float, hy: float) -> Tensor:
    """Δu at the interior nodes by the five-point stencil, boundary values included.
    u (..., ny, nx) -> (..., ny - 2, nx - 2)."""
    c = u[..., 1:-1, 1:-1]
    return ((u[..., 1:-1, 2:] - 2 * c + u[..., 1:-1, :-2]) / hx**2
            + (u[..., 2:, 1:-1] - 2 * c + u[..., :-2, 1:-1]) / hy**2)


class Poisson(Equation):
    """Residual r = −Δu − f at the interior nodes with the generator's five-point
    Laplacian (its DST solve makes r vanish to rounding), and ``boundary`` = u / h² on
    the boundary nodes (u = 0 there)."""

    name = "poisson"
    variables = ("f", "u")
    components = ("residual", "boundary")

    def parameters(self, ds: xr.Dataset) -> dict[str, float]:
        return {"hx": spacing(ds, "x"), "hy": spacing(ds, "y")}

    def residual_tensor(self, fields, params):
        u, hx, hy = fields["u"], params["hx"], params["hy"]
        lap = five_point_laplacian(u, hx, hy)
        return {"residual": -lap - fields["f"][..., 1:-1, 1:-1],
                "boundary": dirichlet_boundary(u, hx, hy)}

    def interior(self, ds):
        return {"y": slice(1, -1), "x": slice(1, -1)}
