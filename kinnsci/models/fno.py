"""Fourier neural operators: the FNO baseline and FKNO (FNO with a Kirchhoff mixer).

Layout follows Li et al.'s FNO2d: append (x, y) coordinates, lift pointwise to ``hidden_channels``
channels, ``n_layers`` Fourier layers ``GELU(SpectralConv(v) + Local(v))`` (no GELU after
the last), project pointwise through ``projection_channels`` hidden channels. Spectral
convolutions are neuraloperator's ``SpectralConv`` (contracted with ``torch.einsum``:
:class:`kinnsci.layers.spectral.SpectralConv2d`) and ``n_modes`` means what it means
there: Li et al.'s one-sided ``modes = 12`` (frequencies -12..11 along y and 0..11 along
x) is ``n_modes = (24, 23)``.

Complex spectral weights do not follow ``model.double()``; use
:func:`kinnsci.models.set_dtype` to change a model's precision.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kinnsci._deprecation import warn_deprecated
from kinnsci.discretize import Discretizer
from kinnsci.errors import ConfigError
from kinnsci.layers import KirchhoffMixer2d
from kinnsci.layers.spectral import SpectralConv2d
from kinnsci.models.base import BaseModel


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


def pointwise_local(layer: int, channels: int) -> nn.Module:
    """The local operator of Li et al.'s Fourier layers: a 1x1 convolution."""
    return nn.Conv2d(channels, channels, 1)


def _one_sided_modes(modes: int) -> tuple[int, int]:
    """Li et al.'s one-sided ``modes`` as neuraloperator's ``n_modes``."""
    return (2 * modes, 2 * modes - 1)


class FNO(BaseModel):
    """Fourier neural operator on 2-D fields.

    Args:
        in_channels: input fields (e.g. 10 past vorticity states).
        out_channels: predicted fields.
        hidden_channels: latent channels of the Fourier layers.
        n_modes: Fourier modes kept per axis ``(y, x)``, in neuraloperator's convention
            (an int: the same along both). The default ``(24, 23)`` is Li et al.'s
            ``modes=12``: frequencies -12..11 along y and 0..11 along x.
        n_layers: Fourier layers.
        projection_channels: hidden channels of the output MLP.
        append_grid: concatenate (x, y) coordinates to the input (2 extra channels).
        local_operator: ``local_operator(layer, channels) -> nn.Module``, the local path of
            each Fourier layer (default :func:`pointwise_local`, a 1x1 convolution), as
            neuraloperator's FNO takes ``conv_module=``. Not saved in the config: a model
            built with another factory is saved through a subclass that passes it (FKNO).

    Shapes: ``forward(x (batch, in_channels, H, W)) -> (batch, out_channels, H, W)``; any
    H >= ``n_modes[0] - 1`` (even ``n_modes[0]``) or ``n_modes[0]`` (odd) and W >=
    ``n_modes[1]`` works (weights act on Fourier modes, not grid points).

    Raises:
        ConfigError: a size < 1.
    """

    name = "fno"
    resolution_invariant = True  # spectral layers: trained on one grid, applies to others
    renamed_arguments = {"width": "hidden_channels", "modes": ("n_modes", _one_sided_modes),
                         "projection": "projection_channels"}

    def __init__(
        self,
        in_channels: int = 10,
        out_channels: int = 1,
        *,
        hidden_channels: int = 20,
        n_modes: int | tuple[int, int] = (24, 23),
        n_layers: int = 4,
        projection_channels: int = 128,
        append_grid: bool = True,
        local_operator: Callable[[int, int], nn.Module] = pointwise_local,
    ) -> None:
        super().__init__()
        n_modes = (n_modes, n_modes) if isinstance(n_modes, int) else tuple(n_modes)
        if len(n_modes) != 2:
            raise ConfigError(f"n_modes must be an int or (modes_y, modes_x), got {n_modes}")
        if min(in_channels, out_channels, hidden_channels, *n_modes, n_layers,
               projection_channels) < 1:
            raise ConfigError("in_channels, out_channels, hidden_channels, n_modes, n_layers "
                              "and projection_channels must be >= 1")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.n_modes, self.append_grid = n_modes, append_grid
        if hasattr(self, "make_local"):  # a subclass written for kinnsci 0.1's hook
            warn_deprecated(f"{type(self).__name__}.make_local", "FNO(local_operator=...)")
            local_operator = self.make_local
        lifted = in_channels + (2 if append_grid else 0)
        self.lifting = nn.Conv2d(lifted, hidden_channels, 1)
        self.spectral = nn.ModuleList(
            SpectralConv2d(hidden_channels, hidden_channels, n_modes=n_modes)
            for _ in range(n_layers)
        )
        self.local = nn.ModuleList(local_operator(i, hidden_channels) for i in range(n_layers))
        self.projection = nn.Sequential(
            nn.Conv2d(hidden_channels, projection_channels, 1), nn.GELU(),
            nn.Conv2d(projection_channels, out_channels, 1)
        )

    def check_input(self, x: Tensor) -> None:
        """Raise ``ConfigError`` unless ``x`` is ``(batch, in_channels, H, W)`` on a grid
        that holds the kept Fourier modes.

        Raises:
            ConfigError: another shape, or a grid too coarse for ``n_modes``.
        """
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ConfigError(
                f"{type(self).__name__} expects (batch, {self.in_channels}, H, W), got "
                f"{tuple(x.shape)}"
            )
        modes_y, modes_x = self.n_modes
        need = (modes_y - (modes_y % 2 == 0), modes_x)  # -m..m-1 along y; 0..m_x//2 of rfft
        if x.shape[2] < need[0] or x.shape[3] < need[1]:
            # the largest n_modes this grid takes: an odd count m needs m rows, an even one
            # m - 1, so an even H takes H and an odd H takes H + 1
            height, width = x.shape[2], x.shape[3]
            most = (height + height % 2, width)
            raise ConfigError(
                f"n_modes={self.n_modes} needs grids of at least {need[0]} x {need[1]} points, "
                f"got {height} x {width}; keep fewer modes (n_modes <= {most}) or use a "
                "finer grid"
            )

    def apply_local(self, layer: int, local: nn.Module, v: Tensor) -> Tensor:
        """The local (pointwise or Kirchhoff) operator of Fourier layer ``layer``."""
        return local(v)

    def forward(self, x: Tensor) -> Tensor:
        """x ``(batch, in_channels, H, W)`` -> ``(batch, out_channels, H, W)``."""
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
    ``ckb_kwargs`` go to :class:`kinnsci.layers.CKB` (``expand``, ``aggregate``, ...).
    The other arguments are :class:`FNO`'s.

    ``reference_resolution`` (the training grid size, e.g. 32) makes the scan step size
    proportional to the grid spacing, so a model trained at 32x32 keeps its time constants
    in physical units at 64x64. Without it every grid step is one training step: on a finer
    grid the Kirchhoff memory covers a smaller physical distance.

    Raises:
        ConfigError: a size < 1 or a bad CKB argument.
    """

    name = "fkno"

    def __init__(
        self,
        in_channels: int = 10,
        out_channels: int = 1,
        *,
        hidden_channels: int = 20,
        n_modes: int | tuple[int, int] = (24, 23),
        n_layers: int = 4,
        projection_channels: int = 128,
        append_grid: bool = True,
        directions: int = 1,
        ckb_order: int = 2,
        d_state: int = 16,
        discretizer: str | Discretizer = "zoh",
        routing: str = "series",
        ckb_kwargs: dict | None = None,
        reference_resolution: int | None = None,
    ) -> None:
        if reference_resolution is not None and reference_resolution < 1:
            raise ConfigError(f"reference_resolution must be a positive grid size or None, got "
                             f"{reference_resolution}")
        ckb = dict(ckb_order=ckb_order, directions=directions, d_state=d_state,
                   discretizer=discretizer, routing=routing, **(ckb_kwargs or {}))

        def kirchhoff_first(layer: int, channels: int) -> nn.Module:
            return KirchhoffMixer2d(channels, **ckb) if layer == 0 else pointwise_local(
                layer, channels)

        super().__init__(in_channels, out_channels, hidden_channels=hidden_channels,
                         n_modes=n_modes, n_layers=n_layers,
                         projection_channels=projection_channels, append_grid=append_grid,
                         local_operator=kirchhoff_first)
        self.reference_resolution = reference_resolution
        self.directions, self.ckb_order, self.d_state = directions, ckb_order, d_state

    def apply_local(self, layer: int, local: nn.Module, v: Tensor) -> Tensor:
        if layer > 0 or self.reference_resolution is None:
            return local(v)
        # Scan steps in units of the training grid's spacing: on a grid twice as fine each
        # step is half as long, so the Kirchhoff time constants keep their physical extent.
        ref = self.reference_resolution
        return local(v, grid_spacing=(ref / v.shape[-2], ref / v.shape[-1]))
