"""A backbone between two normalisers: physical units in, physical units out."""

from __future__ import annotations

from torch import Tensor, nn

from kinnsci.data.normalizer import Normalizer


class NormalizedOperator(nn.Module):
    """``decode(backbone(encode(x)))``, so training losses, metrics and rollouts all work
    in physical units while the backbone sees O(1) inputs and targets.

    The normalisers are buffers of this module, so ``state_dict`` (and every checkpoint)
    carries them with the weights.

    Args:
        backbone: maps (B, C_in, H, W) -> (B, C_out, H, W); needs ``.config`` to be saved.
        input_normalizer: statistics of the input variables (C_in a multiple of them).
        output_normalizer: statistics of the target variables.
    """

    def __init__(self, backbone: nn.Module, input_normalizer: Normalizer,
                 output_normalizer: Normalizer):
        super().__init__()
        self.backbone = backbone
        self.input_normalizer = input_normalizer
        self.output_normalizer = output_normalizer

    @property
    def config(self) -> dict:
        return self.backbone.config

    def forward(self, x: Tensor) -> Tensor:
        return self.output_normalizer.inverse_transform(
            self.backbone(self.input_normalizer.transform(x)))
