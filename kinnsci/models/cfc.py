"""Closed-form continuous-time network (Hasani et al. 2022) for vector inputs: the
``ncps`` package's PyTorch CfC run for one time step, its projection as the output.

``ncps`` is an optional dependency: ``pip install -e ".[papers]"``.
"""

from __future__ import annotations

from torch import Tensor

from kinnsci.errors import ConfigError
from kinnsci.models.base import BaseModel, check_rows


def _ncps_cfc():
    try:
        from ncps.torch import CfC as NcpsCfC
    except ImportError:
        raise ConfigError("the cfc model needs the ncps package: pip install -e "
                          "'.[papers]' (or pip install ncps)") from None
    return NcpsCfC


class CfC(BaseModel):
    """``ncps.torch.CfC(in_channels, hidden_channels, proj_size=out_channels)`` with a
    backbone of ``backbone_layers`` x ``backbone_units``, applied to the input as a
    sequence of one step (ncps's default time span, 1) from a zero hidden state of the
    input's dtype.

    Input (batch, in_channels) -> (batch, out_channels).

    Raises:
        ConfigError: ``ncps`` is not installed, or a size < 1.
    """

    name = "cfc"

    def __init__(self, in_channels: int, out_channels: int = 1, hidden_channels: int = 8,
                 backbone_units: int = 16, backbone_layers: int = 1,
                 mode: str = "default") -> None:
        super().__init__()
        if min(in_channels, out_channels, hidden_channels, backbone_units,
               backbone_layers) < 1:
            raise ConfigError("in_channels, out_channels, hidden_channels, backbone_units "
                              f"and backbone_layers must be >= 1, got {in_channels}, "
                              f"{out_channels}, {hidden_channels}, {backbone_units}, "
                              f"{backbone_layers}")
        self.cell = _ncps_cfc()(in_channels, hidden_channels, proj_size=out_channels,
                                return_sequences=False, batch_first=True, mode=mode,
                                backbone_units=backbone_units,
                                backbone_layers=backbone_layers)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.hidden_channels = hidden_channels

    def forward(self, x: Tensor) -> Tensor:
        """x (batch, in_channels) -> (batch, out_channels).

        Raises:
            ConfigError: ``x`` is not ``(batch, in_channels)``.
        """
        check_rows(self, x)
        # (ncps's per-sample ``timespans`` do not broadcast against the state in 1.0.1:
        # the default span is used)
        h0 = x.new_zeros(x.shape[0], self.hidden_channels)
        y, _ = self.cell(x[:, None, :], h0)
        return y


__all__ = ["CfC"]
