"""Convolution building blocks of the U-Net operators."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def channels_last_weight(conv: nn.Conv2d) -> nn.Conv2d:
    """Store ``conv``'s weight channels-last, for a convolution whose input arrives as a
    channels-last view (a (B, H, W, C) tensor permuted to (B, C, H, W)).

    The weight gradient is then computed in that layout; a contiguous weight would get a
    gradient whose strides differ from its own, which DDP copies on every step with the
    warning "Grad strides do not match bucket view strides". Values are unchanged.
    """
    w = conv.weight.data
    out_c, in_c, kh, kw = w.shape
    # explicit strides: with in_c == 1, .contiguous(memory_format=...) sees nothing to do
    strides = (in_c * kh * kw, 1, kw * in_c, in_c)
    conv.weight.data = torch.empty_strided(w.shape, strides, dtype=w.dtype,
                                           device=w.device).copy_(w)
    return conv


class DSConv2d(nn.Module):
    """Depthwise-separable 3x3 convolution: depthwise k x k, then pointwise 1x1.

    Parameters: ``c_in * k^2 + c_in`` (depthwise, bias) + ``c_in * c_out + c_out``.
    (batch, c_in, H, W) -> (batch, c_out, H / stride, W / stride).
    """

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, kernel_size, stride, kernel_size // 2, groups=c_in)
        self.pointwise = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


class ConvBlock(nn.Module):
    """Two (conv -> GroupNorm -> GELU) layers; ``separable`` picks DSConv2d over Conv2d."""

    def __init__(self, c_in: int, c_out: int, separable: bool = False) -> None:
        super().__init__()
        conv = DSConv2d if separable else (lambda i, o: nn.Conv2d(i, o, 3, padding=1))
        self.layers = nn.Sequential(
            conv(c_in, c_out),
            nn.GroupNorm(1, c_out),
            nn.GELU(),
            conv(c_out, c_out),
            nn.GroupNorm(1, c_out),
            nn.GELU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class ResidualDSBlock(nn.Module):
    """CNO-style residual block with separable convolutions: x + DS(GELU(DS(x)))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = DSConv2d(channels, channels)
        self.norm = nn.GroupNorm(1, channels)
        self.act = nn.GELU()
        self.conv2 = DSConv2d(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.act(self.norm(self.conv1(x))))
