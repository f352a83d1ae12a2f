"""The KINN vision backbone: a 4-stage hierarchical classifier with CKB token mixers.

KINN (ImageNet section) "integrates the CKB as a drop-in replacement into a standard
hierarchical vision backbone" and compares with VMamba. We follow VMamba's layout::

    image (B, 3, H, W)
      -> patch embedding: Conv2d(k = s = patch_size) + LayerNorm          (B, H/4, W/4, C)
      -> stage 1: depths[0] x [ x + CKB(x);  x + MLP(LN(x)) ]            width C
      -> downsample: Conv2d(3x3, stride 2) + LayerNorm                    width 2C
      -> stages 2, 3, 4 (widths 2C, 4C, 8C)
      -> LayerNorm -> global average pool -> Linear                       (B, num_classes)

Each CKB scans its grid in 4 directions with an order-2 cascade of selective KNCs
(``d_state`` states, inner width ``expand * C``). The sizes are chosen so that parameters
and FLOPs at 224² land on the paper's: Tiny 32.3 M / 4.9 G, Small 50.3 M / 8.2 G
(``kinnsci.models.flops.count_flops``; the test suite pins both within 3 %).

Ablation switches of the paper's Table 7: ``routing="series" | "parallel"`` (cascade vs
a wide first-order ensemble) and ``physical_constraints=True | False`` (A = -exp(A_log)
with exact exponential integration vs a free A with Euler steps). ``mixer="conv"`` swaps
every CKB for the same gated block without the Kirchhoff cascade (a depthwise-conv
mixer), the throughput baseline of ``benchmarks/bench_vision.py``.

Input sizes: H and W must be multiples of ``patch_size`` (the patch embedding has no
padding; an error says so). Later stages use stride-2 convolutions with padding 1, so any
size after that works (odd sizes round up).
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from kinnsci._checks import check_finite, value_checks_enabled
from kinnsci.discretize import Discretizer
from kinnsci.errors import ConfigError
from kinnsci.layers.ckb import CKB
from kinnsci.layers.conv import channels_last_weight
from kinnsci.layers.knc import KNC
from kinnsci.models.base import BaseModel

MIXERS = ("ckb", "conv")

# Widths, depths and SSM settings per size (see the module docstring for the targets).
SIZES: dict[str, dict] = {
    "tiny": {"hidden_channels": 96, "depths": (3, 3, 4, 3), "drop_path_rate": 0.2},
    "small": {"hidden_channels": 96, "depths": (2, 3, 15, 3), "drop_path_rate": 0.3},
    "base": {"hidden_channels": 128, "depths": (2, 3, 15, 3), "drop_path_rate": 0.5},
}
# Shared by all sizes: 2 states per KNC, inner width = width (VMamba-T's ssm_ratio 1),
# MLP hidden width 3.5x. Chosen (with the depths above) by searching depths x d_state x
# expand x mlp_ratio for the layouts closest to the paper's parameter and FLOP counts.
D_STATE, EXPAND, MLP_RATIO = 2, 1, 3.5


class DropPath(nn.Module):
    """Stochastic depth: zero a residual branch for a random subset of samples while
    training, rescaling the rest by 1 / (1 - p) so the expectation is unchanged.

    Raises:
        ConfigError: ``p`` not in [0, 1).
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"drop-path probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class GatedConvMixer(nn.Module):
    """The CKB without its Kirchhoff cascade: LayerNorm -> in_proj (x, z) -> depthwise
    conv -> SiLU -> gate SiLU(z) -> out_proj. (batch, H, W, dim) -> same shape (branch
    only, no residual)."""

    def __init__(self, dim: int, expand: int = 1, d_conv: int = 3) -> None:
        super().__init__()
        inner = expand * dim
        self.norm = nn.LayerNorm(dim)
        self.in_proj = nn.Linear(dim, 2 * inner)
        self.conv = channels_last_weight(
            nn.Conv2d(inner, inner, d_conv, padding=d_conv // 2, groups=inner))
        self.out_proj = nn.Linear(inner, dim)

    def forward(self, u: Tensor) -> Tensor:
        x, z = self.in_proj(self.norm(u)).chunk(2, dim=-1)
        x = F.silu(self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))
        return self.out_proj(x * F.silu(z))


class KirchhoffVisionBlock(nn.Module):
    """x + DropPath(mixer(x)), then x + DropPath(MLP(LN(x))); x is (batch, H, W, dim)."""

    def __init__(self, dim: int, *, mixer: str, mlp_ratio: float, drop_path: float,
                 **ckb_kwargs) -> None:
        super().__init__()
        if mixer == "ckb":
            self.mixer = CKB(dim, spatial_dims=2, residual=False, **ckb_kwargs)
        else:
            self.mixer = GatedConvMixer(dim, ckb_kwargs["expand"], ckb_kwargs["d_conv"])
        hidden = int(dim * mlp_ratio)
        self.mlp_norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path(self.mixer(x))
        return x + self.drop_path(self.mlp(self.mlp_norm(x)))


class Downsample(nn.Module):
    """Halve H and W, double the width: 3x3 stride-2 conv + LayerNorm, channels-last."""

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        self.conv = channels_last_weight(nn.Conv2d(dim, out_dim, 3, stride=2, padding=1))
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))


class KINNVision(BaseModel):
    """Hierarchical KINN image classifier: (batch, in_channels, H, W) -> logits
    (batch, num_classes).

    Every argument left at ``None`` takes the value of the class's size (``SIZES``;
    :class:`KINNVision` itself is the Tiny layout). Registered in ``get_model`` as
    ``kinn_vision_tiny``, ``kinn_vision_small`` and ``kinn_vision_base``.

    Args:
        num_classes: classifier outputs (ImageNet-1K: 1000).
        in_channels: image channels (3 for RGB).
        hidden_channels: width of stage 1; stage k has ``hidden_channels * 2**k``.
        depths: blocks per stage (4 entries).
        d_state: states per KNC.
        expand: the CKB's inner width relative to the stage width.
        ckb_order: KNCs in each CKB cascade.
        directions: 2-D scan directions (1, 2 or 4).
        discretizer: the KNCs' discretizer ("zoh", "euler", ...).
        routing: ``"series"`` (cascade, the paper's choice) or ``"parallel"``.
        physical_constraints: KCL-compliant decay + exact ZOH (True) or free A + Euler.
        mixer: ``"ckb"`` or ``"conv"`` (no Kirchhoff cascade; the ablation baseline).
        mlp_ratio: hidden width of each block's MLP relative to its width.
        d_conv: kernel size of the CKB's depthwise convolution.
        patch_size: stride of the patch embedding; H and W must be multiples of it.
        drop_path_rate: stochastic depth, rising linearly from 0 to this over the blocks.

    Raises:
        ConfigError: an argument out of its range (each message names it).
    """

    name = "kinn_vision"  # sizes from the arguments; the named sizes below fix them
    size = "tiny"
    renamed_arguments = {"dims": "hidden_channels", "order": "ckb_order"}

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        in_channels: int = 3,
        hidden_channels: int | None = None,
        depths: tuple[int, ...] | None = None,
        d_state: int | None = None,
        expand: int | None = None,
        ckb_order: int = 2,
        directions: int = 4,
        routing: str = "series",
        physical_constraints: bool = True,
        discretizer: str | Discretizer = "zoh",
        mixer: str = "ckb",
        mlp_ratio: float = MLP_RATIO,
        d_conv: int = 3,
        patch_size: int = 4,
        drop_path_rate: float | None = None,
    ) -> None:
        super().__init__()
        preset = SIZES[self.size]
        dims = preset["hidden_channels"] if hidden_channels is None else hidden_channels
        depths = tuple(preset["depths"] if depths is None else depths)
        d_state = D_STATE if d_state is None else d_state
        expand = EXPAND if expand is None else expand
        rate = preset["drop_path_rate"] if drop_path_rate is None else drop_path_rate
        if num_classes < 1 or in_channels < 1 or dims < 1 or patch_size < 1:
            raise ConfigError(
                f"num_classes, in_channels, hidden_channels and patch_size must be >= 1, got "
                f"{num_classes}, {in_channels}, {dims}, {patch_size}")
        if len(depths) != 4 or min(depths) < 1:
            raise ConfigError(f"depths must be 4 stage depths >= 1, got {depths}")
        if mixer not in MIXERS:
            raise ConfigError(f"mixer must be one of {MIXERS}, got {mixer!r}")
        if not 0.0 <= rate < 1.0:
            raise ConfigError(f"drop_path_rate must be in [0, 1), got {rate}")
        self.num_classes, self.in_channels, self.patch_size = num_classes, in_channels, patch_size
        widths = [dims * 2**k for k in range(4)]
        self.widths = widths
        self.patch_embed = nn.Conv2d(in_channels, dims, patch_size, stride=patch_size)
        self.embed_norm = nn.LayerNorm(dims)
        n_blocks = sum(depths)
        drops = [rate * i / max(n_blocks - 1, 1) for i in range(n_blocks)]
        ckb_kwargs = {"ckb_order": ckb_order, "directions": directions, "routing": routing,
                      "physical_constraints": physical_constraints,
                      "discretizer": discretizer, "d_state": d_state, "expand": expand,
                      "d_conv": d_conv}
        self.stages = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        first = 0
        for k, (width, depth) in enumerate(zip(widths, depths, strict=True)):
            self.stages.append(nn.Sequential(*(
                KirchhoffVisionBlock(width, mixer=mixer, mlp_ratio=mlp_ratio,
                                     drop_path=drops[first + i], **ckb_kwargs)
                for i in range(depth))))
            first += depth
            if k < 3:
                self.downsamples.append(Downsample(width, widths[k + 1]))
        self.head_norm = nn.LayerNorm(widths[-1])
        self.head = nn.Linear(widths[-1], num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """Truncated-normal(0.02) linear weights and zero biases (Swin/VMamba), leaving
        the KNCs' own initialisation (Mamba's Δ and S4D-real rates) untouched."""
        inside_knc = {id(m) for knc in self.modules() if isinstance(knc, KNC)
                      for m in knc.modules()}
        for module in self.modules():
            if isinstance(module, nn.Linear) and id(module) not in inside_knc:
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def features(self, images: Tensor) -> Tensor:
        """(batch, in_channels, H, W) -> pooled features (batch, 8 * hidden_channels)."""
        self._check_input(images)
        x = self.embed_norm(self.patch_embed(images).permute(0, 2, 3, 1))
        for k, stage in enumerate(self.stages):
            x = stage(x)
            if k < 3:
                x = self.downsamples[k](x)
        return self.head_norm(x).mean(dim=(1, 2))

    def forward(self, images: Tensor) -> Tensor:
        """(batch, in_channels, H, W) -> logits (batch, num_classes)."""
        return self.head(self.features(images))

    def _check_input(self, images: Tensor) -> None:
        if images.ndim != 4:
            raise ConfigError(f"{type(self).__name__} expects images (batch, channels, H, W), "
                             f"got shape {tuple(images.shape)}")
        if images.shape[1] != self.in_channels:
            raise ConfigError(
                f"{type(self).__name__} was built for {self.in_channels}-channel images, got "
                f"{images.shape[1]} channels (shape {tuple(images.shape)}); convert the "
                f"images (e.g. grayscale -> RGB) or build with in_channels={images.shape[1]}")
        height, width = images.shape[-2:]
        p = self.patch_size
        if height % p or width % p:
            fit = (math.ceil(height / p) * p, math.ceil(width / p) * p)
            raise ConfigError(
                f"image size {height}x{width} is not a multiple of patch_size={p}; resize "
                f"or crop to a multiple (e.g. {fit[0]}x{fit[1]} by padding)")
        if value_checks_enabled():  # KINNSCI_CHECKS=1: a host sync, so debug-only
            check_finite(images, "images")


class KINNVisionTiny(KINNVision):
    """KINN-T: width 96, depths (3, 3, 4, 3): 32.1 M parameters (1000 classes) and
    4.87 GFLOPs at 224² (paper: 32.3 M / 4.9 G)."""

    name = "kinn_vision_tiny"

    size = "tiny"


class KINNVisionSmall(KINNVision):
    """KINN-S: width 96, depths (2, 3, 15, 3): 50.2 M parameters and 8.14 GFLOPs at 224²
    (paper: 50.3 M / 8.2 G)."""

    name = "kinn_vision_small"

    size = "small"


class KINNVisionBase(KINNVision):
    """KINN-B: width 128, depths (2, 3, 15, 3) (the paper gives no size for Base)."""

    name = "kinn_vision_base"

    size = "base"
