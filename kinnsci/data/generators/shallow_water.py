"""2-D shallow-water equations, radial dam break (the PDEBench setup), finite volumes.

    ∂h/∂t + ∂(hu)/∂x + ∂(hv)/∂y = 0
    ∂(hu)/∂t + ∂(hu² + gh²/2)/∂x + ∂(huv)/∂y = 0
    ∂(hv)/∂t + ∂(huv)/∂x + ∂(hv² + gh²/2)/∂y = 0

Flat bottom. MUSCL reconstruction with the minmod limiter, Rusanov (local Lax–Friedrichs)
fluxes and the two-stage SSP Runge–Kutta method, step size from the CFL condition. The
scheme is in flux form, so mass changes only through the boundary: none with reflective
walls or periodic boundaries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from kinnsci.data.cf import cf_dataset
from kinnsci.data.generators.base import Generator, require
from kinnsci.errors import ConfigError

if TYPE_CHECKING:
    import xarray as xr

BOUNDARIES = ("reflective", "periodic")


def _minmod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(a * b > 0, np.sign(a) * np.minimum(np.abs(a), np.abs(b)), 0.0)


def _pad(q: np.ndarray, axis: int, boundary: str) -> np.ndarray:
    """Two ghost layers along ``axis`` of q (batch, 3, ny, nx); walls mirror the state and
    negate the momentum normal to them."""
    width = [(0, 0)] * q.ndim
    width[axis] = (2, 2)
    if boundary == "periodic":
        return np.pad(q, width, mode="wrap")
    padded = np.pad(q, width, mode="symmetric")
    normal = 1 if axis == q.ndim - 1 else 2  # hu is normal to x-walls, hv to y-walls
    lo = [slice(None)] * q.ndim
    hi = [slice(None)] * q.ndim
    lo[1] = hi[1] = normal
    lo[axis], hi[axis] = slice(0, 2), slice(-2, None)
    padded[tuple(lo)] *= -1
    padded[tuple(hi)] *= -1
    return padded


def _flux(q: np.ndarray, g: float, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Physical flux along x (axis=-1) or y (axis=-2) and the fastest wave speed."""
    h, hu, hv = q[:, 0], q[:, 1], q[:, 2]
    u, v = hu / h, hv / h
    if axis == -1:
        f = np.stack([hu, hu * u + 0.5 * g * h**2, hu * v], axis=1)
        speed = np.abs(u) + np.sqrt(g * h)
    else:
        f = np.stack([hv, hv * u, hv * v + 0.5 * g * h**2], axis=1)
        speed = np.abs(v) + np.sqrt(g * h)
    return f, speed


def _divergence(q: np.ndarray, g: float, dx: float, boundary: str) -> np.ndarray:
    """−(∂F/∂x + ∂G/∂y) by MUSCL-minmod + Rusanov, shape of q (batch, 3, ny, nx)."""
    out = np.zeros_like(q)
    for axis, spacing in ((-1, dx), (-2, dx)):
        p = _pad(q, q.ndim + axis, boundary)
        n = p.shape[axis]

        def cells(lo: int, hi: int, arr: np.ndarray = p, ax: int = axis) -> np.ndarray:
            return np.take(arr, np.arange(lo, arr.shape[ax] + hi), axis=ax)

        centre = cells(1, -1)  # cells 1 .. n-2 of the padded row
        slope = _minmod(centre - cells(0, -2), cells(2, 0) - centre)
        left = centre + 0.5 * slope  # value at the right face of each cell
        right = centre - 0.5 * slope  # value at the left face of each cell
        ql = np.take(left, np.arange(0, n - 3), axis=axis)  # faces between cells i, i+1
        qr = np.take(right, np.arange(1, n - 2), axis=axis)
        fl, sl = _flux(ql, g, axis)
        fr, sr = _flux(qr, g, axis)
        speed = np.maximum(sl, sr)[:, None]
        face = 0.5 * (fl + fr) - 0.5 * speed * (qr - ql)  # faces -1/2 .. n_cells-1/2
        m = face.shape[axis]
        out -= (np.take(face, np.arange(1, m), axis=axis)
                - np.take(face, np.arange(0, m - 1), axis=axis)) / spacing
    return out


def solve_shallow_water(
    q0: np.ndarray, *, dx: float, g: float, save_times: np.ndarray, cfl: float = 0.4,
    boundary: str = "reflective", progress: bool = False,
) -> np.ndarray:
    """Advance conserved variables q = (h, hu, hv) and return snapshots at ``save_times``.

    Args:
        q0: (batch, 3, ny, nx) initial state, h > 0.
        dx: cell size (square cells).
        g: gravitational acceleration.
        save_times: increasing times >= 0.

    Returns:
        (batch, len(save_times), 3, ny, nx).

    Raises:
        ConfigError: an unknown ``boundary``.
    """
    if boundary not in BOUNDARIES:
        raise ConfigError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
    q = q0.astype(np.float64).copy()
    out = np.empty((q.shape[0], len(save_times)) + q.shape[1:])
    t = 0.0
    for j, t_save in enumerate(tqdm(save_times, desc="shallow_water",
                                    disable=None if progress else True)):
        while t < t_save - 1e-12:
            h = q[:, 0]
            speed = np.max(np.sqrt(q[:, 1] ** 2 + q[:, 2] ** 2) / h + np.sqrt(g * h))
            dt = min(cfl * dx / speed, t_save - t)
            q1 = q + dt * _divergence(q, g, dx, boundary)
            q = 0.5 * (q + q1 + dt * _divergence(q1, g, dx, boundary))
            t += dt
        out[:, j] = q
    return out


class ShallowWater(Generator):
    """Radial dam break: water of depth ``h_in`` inside a random-radius disc, ``h_out``
    outside, at rest, on [-2.5, 2.5]² (PDEBench 2D SWE: g = 1, radius in [0.3, 0.7])."""

    name = "shallow_water"
    n_fields = 3
    disk_fraction = 0.33  # measured: file size / float64 fields
    title = "2-D shallow-water equations, radial dam break, finite volume"
    steady = False

    def check_parameters(self, resolution: int, params: dict) -> None:
        for name, what in (("g", "gravity"), ("h_in", "a depth"), ("h_out", "a depth"),
                           ("t_end", "a duration"), ("domain_half_width", "a length")):
            require(params[name] > 0, name, params[name], f"> 0 ({what})")
        r_lo, r_hi = params["radius_min"], params["radius_max"]
        require(0 < r_lo <= r_hi, "radius_min", r_lo, f"> 0 and <= radius_max = {r_hi}")
        require(r_hi < params["domain_half_width"], "radius_max", r_hi,
                f"< domain_half_width = {params['domain_half_width']} (inside the domain)")
        require(params["n_times"] >= 2, "n_times", params["n_times"],
                ">= 2 (snapshots from t = 0 to t_end)")
        # MUSCL + Rusanov fluxes in both directions at once, SSP-RK2 in time: CFL <= 1/2.
        require(0 < params["cfl"] <= 0.5, "cfl", params["cfl"], "in (0, 0.5] for stability")
        require(params["boundary"] in BOUNDARIES, "boundary", params["boundary"],
                f"one of {BOUNDARIES}")

    def simulate(self, n_samples, resolution, rng, progress, *, g: float = 1.0,
                 h_in: float = 2.0, h_out: float = 1.0, radius_min: float = 0.3,
                 radius_max: float = 0.7, t_end: float = 1.0, n_times: int = 21,
                 cfl: float = 0.4, boundary: str = "reflective",
                 domain_half_width: float = 2.5) -> xr.Dataset:
        dx = 2 * domain_half_width / resolution
        centres = -domain_half_width + dx * (np.arange(resolution) + 0.5)
        xx, yy = np.meshgrid(centres, centres, indexing="xy")
        radius = rng.uniform(radius_min, radius_max, size=n_samples)
        h0 = np.where(np.hypot(xx, yy)[None] < radius[:, None, None], h_in, h_out)
        q0 = np.stack([h0, np.zeros_like(h0), np.zeros_like(h0)], axis=1)
        times = np.linspace(0.0, t_end, n_times)
        q = solve_shallow_water(q0, dx=dx, g=g, save_times=times, cfl=cfl,
                                boundary=boundary, progress=progress)
        h = q[:, :, 0]
        dims = ("sample", "time", "y", "x")
        fields = {
            "h": (dims, h, "water depth", "m"),
            "u": (dims, q[:, :, 1] / h, "x velocity", "m s-1"),
            "v": (dims, q[:, :, 2] / h, "y velocity", "m s-1"),
        }
        return cf_dataset(fields, x=centres, y=centres, time=times, title=self.title,
                          generator=self.name)
