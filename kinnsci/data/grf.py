"""Gaussian random fields on the unit square, the random inputs of every generator."""

from __future__ import annotations

import numpy as np


def gaussian_random_field(
    rng: np.random.Generator,
    n_samples: int,
    resolution: int,
    *,
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float | None = None,
) -> np.ndarray:
    """Sample periodic Gaussian random fields with covariance ``σ² (−Δ + τ²)^(−α)``.

    The same prior as the FNO benchmarks (Li et al. 2021): Darcy uses α = 2, τ = 3;
    Navier–Stokes initial vorticity α = 2.5, τ = 7. Sampled spectrally, so a field at a
    higher resolution has the same statistics on the shared modes.

    Returns:
        ``(n_samples, resolution, resolution)`` float64, zero mean.
    """
    if sigma is None:
        sigma = tau ** (0.5 * (2 * alpha - 2))
    k = np.fft.fftfreq(resolution, d=1.0 / resolution)
    kx, ky = np.meshgrid(k, k, indexing="xy")
    spectrum = sigma * ((4 * np.pi**2) * (kx**2 + ky**2) + tau**2) ** (-alpha / 2)
    spectrum[0, 0] = 0.0  # zero-mean field
    noise = rng.standard_normal((n_samples, resolution, resolution, 2))
    coeff = (noise[..., 0] + 1j * noise[..., 1]) * spectrum * resolution**2
    return np.fft.ifft2(coeff, axes=(-2, -1)).real
