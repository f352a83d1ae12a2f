"""2-D incompressible Navier–Stokes in vorticity form on the periodic unit torus.

    ∂ω/∂t + u·∇ω = ν Δω + f,    ∇·u = 0,    u = (∂ψ/∂y, −∂ψ/∂x),    −Δψ = ω

Pseudo-spectral in space with the 2/3 dealiasing rule; in time, Crank–Nicolson for the
viscous term and second-order Adams–Bashforth for advection and forcing (CNAB2, the
first step is IMEX Euler). All samples advance together as one batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from kinnsci.data.cf import cf_dataset
from kinnsci.data.generators.base import Generator, require
from kinnsci.data.grf import gaussian_random_field
from kinnsci.errors import ConfigError

if TYPE_CHECKING:
    import xarray as xr


def periodic_grid(resolution: int) -> np.ndarray:
    """Cell-start points of the periodic unit interval, shape (resolution,)."""
    return np.arange(resolution) / resolution


def li_forcing(resolution: int) -> np.ndarray:
    """The FNO benchmark forcing 0.1 (sin 2π(x+y) + cos 2π(x+y)), shape (s, s) as (y, x)."""
    x = periodic_grid(resolution)
    xx, yy = np.meshgrid(x, x, indexing="xy")
    return 0.1 * (np.sin(2 * np.pi * (xx + yy)) + np.cos(2 * np.pi * (xx + yy)))


def solve_vorticity(
    w0: np.ndarray,
    *,
    nu: float,
    forcing: np.ndarray | None,
    save_times: np.ndarray,
    dt: float,
    progress: bool = False,
) -> np.ndarray:
    """Advance vorticity fields and return snapshots at ``save_times``.

    Args:
        w0: (batch, s, s) initial vorticity on the periodic grid, axes (y, x).
        nu: kinematic viscosity.
        forcing: (s, s) time-independent forcing, or None.
        save_times: increasing times >= 0 at which to store ω; each must be a multiple
            of ``dt`` (to rounding).
        dt: time step.

    Returns:
        (batch, len(save_times), s, s) vorticity.

    Raises:
        ConfigError: ``save_times`` are not multiples of ``dt``.
    """
    s = w0.shape[-1]
    ky = 2 * np.pi * np.fft.fftfreq(s, d=1.0 / s)[:, None]
    kx = 2 * np.pi * np.fft.rfftfreq(s, d=1.0 / s)[None, :]
    k2 = kx**2 + ky**2
    inv_k2 = np.where(k2 > 0, 1.0 / np.where(k2 > 0, k2, 1.0), 0.0)
    # 2/3 rule: drop wavenumbers above two thirds of the Nyquist number.
    kmax = s / 3.0
    keep = (np.abs(np.fft.fftfreq(s, d=1.0 / s))[:, None] < kmax) & (
        np.fft.rfftfreq(s, d=1.0 / s)[None, :] < kmax)
    f_hat = np.fft.rfft2(forcing) if forcing is not None else 0.0

    def explicit_terms(w_hat: np.ndarray) -> np.ndarray:
        psi_hat = w_hat * inv_k2
        u = np.fft.irfft2(1j * ky * psi_hat, s=(s, s))
        v = np.fft.irfft2(-1j * kx * psi_hat, s=(s, s))
        wx = np.fft.irfft2(1j * kx * w_hat, s=(s, s))
        wy = np.fft.irfft2(1j * ky * w_hat, s=(s, s))
        return -np.fft.rfft2(u * wx + v * wy) * keep + f_hat

    n_steps = np.rint(np.asarray(save_times) / dt).astype(int)
    if np.any(np.abs(n_steps * dt - save_times) > 1e-9 * max(1.0, float(np.max(save_times)))):
        raise ConfigError(f"save_times must be multiples of dt={dt}, got {save_times}")
    w_hat = np.fft.rfft2(w0)
    out = np.empty((w0.shape[0], len(n_steps)) + w0.shape[-2:])
    lhs = 1.0 + 0.5 * dt * nu * k2
    rhs = 1.0 - 0.5 * dt * nu * k2
    previous = None
    step = 0
    for j, target in enumerate(tqdm(n_steps, desc="navier_stokes",
                                    disable=None if progress else True)):
        while step < target:
            current = explicit_terms(w_hat)
            ab = current if previous is None else 1.5 * current - 0.5 * previous
            w_hat = (rhs * w_hat + dt * ab) / lhs
            previous = current
            step += 1
        out[:, j] = np.fft.irfft2(w_hat, s=(s, s))
    return out


class NavierStokes(Generator):
    """Vorticity on the torus from a Gaussian random field (α = 2.5, τ = 7), FNO setup."""

    name = "navier_stokes"
    n_fields = 1
    disk_fraction = 0.87  # measured: file size / float64 fields
    title = "2-D incompressible Navier-Stokes, vorticity form, periodic unit torus"
    steady = False

    def check_parameters(self, resolution: int, params: dict) -> None:
        require(params["nu"] > 0, "nu", params["nu"], "> 0 (a viscosity)")
        require(params["n_times"] >= 1, "n_times", params["n_times"], ">= 1 (snapshots)")
        require(params["dt_save"] > 0, "dt_save", params["dt_save"],
                "> 0 (time between snapshots)")
        require(0 < params["dt"] <= params["dt_save"], "dt", params["dt"],
                f"> 0 and <= dt_save = {params['dt_save']}")
        ratio = params["dt_save"] / params["dt"]
        require(abs(ratio - round(ratio)) < 1e-9 * ratio, "dt", params["dt"],
                f"a divisor of dt_save = {params['dt_save']} (snapshots fall on steps)")

    def simulate(self, n_samples, resolution, rng, progress, *, nu: float = 1e-3,
                 n_times: int = 20, dt_save: float = 1.0, dt: float = 1e-3,
                 forced: bool = True) -> xr.Dataset:
        w0 = gaussian_random_field(rng, n_samples, resolution, alpha=2.5, tau=7.0)
        times = dt_save * np.arange(n_times)
        w = solve_vorticity(w0, nu=nu, forcing=li_forcing(resolution) if forced else None,
                            save_times=times, dt=dt, progress=progress)
        grid = periodic_grid(resolution)
        fields = {"w": (("sample", "time", "y", "x"), w, "vorticity", "s-1")}
        return cf_dataset(fields, x=grid, y=grid, time=times, title=self.title,
                          generator=self.name)
