"""The Kirchhoff Neural Cell's RC node (KINN, Eq. 6-12)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from kinnsci._checks import check_nonnegative, check_positive, inverse_softplus
from kinnsci.cells.base import place, register_tensors
from kinnsci.cells.linear import LinearCellBase
from kinnsci.errors import ConfigError

# softplus(x) reaches 1e-12 at x ~ -27.6: a zero leak/coupling is stored as this tiny value
_TINY = 1e-12


def _inverse_softplus(value: float, channels: int) -> Tensor:
    return inverse_softplus(max(value, _TINY)).expand(channels).clone()


class KirchhoffNodeCell(LinearCellBase):
    """RC node obeying Kirchhoff's current law at one node (one per channel).

    KCL at the node, with capacitance ``C_m``, leak conductance ``G_l`` to ground, coupling
    conductance ``G_c`` to the (grounded) neighbouring node and an input transconductance
    ``G_in`` that injects the current ``G_in * u``::

        C_m dV/dt = -(G_l + G_c) V + G_in u      =>   dV/dt = -a V + b u
        a = (G_l + G_c) / C_m  [1/s] > 0,   b = G_in / C_m  [1/s]
        y = c V + d u

    Units: V and u in volts, t in seconds, C_m in farads, conductances in siemens; ``c``
    and ``d`` are dimensionless readout gains. ``C_m``, ``G_l`` and ``G_c`` are stored
    through softplus, so ``a > 0`` holds for any parameter values reached by training.
    ``G_in`` is a signed transconductance (a voltage-controlled current source).

    Args:
        channels: number of independent nodes; state, input and output are ``(..., channels)``.
        trainable: make the physical parameters ``nn.Parameter`` s.

    Raises:
        ConfigError: ``channels < 1`` or no conductance to ground at all.
    """

    name = "kirchhoff_node"

    diagonal = True

    def __init__(
        self,
        capacitance: float = 1.0,
        leak_conductance: float = 1.0,
        coupling_conductance: float = 0.0,
        input_conductance: float = 1.0,
        readout_gain: float = 1.0,
        feedthrough: float = 0.0,
        *,
        channels: int = 1,
        trainable: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_positive(capacitance, "capacitance", "a capacitor stores charge only with C_m > 0")
        check_nonnegative(leak_conductance, "leak_conductance", "a passive resistor has G >= 0")
        check_nonnegative(
            coupling_conductance, "coupling_conductance", "a passive resistor has G >= 0"
        )
        if leak_conductance + coupling_conductance <= 0:
            raise ConfigError(
                "leak_conductance + coupling_conductance must be > 0, got 0 (a node with no "
                "path to ground never relaxes; give it a small leak)"
            )
        if channels < 1:
            raise ConfigError(f"channels must be >= 1, got {channels}")
        self.state_dim = self.input_dim = self.output_dim = channels

        full = lambda v: torch.full((channels,), float(v), dtype=torch.get_default_dtype())  # noqa: E731
        tensors = {
            "raw_capacitance": _inverse_softplus(capacitance, channels),
            "raw_leak": _inverse_softplus(leak_conductance, channels),
            "raw_coupling": _inverse_softplus(coupling_conductance, channels),
            "input_conductance": full(input_conductance),
            "readout_gain": full(readout_gain),
            "feedthrough": full(feedthrough),
        }
        register_tensors(self, tensors, trainable)
        place(self, device, dtype)

    @property
    def capacitance(self) -> Tensor:
        """C_m in farads, ``(channels,)``."""
        return F.softplus(self.raw_capacitance)

    @property
    def leak_conductance(self) -> Tensor:
        """G_l in siemens, ``(channels,)``."""
        return F.softplus(self.raw_leak)

    @property
    def coupling_conductance(self) -> Tensor:
        """G_c in siemens, ``(channels,)``."""
        return F.softplus(self.raw_coupling)

    def rates(self) -> tuple[Tensor, Tensor]:
        """``(a, b)`` of dV/dt = -a V + b u, each ``(channels,)`` in 1/s."""
        c_m = self.capacitance
        return (self.leak_conductance + self.coupling_conductance) / c_m, (
            self.input_conductance / c_m
        )

    def matrices(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        a, b = self.rates()
        return -a, torch.diag(b), torch.diag(self.readout_gain), torch.diag(self.feedthrough)
