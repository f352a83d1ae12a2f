"""The settings of a classification run (``kinnsci train-vision``), torch-free so the
command line can read its defaults without importing torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kinnsci.errors import ConfigError


@dataclass
class VisionConfig:
    """Settings of one classification run (every field has a ``train-vision`` flag).

    ``data`` is an image folder: either ``data/train`` and ``data/val`` (ImageNet's
    layout) or class folders directly, split by ``val_fraction`` with ``seed``.
    """

    data: str
    model: str = "kinn_vision_tiny"
    model_config: dict[str, Any] = field(default_factory=dict)
    image_size: int = 224
    mode: str = "RGB"
    epochs: int = 300
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    min_crop: float = 0.08
    val_fraction: float = 0.1
    seed: int = 0
    out: str = "runs/vision"
    device: str | None = None
    amp: str | None = None
    compile: bool = False
    channels_last: bool = False
    num_workers: int = 0
    plots: bool = True

    def __post_init__(self) -> None:
        if self.image_size < 1:
            raise ConfigError(f"image_size must be >= 1 pixels, got {self.image_size}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0.0 < self.min_crop <= 1.0:
            raise ConfigError(f"min_crop must be in (0, 1] (smallest crop area), got "
                             f"{self.min_crop}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
