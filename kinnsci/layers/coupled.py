"""Layers of coupled Kirchhoff nodes and an MLP built from them."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from kinnsci.cells.coupled import CoupledKirchhoffCell
from kinnsci.discretize import get_discretizer
from kinnsci.errors import ConfigError


class CoupledKirchhoffLayer(nn.Module):
    """Drive a :class:`CoupledKirchhoffCell` from rest with a constant input x for
    ``steps`` steps of ``dt`` and return the node voltages: (batch, in) -> (batch, n).

    The ZOH coefficients (one ``matrix_exp`` of the augmented matrix) are computed once
    per forward pass and reused for every step and every sample, so equal steps cost one
    matrix exponential.

    ``naive=True`` is the common unconstrained formulation, kept as a baseline: a free
    matrix W (no sign or symmetry constraint) stepped with Euler at the fixed dt,
    V ← V + dt (W V + W_in x).
    """

    def __init__(self, in_features: int, n_nodes: int, *, dt: float = 1.0, steps: int = 4,
                 discretizer: str = "zoh", symmetric: bool = True, naive: bool = False):
        super().__init__()
        if dt <= 0 or steps < 1:
            raise ConfigError(f"dt must be > 0 and steps >= 1, got {dt}, {steps}")
        self.dt, self.steps, self.naive = dt, steps, naive
        if naive:
            self.weight = nn.Parameter(torch.randn(n_nodes, n_nodes) / n_nodes**0.5)
            self.input_weight = nn.Parameter(torch.randn(n_nodes, in_features) /
                                             in_features**0.5)
        else:
            self.cell = CoupledKirchhoffCell(n_nodes, in_features, symmetric=symmetric)
            self.discretizer = get_discretizer(discretizer)

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
        for _ in range(self.steps):
            v = v @ a_bar.T + drive
        return v


class KirchhoffMLP(nn.Module):
    """``depth`` coupled layers of ``hidden`` nodes (tanh between them) and a linear
    readout: (batch, in) -> (batch, out). Keyword arguments go to every layer."""

    def __init__(self, in_features: int, out_features: int, hidden: int = 64, depth: int = 2,
                 **layer_kwargs):
        super().__init__()
        widths = [in_features] + [hidden] * depth
        self.layers = nn.ModuleList(CoupledKirchhoffLayer(widths[i], hidden, **layer_kwargs)
                                    for i in range(depth))
        self.readout = nn.Linear(hidden, out_features)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return self.readout(x)
