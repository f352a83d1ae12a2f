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
from kinnsci.models.base import BaseModel, check_rows

TOPOLOGIES = ("fc", "ne", "proj")


class KirchhoffNet(BaseModel):
    """Nodes: ``in_channels`` input nodes, ``hidden_channels`` extra nodes and
    ``out_channels`` output nodes (read out at the end), all but the inputs starting at 0 V.

    Args:
        topology: ``"fc"`` (all ordered pairs incl. ground, the regression setting),
            ``"ne"`` (k×k windows of an ``image_shape`` = (C, H, W) input, plus full
            connections between the other nodes and everything) or ``"proj"``
            (NE + ``hidden_channels`` projected nodes joined to every pixel).
        repeat: parallel devices per edge (the paper's KirchhoffNet-s uses 2).
        branch: a name in ``kinnsci.cells.BRANCHES`` (Eq. 10 ``"relu_diff"`` by default).
        periods: D, the number of periods, each with its own devices.
        t_end: T, the length of each period in seconds (the whole run lasts D · T).
        rtol: relative tolerance of the ``adaptive`` discretizer.
        atol: its absolute tolerance.
        method: its torchdiffeq method (``dopri5``).
        adjoint: gradients by the adjoint method (constant memory).

    Input (batch, in_channels) -> output (batch, out_channels).

    Raises:
        ConfigError: a size out of range, an unknown topology or ``t_end <= 0``.
    """

    name = "kirchhoffnet"
    renamed_arguments = {"in_features": "in_channels", "out_features": "out_channels",
                         "hidden_nodes": "hidden_channels", "period_time": "t_end"}

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 0, *,
                 topology: str = "fc", repeat: int = 2, branch: str = "relu_diff",
                 periods: int = 1, t_end: float = 1.0, capacitance: float = 1.0,
                 image_shape: tuple[int, int, int] | None = None, kernel: int = 3,
                 rtol: float = 1e-3, atol: float = 1e-3, method: str = "dopri5",
                 adjoint: bool = False) -> None:
        super().__init__()
        if min(in_channels, out_channels) < 1 or hidden_channels < 0 or periods < 1:
            raise ConfigError("in_channels, out_channels, periods must be >= 1 and "
                              f"hidden_channels >= 0, got {in_channels}, {out_channels}, "
                              f"{periods}, {hidden_channels}")
        if topology not in TOPOLOGIES:
            raise ConfigError(f"topology must be one of {TOPOLOGIES}, got {topology!r}")
        if t_end <= 0:
            raise ConfigError(f"t_end (the length of a period) must be > 0, got {t_end}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.n_nodes = in_channels + hidden_channels + out_channels
        edges = self._edges(topology, repeat, hidden_channels, image_shape, kernel)
        self.periods = nn.ModuleList(
            CircuitCell(self.n_nodes, edges, branch, capacitance=capacitance)
            for _ in range(periods))
        self.t_end = t_end
        self.solver = Adaptive(method=method, rtol=rtol, atol=atol, adjoint=adjoint)

    def _edges(self, topology, repeat, hidden, image_shape, kernel) -> Tensor:
        n = self.n_nodes
        if topology == "fc":
            return fully_connected(n, repeat)
        if image_shape is None or image_shape[0] * image_shape[1] * image_shape[2] != \
                self.in_channels:
            raise ConfigError(f"topology {topology!r} needs image_shape=(C, H, W) with C·H·W = "
                              f"in_channels = {self.in_channels}, got {image_shape}")
        c, h, w = image_shape
        m = self.in_channels
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

    def initial_voltages(self, x: Tensor) -> Tensor:
        """The circuit's state at t = 0: the inputs on the first nodes, 0 V elsewhere.
        x (batch, in_channels) -> (batch, n_nodes).

        Raises:
            ConfigError: ``x`` is not ``(batch, in_channels)``.
        """
        check_rows(self, x)
        return torch.cat([x, x.new_zeros(x.shape[0], self.n_nodes - self.in_channels)], dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        """x (batch, in_channels) -> the output nodes' voltages at D · T (batch,
        out_channels)."""
        v = self.initial_voltages(x)
        no_input = v.new_zeros(v.shape[0], 0)
        for k, cell in enumerate(self.periods):
            v = self.solver.step(cell, v, no_input, k * self.t_end, self.t_end)
        return v[:, -self.out_channels:]

    def node_voltages(self, x: Tensor, times: Tensor) -> Tensor:
        """Voltages of all nodes at ``times`` (increasing, from 0, within the first period):
        (len(times), batch, n_nodes), solved by the model's ``adaptive`` discretizer."""
        v = self.initial_voltages(x)
        no_input = v.new_zeros(v.shape[0], len(times), 0)
        return self.solver.solve(self.periods[0], v, no_input, times).transpose(0, 1)
