"""2-D shallow-water equations, flat bottom (``kinnsci generate shallow_water``):

    ∂h/∂t + ∂(hu)/∂x + ∂(hv)/∂y = 0
    ∂(hu)/∂t + ∂(hu² + gh²/2)/∂x + ∂(huv)/∂y = 0
    ∂(hv)/∂t + ∂(huv)/∂x + ∂(hv² + gh²/2)/∂y = 0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from kinnsci.errors import DataError
from kinnsci.physics.equation import Equation, read_parameters, spacing, time_step

if TYPE_CHECKING:
    import xarray as xr

BOUNDARIES = ("reflective", "periodic")


def _pad(q: Tensor, dim: int, boundary: str) -> Tensor:
    """Two ghost layers on each side of ``dim`` of q (..., 3, ny, nx), as the generator
    pads: periodic wraps; walls mirror the state and negate the momentum normal to them
    (hu at x-walls, hv at y-walls)."""
    n = q.shape[dim]
    lo, hi = q.narrow(dim, 0, 2), q.narrow(dim, n - 2, 2)
    if boundary == "periodic":
        return torch.cat([hi, q, lo], dim)
    sign = torch.ones(3, 1, 1, dtype=q.dtype, device=q.device)
    sign[1 if dim == q.ndim - 1 else 2] = -1
    return torch.cat([lo.flip(dim) * sign, q, hi.flip(dim) * sign], dim)


def _minmod(a: Tensor, b: Tensor) -> Tensor:
    return torch.where(a * b > 0, torch.sign(a) * torch.minimum(a.abs(), b.abs()),
                       torch.zeros_like(a))


def _flux(q: Tensor, g: float, along_x: bool) -> tuple[Tensor, Tensor]:
    h, hu, hv = q.unbind(-3)
    u, v = hu / h, hv / h
    if along_x:
        return (torch.stack([hu, hu * u + 0.5 * g * h**2, hu * v], -3),
                u.abs() + torch.sqrt(g * h))
    return (torch.stack([hv, hv * u, hv * v + 0.5 * g * h**2], -3),
            v.abs() + torch.sqrt(g * h))


def flux_divergence(q: Tensor, g: float, hx: float, hy: float, boundary: str) -> Tensor:
    """∂F(q)/∂x + ∂G(q)/∂y with the generator's own spatial scheme (MUSCL reconstruction
    with the minmod limiter, Rusanov fluxes, its boundary), differentiable. q = (h, hu,
    hv) on axis −3 -> same shape. Equals ``-kinnsci.data.generators.shallow_water.
    _divergence`` to rounding (tested)."""
    out = torch.zeros_like(q)
    for dim, spacing_ in ((q.ndim - 1, hx), (q.ndim - 2, hy)):
        p = _pad(q, dim, boundary)
        n = p.shape[dim]
        centre = p.narrow(dim, 1, n - 2)
        slope = _minmod(centre - p.narrow(dim, 0, n - 2), p.narrow(dim, 2, n - 2) - centre)
        left, right = centre + 0.5 * slope, centre - 0.5 * slope
        ql, qr = left.narrow(dim, 0, n - 3), right.narrow(dim, 1, n - 3)
        fl, sl = _flux(ql, g, dim == q.ndim - 1)
        fr, sr = _flux(qr, g, dim == q.ndim - 1)
        speed = torch.maximum(sl, sr).unsqueeze(-3)
        face = 0.5 * (fl + fr) - 0.5 * speed * (qr - ql)
        m = face.shape[dim]
        out = out + (face.narrow(dim, 1, m - 1) - face.narrow(dim, 0, m - 1)) / spacing_
    return out


class ShallowWater(Equation):
    """Residuals of mass and both momenta between consecutive saved steps: trapezoid in
    time, the generator's finite-volume fluxes in space (:func:`flux_divergence`):
    r = (q_{n+1} − q_n)/Δt + ½ (∇·F(q_n) + ∇·F(q_{n+1})). On the generator's data it
    measures the saved step's time-discretisation error, small once the saved step is
    near the solver's CFL step (``n_times`` large enough: see the docs)."""

    name = "shallow_water"
    variables = ("h", "u", "v")
    components = ("mass", "momentum_x", "momentum_y")
    steady = False

    def parameters(self, ds: xr.Dataset) -> dict[str, float]:
        p = read_parameters(ds, self.name, ("g", "boundary"),
                            defaults={"boundary": "reflective"})
        if p["boundary"] not in BOUNDARIES:
            raise DataError(f"param_boundary must be one of {BOUNDARIES}, the file says "
                            f"{p['boundary']!r}")
        return {"g": float(p["g"]), "boundary": str(p["boundary"]),
                "hx": spacing(ds, "x"), "hy": spacing(ds, "y"), "dt": time_step(ds)}

    def residual_tensor(self, fields, params):
        h, u, v = fields["h"], fields["u"], fields["v"]
        q = torch.stack([h, h * u, h * v], dim=-3)  # (batch, time, 3, y, x)
        div = flux_divergence(q, params["g"], params["hx"], params["hy"], params["boundary"])
        r = (q[:, 1:] - q[:, :-1]) / params["dt"] + 0.5 * (div[:, 1:] + div[:, :-1])
        return dict(zip(self.components, r.unbind(-3), strict=True))
