"""Darcy flow −∇·(a∇u) = f, u = 0 on the boundary of [0, 1]² (``kinnsci generate darcy``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

from kinnsci.physics.equation import Equation, read_parameters, spacing

if TYPE_CHECKING:
    import xarray as xr


def darcy_operator(a: Tensor, u: Tensor, hx: float, hy: float) -> Tensor:
    """−∇·(a∇u) at the interior nodes by the generator's five-point finite-volume stencil
    (face coefficients: arithmetic means of the two nodes), boundary values of ``u``
    included. a, u (..., ny, nx) -> (..., ny - 2, nx - 2)."""
    c = a[..., 1:-1, 1:-1]
    uc = u[..., 1:-1, 1:-1]
    east, west = 0.5 * (c + a[..., 1:-1, 2:]), 0.5 * (c + a[..., 1:-1, :-2])
    north, south = 0.5 * (c + a[..., 2:, 1:-1]), 0.5 * (c + a[..., :-2, 1:-1])
    flux_x = east * (uc - u[..., 1:-1, 2:]) + west * (uc - u[..., 1:-1, :-2])
    flux_y = north * (uc - u[..., 2:, 1:-1]) + south * (uc - u[..., :-2, 1:-1])
    return flux_x / hx**2 + flux_y / hy**2


def dirichlet_boundary(u: Tensor, hx: float, hy: float) -> Tensor:
    """The Dirichlet condition u = 0 as a residual: u on the boundary nodes, divided by
    h² (the boundary rows of the stencil's system, in the interior residual's units).
    u (..., ny, nx) -> (..., 2 nx + 2 ny - 4)."""
    from kinnsci.physics.metrics import boundary_mask

    return u[..., boundary_mask(*u.shape[-2:], device=u.device)] / (hx * hy)


class Darcy(Equation):
    """Residual r = −∇·(a∇u) − f at the interior nodes, the generator's own
    discretisation (so the generator's solutions have r at the level of its linear
    solve), f the file's ``param_forcing``; and ``boundary`` = u / h² on the boundary
    nodes (u = 0 there). Without the boundary condition the interior residual has a null
    space (u plus any a-harmonic field), which physics-only fine-tuning would drift in."""

    name = "darcy"
    variables = ("a", "u")
    components = ("residual", "boundary")

    def parameters(self, ds: xr.Dataset) -> dict[str, float]:
        forcing = read_parameters(ds, self.name, ("forcing",))["forcing"]
        return {"forcing": float(forcing), "hx": spacing(ds, "x"), "hy": spacing(ds, "y")}

    def residual_tensor(self, fields, params):
        u, hx, hy = fields["u"], params["hx"], params["hy"]
        r = darcy_operator(fields["a"], u, hx, hy)
        return {"residual": r - params["forcing"], "boundary": dirichlet_boundary(u, hx, hy)}

    def interior(self, ds):
        return {"y": slice(1, -1), "x": slice(1, -1)}
