"""KirchhoffNet: a whole analog circuit as a neural network (Gao et al., KirchhoffNet).

Inputs are the initial node voltages, outputs the voltages after D periods of length T;
in between, the circuit's ODE (:class:`kinnsci.cells.CircuitCell`) is solved by the
adaptive discretizer (torchdiffeq dopri5, rtol = atol = 1e-3 like the reference code;
``adjoint=True`` for constant-memory gradients). Each period has its own devices.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from kinnsci.cells.circuit import CircuitCell
from kinnsci.cells.topology import fully_connected, neighbour_emphasizing, projection
from kinnsci.discretize.adaptive import Adaptive
from kinnsci.errors import ConfigError
from kinnsci.models.io import SaveLoadMixin

TOPOLOGIES = ("fc", "ne", "proj")


class KirchhoffNet(SaveLoadMixin, nn.Module):
    """Nodes: ``in_features`` input nodes, ``hidden_nodes`` extra nodes and ``out_features``
    output nodes (read out at the end), all but the inputs starting at 0 V.

    Args:
        topology: ``"fc"`` (all ordered pairs incl. ground, the regression setting),
            ``"ne"`` (k×k windows of an ``image_shape`` = (C, H, W) input, plus full
            connections between the other nodes and everything) or ``"proj"``
            (NE + ``hidden_nodes`` projected nodes joined to every pixel).
        repeat: parallel devices per edge (the paper's KirchhoffNet-s uses 2).
        branch: a name in ``kinnsci.cells.BRANCHES`` (Eq. 10 ``"relu_diff"`` by default).
        periods: D; period_time: T.

    Input (batch, in_features) -> output (batch, out_features).
    """

    name = "kirchhoffnet"  # registry name (kinnsci.models.MODELS)

    def __init__(self, in_features: int, out_features: int, hidden_nodes: int = 0, *,
                 topology: str = "fc", repeat: int = 2, branch: str = "relu_diff",
                 periods: int = 1, period_time: float = 1.0, capacitance: float = 1.0,
                 image_shape: tuple[int, int, int] | None = None, kernel: int = 3,
                 rtol: float = 1e-3, atol: float = 1e-3, method: str = "dopri5",
                 adjoint: bool = False) -> None:
        super().__init__()
        if min(in_features, out_features) < 1 or hidden_nodes < 0 or periods < 1:
            raise ConfigError("in_features, out_features, periods must be >= 1 and "
                             f"hidden_nodes >= 0, got {in_features}, {out_features}, "
                             f"{periods}, {hidden_nodes}")
        if topology not in TOPOLOGIES:
            raise ConfigError(f"topology must be one of {TOPOLOGIES}, got {topology!r}")
        if period_time <= 0:
            raise ConfigError(f"period_time must be > 0, got {period_time}")
        self.in_features, self.out_features = in_features, out_features
        self.n_nodes = in_features + hidden_nodes + out_features
        edges = self._edges(topology, repeat, hidden_nodes, image_shape, kernel)
        self.periods = nn.ModuleList(
            CircuitCell(self.n_nodes, edges, branch, capacitance=capacitance)
            for _ in range(periods))
        self.period_time = period_time
        self.solver = Adaptive(method=method, rtol=rtol, atol=atol, adjoint=adjoint)

    def _edges(self, topology, repeat, hidden, image_shape, kernel) -> Tensor:
        n = self.n_nodes
        if topology == "fc":
            return fully_connected(n, repeat)
        if image_shape is None or image_shape[0] * image_shape[1] * image_shape[2] != \
                self.in_features:
            raise ConfigError(f"topology {topology!r} needs image_shape=(C, H, W) with C·H·W = "
                             f"in_features = {self.in_features}, got {image_shape}")
        c, h, w = image_shape
        m = self.in_features
        if topology == "proj":
            local = projection(c, h, w, kernel, hidden, (repeat, repeat))
        else:
            local = neighbour_emphasizing(c, h, w, kernel, repeat)
        # Output (and, for NE, hidden) nodes listen to every node and to ground.
        first_free = m + (hidden if topology == "proj" else 0) + 1
        free = torch.arange(first_free, n + 1)
        everyone = torch.arange(0, n + 1)
        s, d = torch.meshgrid(everyone, free, indexing="ij")
        keep = s != d
        listen = torch.stack([s[keep], d[keep]], dim=-1).repeat_interleave(repeat, dim=0)
        return torch.cat([local, listen])

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[-1] != self.in_features:
            raise ConfigError(f"KirchhoffNet expects (batch, {self.in_features}) inputs, got "
                             f"{tuple(x.shape)}")
        v = torch.cat([x, x.new_zeros(x.shape[0], self.n_nodes - self.in_features)], dim=-1)
        no_input = v.new_zeros(v.shape[0], 0)
        for k, cell in enumerate(self.periods):
            v = self.solver.step(cell, v, no_input, k * self.period_time, self.period_time)
        return v[:, -self.out_features:]

    def node_voltages(self, x: Tensor, times: Tensor) -> Tensor:
        """Voltages of all nodes at ``times`` within the first period: (len(times), B, N)."""
        from torchdiffeq import odeint

        v = torch.cat([x, x.new_zeros(x.shape[0], self.n_nodes - self.in_features)], dim=-1)
        cell = self.periods[0]
        return odeint(lambda t, h: cell.vector_field(t, h), v, times,
                      rtol=self.solver.rtol, atol=self.solver.atol, method=self.solver.method)
