"""U-Net operators: the plain U-Net baseline and UKNO (U-Net with Kirchhoff blocks)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kinnsci.discretize import Discretizer
from kinnsci.errors import ConfigError
from kinnsci.layers import ConvBlock, DSConv2d, KirchhoffMixer2d, ResidualDSBlock
from kinnsci.models.base import BaseModel


def _resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    return (
        x if x.shape[-2:] == size else F.interpolate(x, size, mode="bilinear", align_corners=False)
    )


class UNet(BaseModel):
    """Plain U-Net baseline (the paper's U-Net row).

    Encoder: ``ConvBlock`` then 2x average-pool per level; decoder: bilinear upsampling,
    concatenation with the skip, ``ConvBlock``. Works for any H, W (skips are resized).

    Shapes: ``forward(x (batch, in_channels, H, W)) -> (batch, out_channels, H, W)``.

    Raises:
        ConfigError: fewer than 2 levels in ``hidden_channels``.
    """

    name = "unet"
    renamed_arguments = {"widths": "hidden_channels"}

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        hidden_channels: Sequence[int] = (32, 64, 128, 256),
    ) -> None:
        super().__init__()
        if len(hidden_channels) < 2:
            raise ConfigError("hidden_channels needs at least 2 levels (one width per level), "
                              f"got {tuple(hidden_channels)}")
        widths = tuple(hidden_channels)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.encoders = nn.ModuleList()
        c_prev = in_channels
        for w in widths:
            self.encoders.append(ConvBlock(c_prev, w))
            c_prev = w
        self.decoders = nn.ModuleList(
            ConvBlock(widths[i + 1] + widths[i], widths[i])
            for i in reversed(range(len(widths) - 1))
        )
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        """x ``(batch, in_channels, H, W)`` -> ``(batch, out_channels, H, W)``.

        Raises:
            ConfigError: ``x`` is not ``(batch, in_channels, H, W)``.
        """
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ConfigError(
                f"UNet expects (batch, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        skips = []
        for i, enc in enumerate(self.encoders):
            x = enc(x if i == 0 else F.avg_pool2d(x, 2, ceil_mode=True))
            skips.append(x)
        x = skips.pop()
        for dec in self.decoders:
            skip = skips.pop()
            x = dec(torch.cat([_resize(x, skip.shape[-2:]), skip], dim=1))
        return self.head(x)


class UKNO(BaseModel):
    """U-Net neural operator in the CNO style with Cascaded Kirchhoff Blocks (KINN Fig. 2e).

    Every convolution is depthwise-separable; ``widths`` below is ``hidden_channels``, one
    width per level. Lifting ``DSConv2d(in -> widths[0])``; each
    encoder level: ``res_blocks`` residual DS blocks, then a stride-2 DS convolution to the
    next width; bottleneck at ``widths[-1]``; decoder: bilinear upsampling, concatenation
    with the skip, a DS convolution back to the level's width and residual DS blocks;
    projection ``DSConv2d(widths[0] -> out)``. ``KirchhoffMixer2d`` blocks (order
    ``ckb_order``, ``directions`` scans) sit in the ``ckb_levels`` deepest encoder and
    decoder levels and in the bottleneck.

    The defaults (widths 96/128/192/192, 5 residual blocks per level, CKB expand 1,
    4 directions, 16 states) give 2.65 M / 2.89 M / 3.12 M / 3.36 M parameters for
    ``ckb_order`` 1..4, within 2 % of the KINN paper's Table 3 (2.60/2.83/3.07/3.31 M).

    Odd sizes and sizes not divisible by 2^levels work: stride-2 convolutions round up and
    upsampled features are resized (bilinear) to the skip's size before concatenation.

    Shapes: ``forward(x (batch, in_channels, H, W)) -> (batch, out_channels, H, W)``.

    Raises:
        ConfigError: fewer than 2 levels, or ``ckb_levels`` out of range.
    """

    name = "ukno"
    renamed_arguments = {"widths": "hidden_channels"}

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        hidden_channels: Sequence[int] = (96, 128, 192, 192),
        res_blocks: int = 5,
        ckb_order: int = 2,
        ckb_levels: int = 2,
        directions: int = 4,
        d_state: int = 16,
        ckb_expand: int = 1,
        discretizer: str | Discretizer = "zoh",
        routing: str = "series",
        ckb_kwargs: dict | None = None,
    ) -> None:
        super().__init__()
        widths = tuple(hidden_channels)
        levels = len(widths)
        if levels < 2 or not 0 <= ckb_levels <= levels - 1:
            raise ConfigError(
                f"need >= 2 levels in hidden_channels and 0 <= ckb_levels <= {levels - 1}, got "
                f"hidden_channels={widths}, ckb_levels={ckb_levels}"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        ckb = dict(
            ckb_order=ckb_order,
            directions=directions,
            d_state=d_state,
            expand=ckb_expand,
            discretizer=discretizer,
            routing=routing,
            **(ckb_kwargs or {}),
        )

        def stage(width: int, with_ckb: bool) -> nn.Sequential:
            blocks = [ResidualDSBlock(width) for _ in range(res_blocks)]
            if with_ckb:
                blocks.append(KirchhoffMixer2d(width, **ckb))
            return nn.Sequential(*blocks)

        deep = set(range(levels - 1 - ckb_levels, levels - 1))  # encoder levels with a CKB
        self.lift = DSConv2d(in_channels, widths[0])
        self.encoder = nn.ModuleList(stage(widths[i], i in deep) for i in range(levels - 1))
        self.down = nn.ModuleList(
            DSConv2d(widths[i], widths[i + 1], stride=2) for i in range(levels - 1)
        )
        self.bottleneck = stage(widths[-1], ckb_levels > 0)
        self.fuse = nn.ModuleList(
            DSConv2d(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(levels - 1))
        )
        self.decoder = nn.ModuleList(
            stage(widths[i], i in deep) for i in reversed(range(levels - 1))
        )
        self.project = DSConv2d(widths[0], out_channels)

    def forward(self, x: Tensor) -> Tensor:
        """x ``(batch, in_channels, H, W)`` -> ``(batch, out_channels, H, W)``.

        Raises:
            ConfigError: ``x`` is not ``(batch, in_channels, H, W)``.
        """
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ConfigError(
                f"UKNO expects (batch, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        x = self.lift(x)
        skips = []
        for enc, down in zip(self.encoder, self.down, strict=True):
            x = enc(x)
            skips.append(x)
            x = F.gelu(down(x))
        x = self.bottleneck(x)
        for fuse, dec in zip(self.fuse, self.decoder, strict=True):
            skip = skips.pop()
            x = dec(F.gelu(fuse(torch.cat([_resize(x, skip.shape[-2:]), skip], dim=1))))
        return self.project(x)
