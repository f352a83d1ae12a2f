"""The Cascaded Kirchhoff Block (KINN, Eq. 19-26) and its 2-D mixer."""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from kinnsci._checks import check_finite
from kinnsci.discretize import Discretizer
from kinnsci.errors import ConfigError
from kinnsci.layers.conv import channels_last_weight
from kinnsci.layers.knc import KNC
from kinnsci.scan import check_directions

ROUTINGS = ("series", "parallel")
AGGREGATES = ("dense", "last")


class CKB(nn.Module):
    """Cascaded Kirchhoff Block: K KNCs in series, dense aggregation, gated fusion::

        x, z = split(in_proj(LayerNorm(u)))
        x    = SiLU(depthwise_conv(x))
        y_1 = KNC_1(x),  y_k = KNC_k(y_{k-1})        (routing="series"; "parallel": KNC_k(x))
        y    = sum_k y_k                              (aggregate="dense"; "last": y_K)
        out  = u + out_proj(y * SiLU(z))                (residual=False: without the u)

    Input is a sequence ``(batch, length, dim)`` or a channels-last grid
    ``(batch, H, W, dim)``. On grids the KNC cascade runs along ``directions`` = 1, 2 or 4
    scan orders (row-major; + column-major; + both reversed), each direction with its own
    KNC weights, and the directional outputs are summed back onto the grid. On sequences
    ``directions`` may be 1 (causal) or 2 (+ reversed).

    Args:
        dim: model width; the KNCs run at ``expand * dim`` channels with ``d_state``
            states each and Δ-rank ``ceil(dim / 16)`` unless ``dt_rank`` is given.
        order: cascade depth K (1..4 in the paper).
        reference_spacing: grid spacing the block's time constants refer to; pass the
            actual ``grid_spacing`` to ``forward`` to run on a refined/coarsened grid.
        residual: add the input back (False: return the branch alone, for backbones that
            wrap it in their own residual, e.g. with stochastic depth).
    """

    def __init__(
        self,
        dim: int,
        order: int = 2,
        *,
        expand: int = 2,
        d_state: int = 16,
        dt_rank: int | None = None,
        d_conv: int = 3,
        routing: str = "series",
        aggregate: str = "dense",
        directions: int = 1,
        discretizer: str | Discretizer = "zoh",
        selective: bool = True,
        physical_constraints: bool = True,
        reference_spacing: float = 1.0,
        spatial_dims: int = 1,
        residual: bool = True,
    ) -> None:
        super().__init__()
        if spatial_dims not in (1, 2):
            raise ConfigError(
                f"spatial_dims must be 1 (sequences) or 2 (grids), got {spatial_dims}")
        if not isinstance(order, int) or order < 1:
            raise ConfigError(f"order must be an integer >= 1 (cascade depth), got {order!r}")
        if routing not in ROUTINGS:
            raise ConfigError(f"routing must be one of {ROUTINGS}, got {routing!r}")
        if aggregate not in AGGREGATES:
            raise ConfigError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}")
        check_directions(directions)
        if spatial_dims == 1 and directions == 4:
            raise ConfigError(
                "directions=4 needs 2-D grids (spatial_dims=2); sequences allow 1 or 2"
            )
        if d_conv < 1 or d_conv % 2 == 0:
            raise ConfigError(f"d_conv must be odd and >= 1 (centred 2-D kernel), got {d_conv}")
        if reference_spacing <= 0:
            raise ConfigError(f"reference_spacing must be > 0, got {reference_spacing}")
        self.dim, self.order, self.directions = dim, order, directions
        self.routing, self.aggregate = routing, aggregate
        self.residual = residual
        self.reference_spacing = reference_spacing
        inner = expand * dim
        self.inner = inner
        self.norm = nn.LayerNorm(dim)
        self.in_proj = nn.Linear(dim, 2 * inner)
        self.spatial_dims = spatial_dims
        if spatial_dims == 1:  # causal: pad left by d_conv - 1, trim the right end
            self.conv = nn.Conv1d(inner, inner, d_conv, groups=inner, padding=d_conv - 1)
        else:
            self.conv = nn.Conv2d(inner, inner, d_conv, groups=inner, padding=d_conv // 2)
            channels_last_weight(self.conv)
        rank = dt_rank or math.ceil(dim / 16)
        self.kncs = nn.ModuleList(
            nn.ModuleList(
                KNC(
                    inner,
                    d_state,
                    rank,
                    discretizer,
                    selective=selective,
                    physical_constraints=physical_constraints,
                )
                for _ in range(order)
            )
            for _ in range(directions)
        )
        self.out_proj = nn.Linear(inner, dim)

    def cascade(
        self,
        x: Tensor,
        direction: int = 0,
        dt_scale: float | None = None,
        reverse: bool = False,
    ) -> Tensor:
        """The KNC cascade of one scan direction: (batch, length, inner) -> same shape;
        ``reverse`` scans from the last position to the first."""
        total = signal = None
        for knc in self.kncs[direction]:
            y = knc(x if signal is None or self.routing == "parallel" else signal, dt_scale,
                    reverse)
            # dense: running sum (a stack + sum would copy every output once more)
            total = y if total is None or self.aggregate == "last" else total + y
            signal = y
        return total

    def _scales(self, grid_spacing) -> tuple[float | None, float | None]:
        """Step scale along x (row scans) and along y (column scans)."""
        if grid_spacing is None:
            return None, None
        dy, dx = grid_spacing if isinstance(grid_spacing, tuple | list) else (grid_spacing,) * 2
        return dx / self.reference_spacing, dy / self.reference_spacing

    def scan_grid(self, x: Tensor, scale_x: float | None, scale_y: float | None) -> Tensor:
        """The directional cascades over a channels-last grid (batch, H, W, inner), summed.

        Directions follow :mod:`kinnsci.scan.directions` (0 rows, 1 columns, 2 and 3 the
        same reversed). The reversed ones scan the same layout backwards instead of
        flipped copies, and the row (column) outputs are added before the one reshape
        (transpose) back to the grid."""
        batch, height, width, channels = x.shape
        rows = x.reshape(batch, height * width, channels)
        y = self.cascade(rows, 0, scale_x)
        if self.directions == 4:
            y = y + self.cascade(rows, 2, scale_x, reverse=True)
        y = y.reshape(batch, height, width, channels)
        if self.directions >= 2:
            cols = x.transpose(1, 2).reshape(batch, height * width, channels)
            y_cols = self.cascade(cols, 1, scale_y)
            if self.directions == 4:
                y_cols = y_cols + self.cascade(cols, 3, scale_y, reverse=True)
            y = y + y_cols.reshape(batch, width, height, channels).transpose(1, 2)
        return y

    def forward(self, u: Tensor, grid_spacing: float | tuple[float, float] | None = None) -> Tensor:
        """u: (batch, length, dim) or (batch, H, W, dim) -> same shape.

        ``grid_spacing`` (a float or (dy, dx)) scales every step by
        spacing / ``reference_spacing`` so time constants stay fixed in physical units."""
        if u.ndim != 2 + self.spatial_dims:
            want = "(batch, length, dim)" if self.spatial_dims == 1 else "(batch, H, W, dim)"
            raise ConfigError(
                f"CKB(spatial_dims={self.spatial_dims}) expects {want} with dim={self.dim}, "
                f"got rank {u.ndim} shape {tuple(u.shape)}"
            )
        if u.shape[-1] != self.dim:
            raise ConfigError(
                f"CKB was built for dim={self.dim} channels (last axis), got {u.shape[-1]} "
                f"in shape {tuple(u.shape)}; channels-first grids go through KirchhoffMixer2d"
            )
        check_finite(u, "CKB input")
        x, z = self.in_proj(self.norm(u)).chunk(2, dim=-1)
        scale_x, scale_y = self._scales(grid_spacing)
        if u.ndim == 3:
            length = x.shape[1]
            x = F.silu(self.conv(x.transpose(1, 2))[..., :length].transpose(1, 2))
            y = self.cascade(x, 0, scale_x)
            if self.directions == 2:
                y = y + self.cascade(x, 1, scale_x, reverse=True)
        else:
            y = self.scan_grid(F.silu(self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)),
                               scale_x, scale_y)
        out = self.out_proj(y * F.silu(z))
        return u + out if self.residual else out


class KirchhoffMixer2d(nn.Module):
    """A CKB over a channels-first field: (batch, channels, H, W) -> same shape.

    Keyword arguments go to :class:`CKB` (``order``, ``directions``, ``discretizer``, ...).
    """

    def __init__(self, channels: int, **ckb_kwargs) -> None:
        super().__init__()
        self.channels = channels
        self.block = CKB(channels, spatial_dims=2, **ckb_kwargs)

    def forward(self, x: Tensor, grid_spacing: float | tuple[float, float] | None = None) -> Tensor:
        if x.ndim != 4:
            raise ConfigError(
                f"KirchhoffMixer2d expects (batch, channels, H, W), got shape {tuple(x.shape)}"
            )
        if x.shape[1] != self.channels:
            raise ConfigError(
                f"KirchhoffMixer2d was built for {self.channels} channels, got {x.shape[1]} "
                f"(shape {tuple(x.shape)}; channels go in axis 1)"
            )
        return self.block(x.permute(0, 2, 3, 1), grid_spacing).permute(0, 3, 1, 2)
