"""A plain multilayer perceptron, the baseline of KirchhoffNet's regression table."""

from __future__ import annotations

from torch import Tensor, nn

from kinnsci.errors import ConfigError
from kinnsci.models.base import BaseModel, check_rows


class MLP(BaseModel):
    """``n_layers`` linear layers with ReLU between them (KirchhoffNet's "4-layer MLP" is
    ``n_layers=3``: input, two hidden layers of ``hidden_channels``, output).

    Input (batch, in_channels) -> (batch, out_channels).

    Raises:
        ConfigError: a size < 1, or ``n_layers`` < 1.
    """

    name = "mlp"

    def __init__(self, in_channels: int, out_channels: int = 1, hidden_channels: int = 16,
                 n_layers: int = 3) -> None:
        super().__init__()
        if min(in_channels, out_channels, hidden_channels, n_layers) < 1:
            raise ConfigError("in_channels, out_channels, hidden_channels and n_layers must "
                              f"be >= 1, got {in_channels}, {out_channels}, "
                              f"{hidden_channels}, {n_layers}")
        widths = [in_channels] + [hidden_channels] * (n_layers - 1) + [out_channels]
        layers: list[nn.Module] = []
        for i in range(n_layers):
            layers.append(nn.Linear(widths[i], widths[i + 1]))
            if i < n_layers - 1:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)
        self.in_channels, self.out_channels = in_channels, out_channels

    def forward(self, x: Tensor) -> Tensor:
        """x (batch, in_channels) -> (batch, out_channels).

        Raises:
            ConfigError: ``x`` is not ``(batch, in_channels)``.
        """
        check_rows(self, x)
        return self.net(x)


__all__ = ["MLP"]
