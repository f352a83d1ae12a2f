"""A layer of n RC nodes that all talk to each other through conductances (passive KCL)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kinnsci._checks import inverse_softplus
from kinnsci.cells.base import place
from kinnsci.cells.linear import LinearCellBase
from kinnsci.errors import ConfigError


class CoupledKirchhoffCell(LinearCellBase):
    """n nodes, each with a capacitor to ground, a leak, and a branch to every other node::

        C dV/dt = −(L + G_leak) V + W_in x,     L = diag(G 1) − G   (graph Laplacian)

    ``G_ij = softplus(θ_ij) ≥ 0`` for i ≠ j. With ``symmetric=True`` (default) G is
    symmetric, so each branch obeys KCL in both directions and the circuit is passive:
    −C⁻¹(L + G_leak) is similar to a symmetric negative semi-definite matrix, its
    eigenvalues are real and ≤ 0, the stored energy ½ Σ C_i V_i² never grows without
    input, and the exact ZOH update is stable for every dt.

    ``symmetric=False`` lets G be directed. Gershgorin's theorem still puts every
    eigenvalue in Re ≤ 0, but they can be complex and the energy can grow for a while;
    :meth:`energy_growth_penalty` measures that, so it can be added to a loss.

    Args:
        n_nodes: n, the number of nodes.
        input_dim: width of the input x.
        symmetric: couple nodes by symmetric (passive) or directed conductances.
        capacitance: initial C > 0 of every node (softplus-parametrised, learnable).
        leak: initial G_leak >= 0 of every node (softplus-parametrised, learnable).
        init_scale: spread of the raw conductances at initialisation.

    State V (..., n); input x (..., input_dim); output V.

    Raises:
        ConfigError: a size < 1, ``capacitance <= 0`` or ``leak < 0``.
    """

    name = "coupled_kirchhoff"

    def __init__(self, n_nodes: int, input_dim: int, *, symmetric: bool = True,
                 capacitance: float = 1.0, leak: float = 0.1, init_scale: float = 1.0,
                 device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if n_nodes < 1 or input_dim < 1:
            raise ConfigError(f"n_nodes and input_dim must be >= 1, got {n_nodes}, {input_dim}")
        if capacitance <= 0 or leak < 0:
            raise ConfigError(f"capacitance must be > 0 and leak >= 0, got {capacitance}, {leak}")
        self.diagonal = False
        self.symmetric = symmetric
        self.state_dim, self.input_dim, self.output_dim = n_nodes, input_dim, n_nodes
        self.raw_conductance = nn.Parameter(torch.randn(n_nodes, n_nodes) * init_scale
                                            - 2.0)
        self.raw_leak = nn.Parameter(inverse_softplus(max(leak, 1e-6)).expand(n_nodes).clone())
        self.raw_capacitance = nn.Parameter(
            inverse_softplus(capacitance).expand(n_nodes).clone())
        self.input_weight = nn.Parameter(torch.randn(n_nodes, input_dim) / input_dim**0.5)
        place(self, device, dtype)

    def conductances(self) -> Tensor:
        """G (n, n): non-negative, zero diagonal, symmetric unless ``symmetric=False``."""
        g = F.softplus(self.raw_conductance)
        if self.symmetric:
            g = 0.5 * (g + g.T)
        return g * (1 - torch.eye(g.shape[0], dtype=g.dtype, device=g.device))

    def capacitance(self) -> Tensor:
        return F.softplus(self.raw_capacitance)

    def leak(self) -> Tensor:
        return F.softplus(self.raw_leak)

    def conductance_matrix(self) -> Tensor:
        """L + G_leak (n, n): the node-admittance matrix."""
        g = self.conductances()
        return torch.diag(g.sum(1) + self.leak()) - g

    def matrices(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        c = self.capacitance()[:, None]
        A = -self.conductance_matrix() / c
        B = self.input_weight / c
        eye = torch.eye(self.state_dim, dtype=A.dtype, device=A.device)
        return A, B, eye, torch.zeros(self.state_dim, self.input_dim, dtype=A.dtype,
                                      device=A.device)

    def energy(self, v: Tensor) -> Tensor:
        """Stored energy ½ Σ C_i V_i² (joules): (..., n) -> (...)."""
        return 0.5 * (self.capacitance() * v**2).sum(-1)

    def steady_state(self, x: Tensor) -> Tensor:
        """V with dV/dt = 0 for a constant input: (L + G_leak)⁻¹ W_in x, (..., n)."""
        rhs = x @ self.input_weight.T
        return torch.linalg.solve(self.conductance_matrix(), rhs.unsqueeze(-1)).squeeze(-1)

    def energy_growth_penalty(self) -> Tensor:
        """relu(−λ_min(sym(L + G_leak))): 0 exactly when the energy cannot grow (always for
        ``symmetric=True``); positive for directed couplings that let it grow."""
        m = self.conductance_matrix()
        return torch.relu(-torch.linalg.eigvalsh(0.5 * (m + m.T))[0])
