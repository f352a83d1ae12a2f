"""The Cascaded Kirchhoff Block (KINN, Eq. 19-26) and its 2-D mixer."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kinnsci._checks import check_finite, value_checks_enabled
from kinnsci._deprecation import renamed_arguments
from kinnsci.discretize import Discretizer
from kinnsci.errors import ConfigError
from kinnsci.layers.conv import channels_last_weight
from kinnsci.layers.knc import KNC
from kinnsci.scan import check_directions, direction_layout, grid_to_sequence, sequence_to_grid

ROUTINGS = ("series", "parallel")
AGGREGATES = ("dense", "last")
CONVS = ("depthwise", "dsconv")


class CKB(nn.Module):
    """Cascaded Kirchhoff Block: K KNCs in series, dense aggregation, gated fusion::

        x, z = split(in_proj(LayerNorm(u)))
        x    = SiLU(depthwise_conv(x))                (conv="dsconv": then a pointwise conv)
        y_1 = KNC_1(x),  y_k = KNC_k(y_{k-1})        (routing="series"; "parallel": KNC_k(x))
        y    = sum_k y_k                              (aggregate="dense"; "last": y_K)
        out  = u + out_proj(y * SiLU(z))                (residual=False: without the u)

    Input is a sequence ``(batch, length, channels)`` or a channels-last grid
    ``(batch, H, W, channels)``. On grids the KNC cascade runs along ``directions`` = 1, 2 or 4
    scan orders (row-major; + column-major; + both reversed), each direction with its own
    KNC weights, and the directional outputs are summed back onto the grid. On sequences
    ``directions`` may be 1 (causal) or 2 (+ reversed).

    Args:
        channels: the block's width; the KNCs run at ``expand * channels`` channels with
            ``d_state`` states each and Δ-rank ``ceil(channels / 16)`` unless ``dt_rank``
            is given.
        ckb_order: cascade depth K (1..4 in the paper).
        reference_spacing: grid spacing the block's time constants refer to; pass the
            actual ``grid_spacing`` to ``forward`` to run on a refined/coarsened grid.
        residual: add the input back (False: return the branch alone, for backbones that
            wrap it in their own residual, e.g. with stochastic depth).
        state_cut: every KNC returns its skip term ``D x`` alone (see :class:`KNC`): the
            control that measures what the Kirchhoff state contributes.
        conv: the local mixing before the scans: ``"depthwise"`` (Mamba's, the default)
            or ``"dsconv"``, the paper's depthwise-separable form (depthwise, then a
            pointwise 1x1 over the ``expand * channels`` inner channels).
        device: where the parameters are created (as torch's own modules take it).
        dtype: their precision (default: torch's default dtype).

    Raises:
        ConfigError: an argument out of its range (each message names it).
    """

    @renamed_arguments(dim="channels", order="ckb_order")
    def __init__(
        self,
        channels: int,
        ckb_order: int = 2,
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
        state_cut: bool = False,
        conv: str = "depthwise",
        reference_spacing: float = 1.0,
        spatial_dims: int = 1,
        residual: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        if spatial_dims not in (1, 2):
            raise ConfigError(
                f"spatial_dims must be 1 (sequences) or 2 (grids), got {spatial_dims}")
        if not isinstance(ckb_order, int) or ckb_order < 1:
            raise ConfigError(
                f"ckb_order must be an integer >= 1 (cascade depth), got {ckb_order!r}")
        if routing not in ROUTINGS:
            raise ConfigError(f"routing must be one of {ROUTINGS}, got {routing!r}")
        if aggregate not in AGGREGATES:
            raise ConfigError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}")
        check_directions(directions)
        if spatial_dims == 1 and directions == 4:
            raise ConfigError(
                "directions=4 needs 2-D grids (spatial_dims=2); sequences allow 1 or 2"
            )
        if conv not in CONVS:
            raise ConfigError(f"conv must be one of {CONVS}, got {conv!r}")
        if d_conv < 1 or d_conv % 2 == 0:
            raise ConfigError(f"d_conv must be odd and >= 1 (centred 2-D kernel), got {d_conv}")
        if reference_spacing <= 0:
            raise ConfigError(f"reference_spacing must be > 0, got {reference_spacing}")
        self.channels, self.ckb_order, self.directions = channels, ckb_order, directions
        self.routing, self.aggregate = routing, aggregate
        self.residual = residual
        self.reference_spacing = reference_spacing
        inner = expand * channels
        self.inner = inner
        self.norm = nn.LayerNorm(channels, **factory)
        self.in_proj = nn.Linear(channels, 2 * inner, **factory)
        self.spatial_dims = spatial_dims
        if spatial_dims == 1:  # causal: pad left by d_conv - 1, trim the right end
            self.conv = nn.Conv1d(inner, inner, d_conv, groups=inner, padding=d_conv - 1,
                                  **factory)
        else:
            self.conv = nn.Conv2d(inner, inner, d_conv, groups=inner, padding=d_conv // 2,
                                  **factory)
            channels_last_weight(self.conv)
        # the paper's DSConv: the depthwise convolution followed by a pointwise one
        self.pointwise = None
        if conv == "dsconv":
            make = nn.Conv1d if spatial_dims == 1 else nn.Conv2d
            self.pointwise = make(inner, inner, 1, **factory)
            if spatial_dims == 2:
                channels_last_weight(self.pointwise)
        rank = dt_rank or math.ceil(channels / 16)
        self.kncs = nn.ModuleList(
            nn.ModuleList(
                KNC(inner, d_state, rank, discretizer, selective=selective,
                    physical_constraints=physical_constraints, state_cut=state_cut,
                    **factory)
                for _ in range(ckb_order)
            )
            for _ in range(directions)
        )
        self.out_proj = nn.Linear(inner, channels, **factory)

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

        Directions follow :mod:`kinnsci.scan.directions`. A reversed direction scans its
        layout backwards instead of a flipped copy, and the outputs of one layout (rows or
        columns) are added before the one reshape back to the grid."""
        _, height, width, _ = x.shape
        y = None
        for column_major in (False, True)[: min(self.directions, 2)]:
            seq = grid_to_sequence(x, column_major)
            scale = scale_y if column_major else scale_x
            y_seq = None
            for index in range(self.directions):
                layout_column_major, reverse = direction_layout(index)
                if layout_column_major == column_major:
                    out = self.cascade(seq, index, scale, reverse=reverse)
                    y_seq = out if y_seq is None else y_seq + out
            grid = sequence_to_grid(y_seq, height, width, column_major)
            y = grid if y is None else y + grid
        return y

    def _local(self, x: Tensor) -> Tensor:
        """The local mixing before the scans: depthwise (and pointwise, for "dsconv")."""
        x = self.conv(x)
        return x if self.pointwise is None else self.pointwise(x)

    def forward(self, u: Tensor, grid_spacing: float | tuple[float, float] | None = None) -> Tensor:
        """u: (batch, length, channels) or (batch, H, W, channels) -> same shape.

        ``grid_spacing`` (a float or (dy, dx)) scales every step by
        spacing / ``reference_spacing`` so time constants stay fixed in physical units.

        Raises:
            ConfigError: ``u`` of another rank or channel count than the block's.
        """
        if u.ndim != 2 + self.spatial_dims:
            want = ("(batch, length, channels)" if self.spatial_dims == 1
                    else "(batch, H, W, channels)")
            raise ConfigError(
                f"CKB(spatial_dims={self.spatial_dims}) expects {want} with "
                f"channels={self.channels}, got rank {u.ndim} shape {tuple(u.shape)}"
            )
        if u.shape[-1] != self.channels:
            raise ConfigError(
                f"CKB was built for {self.channels} channels (last axis), got {u.shape[-1]} "
                f"in shape {tuple(u.shape)}; channels-first grids go through KirchhoffMixer2d"
            )
        if value_checks_enabled():  # KINNSCI_CHECKS=1: a host sync, so debug-only
            check_finite(u, "CKB input")
        x, z = self.in_proj(self.norm(u)).chunk(2, dim=-1)
        scale_x, scale_y = self._scales(grid_spacing)
        if u.ndim == 3:
            length = x.shape[1]
            x = F.silu(self._local(x.transpose(1, 2))[..., :length].transpose(1, 2))
            y = self.cascade(x, 0, scale_x)
            if self.directions == 2:
                y = y + self.cascade(x, 1, scale_x, reverse=True)
        else:
            y = self.scan_grid(F.silu(self._local(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)),
                               scale_x, scale_y)
        out = self.out_proj(y * F.silu(z))
        return u + out if self.residual else out


class KirchhoffMixer2d(nn.Module):
    """A CKB over a channels-first field: (batch, channels, H, W) -> same shape.

    Keyword arguments go to :class:`CKB` (``ckb_order``, ``directions``, ``discretizer``,
    ``device``, ``dtype``, ...).
    """

    @renamed_arguments(order="ckb_order")
    def __init__(self, channels: int, **ckb_kwargs) -> None:
        super().__init__()
        self.channels = channels
        self.block = CKB(channels, spatial_dims=2, **ckb_kwargs)

    def forward(self, x: Tensor, grid_spacing: float | tuple[float, float] | None = None) -> Tensor:
        """x: (batch, channels, H, W) -> same shape; ``grid_spacing`` as in
        :meth:`CKB.forward`.

        Raises:
            ConfigError: ``x`` is not ``(batch, channels, H, W)``.
        """
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
