"""Branch devices of a KirchhoffNet: the current through an edge as a function of the two
node voltages (KirchhoffNet, Eqs. 3 and 10-13).

Each device is one small class: how many parameters an edge carries, the current
``i_sd = g(v_s, v_d; θ)`` vectorised over edges, and the same law as a SPICE behavioural
expression so a trained circuit can be simulated outside PyTorch. Adding a device is one
class with a ``name`` (defining it registers it in ``BRANCHES``).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from kinnsci._registry import lookup, register_class

BRANCHES: dict[str, type[Branch]] = {}  # filled as each device class is defined


class Branch:
    """Current law of one edge. ``theta`` has shape (n_edges, n_params)."""

    name: ClassVar[str]
    n_params: ClassVar[int]
    linear: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        register_class(BRANCHES, cls, "branch")

    def current(self, vs: Tensor, vd: Tensor, theta: Tensor) -> Tensor:
        """vs, vd: (..., n_edges) -> current from source to destination (..., n_edges)."""
        raise NotImplementedError

    def spice(self, vs: str, vd: str, theta: list[float]) -> str:
        """The current as an ngspice B-source expression in the voltages ``vs``, ``vd``."""
        raise NotImplementedError


def _f(x: float) -> str:
    return f"{x:.17g}"


class Conductance(Branch):
    """``i = θ (v_s − v_d)`` (Eq. 3): a (possibly negative) conductance."""

    name, n_params, linear = "conductance", 1, True

    def current(self, vs, vd, theta):
        return theta[:, 0] * (vs - vd)

    def spice(self, vs, vd, theta):
        return f"{_f(theta[0])}*({vs}-{vd})"


class ReluDifference(Branch):
    """``i = ReLU(θ₁ (v_s − v_d) + θ₂)`` (Eq. 10): conductance + current source + diode-like
    one-sided switch."""

    name, n_params = "relu_diff", 2

    def current(self, vs, vd, theta):
        return torch.relu(theta[:, 0] * (vs - vd) + theta[:, 1])

    def spice(self, vs, vd, theta):
        return f"max({_f(theta[0])}*({vs}-{vd})+{_f(theta[1])}, 0)"


class TanhDifference(Branch):
    """``i = tanh(θ₁ (v_s − v_d) + θ₂)`` (Eq. 11)."""

    name, n_params = "tanh_diff", 2

    def current(self, vs, vd, theta):
        return torch.tanh(theta[:, 0] * (vs - vd) + theta[:, 1])

    def spice(self, vs, vd, theta):
        return f"tanh({_f(theta[0])}*({vs}-{vd})+{_f(theta[1])})"


class ReluGeneral(Branch):
    """``i = ReLU(θ₁ v_s + θ₂ v_d + θ₃)`` (Eq. 12): two VCCSs, a source and a switch."""

    name, n_params = "relu", 3

    def current(self, vs, vd, theta):
        return torch.relu(theta[:, 0] * vs + theta[:, 1] * vd + theta[:, 2])

    def spice(self, vs, vd, theta):
        return f"max({_f(theta[0])}*{vs}+{_f(theta[1])}*{vd}+{_f(theta[2])}, 0)"


class TanhGeneral(Branch):
    """``i = tanh(θ₁ v_s + θ₂ v_d + θ₃)`` (Eq. 13)."""

    name, n_params = "tanh", 3

    def current(self, vs, vd, theta):
        return torch.tanh(theta[:, 0] * vs + theta[:, 1] * vd + theta[:, 2])

    def spice(self, vs, vd, theta):
        return f"tanh({_f(theta[0])}*{vs}+{_f(theta[1])}*{vd}+{_f(theta[2])})"


def get_branch(name: str) -> Branch:
    """The branch device registered as ``name`` (see ``BRANCHES``).

    Raises:
        ConfigError: ``name`` is not a registered branch device.
    """
    return lookup(BRANCHES, name, "branch")()
