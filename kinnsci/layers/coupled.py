"""Layers of coupled Kirchhoff nodes and an MLP built from them."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from kinnsci._deprecation import renamed_arguments
from kinnsci.cells.base import place
from kinnsci.cells.coupled import CoupledKirchhoffCell
from kinnsci.discretize import Discretizer, get_discretizer
from kinnsci.errors import ConfigError


class CoupledKirchhoffLayer(nn.Module):
    """Drive a :class:`CoupledKirchhoffCell` of ``out_channels`` nodes from rest with a
    constant input x for ``n_steps`` steps of ``dt`` and return the node voltages:
    (batch, in_channels) -> (batch, out_channels).

    The ZOH coefficients (one ``matrix_exp`` of the augmented matrix) are computed once
    per forward pass and reused for every step and every sample, so equal steps cost one
    matrix exponential.

    ``naive=True`` is the common unconstrained formulation, kept as a baseline: a free
    matrix W (no sign or symmetry constraint) stepped with Euler at the fixed dt,
    V ← V + dt (W V + W_in x).

    Raises:
        ConfigError: ``dt <= 0`` or ``n_steps < 1``.
    """

    @renamed_arguments(in_features="in_channels", n_nodes="out_channels", steps="n_steps")
    def __init__(self, in_channels: int, out_channels: int, *, dt: float = 1.0,
                 n_steps: int = 4, discretizer: str | Discretizer = "zoh",
                 symmetric: bool = True, naive: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        if dt <= 0 or n_steps < 1:
            raise ConfigError(f"dt must be > 0 and n_steps >= 1, got dt={dt}, n_steps={n_steps}")
        in_features, n_nodes = in_channels, out_channels
        self.dt, self.n_steps, self.naive = dt, n_steps, naive
        if naive:
            self.weight = nn.Parameter(torch.randn(n_nodes, n_nodes) / n_nodes**0.5)
            self.input_weight = nn.Parameter(torch.randn(n_nodes, in_features) /
                                             in_features**0.5)
        else:
            self.cell = CoupledKirchhoffCell(n_nodes, in_features, symmetric=symmetric)
            self.discretizer = get_discretizer(discretizer)
        place(self, device, dtype)

    def step_matrices(self) -> tuple[Tensor, Tensor]:
        """(Ā, B̄) of one step: V_k = Ā V_{k-1} + B̄ x."""
        if self.naive:
            eye = torch.eye(self.weight.shape[0], dtype=self.weight.dtype,
                            device=self.weight.device)
            return eye + self.dt * self.weight, self.dt * self.input_weight
        A, B, _, _ = self.cell.matrices()
        return self.discretizer.coefficients_dense(A, B, self.dt)

    def forward(self, x: Tensor) -> Tensor:
        a_bar, b_bar = self.step_matrices()
        drive = x @ b_bar.T
        v = torch.zeros_like(drive)
        for _ in range(self.n_steps):
            v = v @ a_bar.T + drive
        return v


class KirchhoffMLP(nn.Module):
    """``n_layers`` coupled layers of ``hidden_channels`` nodes (tanh between them) and a
    linear readout: (batch, in_channels) -> (batch, out_channels). Keyword arguments go to
    every :class:`CoupledKirchhoffLayer`."""

    @renamed_arguments(in_features="in_channels", out_features="out_channels",
                       hidden="hidden_channels", depth="n_layers", steps="n_steps")
    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64,
                 n_layers: int = 2, **layer_kwargs):
        super().__init__()
        widths = [in_channels] + [hidden_channels] * n_layers
        self.layers = nn.ModuleList(
            CoupledKirchhoffLayer(widths[i], hidden_channels, **layer_kwargs)
            for i in range(n_layers))
        self.readout = nn.Linear(hidden_channels, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return self.readout(x)
