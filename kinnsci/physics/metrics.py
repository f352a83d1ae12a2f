"""Physics-aware error metrics of predicted fields (PDEBench's, in kinnsci's form):
errors by Fourier band, of the conserved quantity and on the boundary.

All take ``pred`` and ``true`` of shape (batch, channels, ny, nx) in physical units and
return the batch mean (``reduction="none"``: per sample).

* ``frmse_low`` / ``frmse_mid`` / ``frmse_high``: the RMS of the error's part in the
  radial wavenumber bands |k| <= 4, 4 < |k| <= 12 and |k| > 12 (k in cycles per domain,
  PDEBench's bands). The three bands partition the spectrum, so by Parseval
  low² + mid² + high² = RMSE².
* ``crmse``: the error of the conserved quantity, the spatial mean of each channel
  (mass for shallow water's depth; mean vorticity for periodic Navier–Stokes).
* ``brmse``: the RMSE over the boundary points (the outermost rows and columns).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from kinnsci.errors import ConfigError

BANDS = {"low": (-1.0, 4.0), "mid": (4.0, 12.0), "high": (12.0, float("inf"))}
"""Radial wavenumber bands (lower bound exclusive, upper inclusive), PDEBench's."""


def _check(pred: Tensor, true: Tensor) -> None:
    if pred.shape != true.shape or pred.ndim != 4:
        raise ConfigError(f"pred and true must both be (batch, channels, ny, nx), got "
                          f"{tuple(pred.shape)} and {tuple(true.shape)}")


def reduce_batch(values: Tensor, reduction: str) -> Tensor:
    """Per-sample ``values`` (batch,) as they are (``"none"``) or their mean (``"mean"``);
    the reduction of every per-sample metric (``kinnsci.train.metrics`` too).

    Raises:
        ConfigError: another ``reduction``.
    """
    if reduction == "none":
        return values
    if reduction != "mean":
        raise ConfigError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    return values.mean()


def radial_wavenumber(ny: int, nx: int, device=None) -> Tensor:
    """|k| of each coefficient of ``torch.fft.fft2`` on an (ny, nx) grid, in cycles per
    domain: (ny, nx)."""
    ky = torch.fft.fftfreq(ny, d=1.0 / ny, device=device)
    kx = torch.fft.fftfreq(nx, d=1.0 / nx, device=device)
    return torch.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)


def band_rmse(pred: Tensor, true: Tensor, band: str, reduction: str = "mean") -> Tensor:
    """RMS of the error's Fourier components with |k| in ``band`` (see :data:`BANDS`),
    averaged over channels in the square: sqrt(Σ_band |Ê_k|² / (ny nx)²) per sample."""
    _check(pred, true)
    if band not in BANDS:
        raise ConfigError(f"band must be one of {', '.join(BANDS)}, got {band!r}")
    err = (pred - true).double()
    ny, nx = err.shape[-2:]
    power = torch.fft.fft2(err).abs() ** 2 / (ny * nx) ** 2
    lo, hi = BANDS[band]
    k = radial_wavenumber(ny, nx, err.device)
    inside = (k > lo) & (k <= hi)
    per_channel = (power * inside).sum(dim=(-2, -1))  # (batch, channels)
    return reduce_batch(per_channel.mean(dim=1).sqrt().to(pred.dtype), reduction)


def frmse_low(pred: Tensor, true: Tensor, reduction: str = "mean") -> Tensor:
    return band_rmse(pred, true, "low", reduction)


def frmse_mid(pred: Tensor, true: Tensor, reduction: str = "mean") -> Tensor:
    return band_rmse(pred, true, "mid", reduction)


def frmse_high(pred: Tensor, true: Tensor, reduction: str = "mean") -> Tensor:
    return band_rmse(pred, true, "high", reduction)


def crmse(pred: Tensor, true: Tensor, reduction: str = "mean") -> Tensor:
    """RMS over channels of the error of each channel's spatial mean, per sample."""
    _check(pred, true)
    diff = pred.mean(dim=(-2, -1)) - true.mean(dim=(-2, -1))  # (batch, channels)
    return reduce_batch(diff.pow(2).mean(dim=1).sqrt(), reduction)


def boundary_mask(ny: int, nx: int, device=None) -> Tensor:
    """True on the outermost rows and columns of an (ny, nx) grid."""
    mask = torch.zeros(ny, nx, dtype=torch.bool, device=device)
    mask[0, :] = mask[-1, :] = mask[:, 0] = mask[:, -1] = True
    return mask


def brmse(pred: Tensor, true: Tensor, reduction: str = "mean") -> Tensor:
    """RMSE over the boundary points (all channels), per sample."""
    _check(pred, true)
    mask = boundary_mask(*pred.shape[-2:], device=pred.device)
    err = (pred - true)[..., mask]  # (batch, channels, n_boundary)
    return reduce_batch(err.pow(2).mean(dim=(1, 2)).sqrt(), reduction)


PHYSICS_METRICS = {"frmse_low": frmse_low, "frmse_mid": frmse_mid, "frmse_high": frmse_high,
                   "crmse": crmse, "brmse": brmse}
"""Per-sample physics-aware metrics, by name (averaged over samples by ``evaluate``)."""


def energy_spectrum(field: Tensor) -> tuple[Tensor, Tensor]:
    """Radially averaged energy spectrum of fields (..., ny, nx): (k, E(k)) with integer
    shells k = 0 .. min(ny, nx) // 2 and E(k) the mean over leading axes of the summed
    |f̂|² / (ny nx)² in the shell (so Σ_k E(k) is the mean square over the shells)."""
    ny, nx = field.shape[-2:]
    power = torch.fft.fft2(field.double()).abs() ** 2 / (ny * nx) ** 2
    power = power.reshape(-1, ny, nx).mean(0)
    shell = torch.round(radial_wavenumber(ny, nx, field.device)).long()
    n = min(ny, nx) // 2 + 1
    keep = shell < n
    spectrum = torch.zeros(n, dtype=torch.float64, device=field.device)
    spectrum.index_add_(0, shell[keep], power[keep])
    return torch.arange(n), spectrum


def conservation_drift(pred: Tensor, true: Tensor) -> dict[str, np.ndarray]:
    """Per rollout step, from (B, steps, V, H, W): the error of each variable's spatial
    mean (the conserved quantity: mass for a depth, mean vorticity), RMS over the batch,
    and the energy ratio mean(pred²) / mean(true²) averaged over the batch and variables.

    Returns ``{"conserved_error": (steps, V), "energy_ratio": (steps,)}``.
    """
    mean_err = pred.mean(dim=(-2, -1)) - true.mean(dim=(-2, -1))  # (B, steps, V)
    energy = pred.pow(2).mean(dim=(-2, -1)) / true.pow(2).mean(dim=(-2, -1)).clamp_min(1e-30)
    return {"conserved_error": mean_err.pow(2).mean(0).sqrt().numpy(),
            "energy_ratio": energy.mean(dim=(0, 2)).numpy()}


__all__ = ["BANDS", "PHYSICS_METRICS", "band_rmse", "boundary_mask", "brmse",
           "conservation_drift", "crmse", "energy_spectrum", "frmse_high", "frmse_low",
           "frmse_mid", "radial_wavenumber"]
