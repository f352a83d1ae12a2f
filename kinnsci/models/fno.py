"""Fourier neural operators: the FNO baseline and FKNO (FNO with a Kirchhoff mixer).

Layout follows Li et al.'s FNO2d: append (x, y) coordinates, lift pointwise to ``width``
channels, ``n_layers`` Fourier layers ``GELU(SpectralConv(v) + Local(v))`` (no GELU after
the last), project pointwise through ``projection`` hidden channels. Spectral convolutions
are neuraloperator's ``SpectralConv``; ``modes`` is Li et al.'s one-sided count (12 keeps
frequencies -12..11 along y and 0..11 along x), which neuraloperator calls
``n_modes = (2 * modes, 2 * modes - 1)``.

Complex spectral weights do not follow ``model.double()``; use
:func:`kinnsci.models.set_dtype` to change a model's precision.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from neuralop.layers.spectral_convolution import SpectralConv
from torch import Tensor, nn

from kinnsci.errors import ConfigError
from kinnsci.layers import KirchhoffMixer2d
from kinnsci.models.io import SaveLoadMixin


def grid_coordinates(x: Tensor) -> Tensor:
    """(batch, 2, H, W) coordinates (x, y) = (j/W, i/H) in [0, 1) for a (batch, c, H, W) field.

    The periodic convention of the spectral layers (and of neuraloperator's grid
    embedding): the points of an N-grid are every other point of a 2N-grid, so a model
    sees the same coordinates at the shared points when the resolution changes.
    """
    b, _, h, w = x.shape
    ys = torch.arange(h, dtype=x.dtype, device=x.device) / h
    xs = torch.arange(w, dtype=x.dtype, device=x.device) / w
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy]).expand(b, 2, h, w)


class FNO(SaveLoadMixin, nn.Module):
    """Fourier neural operator on 2-D fields.

    Args:
        in_channels: input fields (e.g. 10 past vorticity states).
        out_channels: predicted fields.
        width: latent channels; modes: one-sided Fourier modes kept per axis.
        n_layers: Fourier layers; projection: hidden width of the output MLP.
        append_grid: concatenate (x, y) coordinates to the input (2 extra channels).

    Shapes: ``forward(x (batch, in_channels, H, W)) -> (batch, out_channels, H, W)``; any
    H, W >= 2 * modes - 1 works (weights act on Fourier modes, not grid points).
    """

    name = "fno"  # registry name (kinnsci.models.MODELS)
    resolution_invariant = True  # spectral layers: trained on one grid, applies to others

    def __init__(
        self,
        in_channels: int = 10,
        out_channels: int = 1,
        width: int = 20,
        modes: int = 12,
        n_layers: int = 4,
        projection: int = 128,
        append_grid: bool = True,
    ) -> None:
        super().__init__()
        if min(in_channels, out_channels, width, modes, n_layers, projection) < 1:
            raise ConfigError(
                "in_channels, out_channels, width, modes, n_layers, projection must be >= 1"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.modes, self.append_grid = modes, append_grid
        lifted = in_channels + (2 if append_grid else 0)
        self.lifting = nn.Conv2d(lifted, width, 1)
        self.spectral = nn.ModuleList(
            SpectralConv(width, width, n_modes=(2 * modes, 2 * modes - 1)) for _ in range(n_layers)
        )
        self.local = nn.ModuleList(self.make_local(i, width) for i in range(n_layers))
        self.projection = nn.Sequential(
            nn.Conv2d(width, projection, 1), nn.GELU(), nn.Conv2d(projection, out_channels, 1)
        )

    def make_local(self, layer: int, width: int) -> nn.Module:
        """The pointwise path of Fourier layer ``layer`` (a 1x1 convolution here)."""
        return nn.Conv2d(width, width, 1)

    def check_input(self, x: Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ConfigError(
                f"{type(self).__name__} expects (batch, {self.in_channels}, H, W), got "
                f"{tuple(x.shape)}"
            )
        need = 2 * self.modes - 1  # -modes..modes-1 along y, 0..modes-1 of the rfft along x
        if x.shape[2] < need or x.shape[3] < need:
            raise ConfigError(
                f"modes={self.modes} needs grids of at least {need} x {need} points, got "
                f"{x.shape[2]} x {x.shape[3]}; use modes <= {(min(x.shape[2:]) + 1) // 2} or a "
                "finer grid"
            )

    def apply_local(self, layer: int, local: nn.Module, v: Tensor) -> Tensor:
        """The local (pointwise or Kirchhoff) operator of Fourier layer ``layer``."""
        return local(v)

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        if self.append_grid:
            x = torch.cat([x, grid_coordinates(x)], dim=1)
        v = self.lifting(x)
        last = len(self.spectral) - 1
        for i, (spectral, local) in enumerate(zip(self.spectral, self.local, strict=True)):
            v = spectral(v) + self.apply_local(i, local, v)
            if i < last:
                v = F.gelu(v)
        return self.projection(v)


class FKNO(FNO):
    """FNO whose first Fourier layer's local operator is a Kirchhoff mixer (KINN Fig. 2d).

    Layer 0 computes ``GELU(SpectralConv(v) + KirchhoffMixer2d(v))``, the mixer being a
    CKB of order ``ckb_order`` scanned along ``directions`` = 1, 2 or 4 orders (FKNO-1/2/4).
    ``ckb_kwargs`` go to :class:`kinnsci.layers.CKB` (``discretizer``, ``routing``, ...).

    ``reference_resolution`` (the training grid size, e.g. 32) makes the scan step size
    proportional to the grid spacing, so a model trained at 32x32 keeps its time constants
    in physical units at 64x64. Without it every grid step is one training step: on a finer
    grid the Kirchhoff memory covers a smaller physical distance.
    """

    name = "fkno"  # registry name (kinnsci.models.MODELS)

    def __init__(
        self,
        in_channels: int = 10,
        out_channels: int = 1,
        width: int = 20,
        modes: int = 12,
        n_layers: int = 4,
        projection: int = 128,
        append_grid: bool = True,
        directions: int = 1,
        ckb_order: int = 2,
        d_state: int = 16,
        discretizer: str = "zoh",
        routing: str = "series",
        ckb_kwargs: dict | None = None,
        reference_resolution: int | None = None,
    ) -> None:
        if reference_resolution is not None and reference_resolution < 1:
            raise ConfigError(f"reference_resolution must be a positive grid size or None, got "
                             f"{reference_resolution}")
        self.reference_resolution = reference_resolution
        self.directions, self.ckb_order, self.d_state = directions, ckb_order, d_state
        self.ckb_kwargs = dict(discretizer=discretizer, routing=routing, **(ckb_kwargs or {}))
        super().__init__(in_channels, out_channels, width, modes, n_layers, projection, append_grid)

    def apply_local(self, layer: int, local: nn.Module, v: Tensor) -> Tensor:
        if layer > 0 or self.reference_resolution is None:
            return local(v)
        # Scan steps in units of the training grid's spacing: on a grid twice as fine each
        # step is half as long, so the Kirchhoff time constants keep their physical extent.
        ref = self.reference_resolution
        return local(v, grid_spacing=(ref / v.shape[-2], ref / v.shape[-1]))

    def make_local(self, layer: int, width: int) -> nn.Module:
        if layer > 0:
            return super().make_local(layer, width)
        return KirchhoffMixer2d(
            width,
            order=self.ckb_order,
            directions=self.directions,
            d_state=self.d_state,
            **self.ckb_kwargs,
        )
