"""Adaptive ODE solving through torchdiffeq, optionally with the adjoint method."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchdiffeq import odeint, odeint_adjoint

from kinnsci.cells.base import Cell
from kinnsci.discretize.base import Discretizer
from kinnsci.errors import ConfigError


class _HeldInputField(nn.Module):
    """dh/ds on the unit interval s in [0, 1] for one step of length dt from t0, input held.

    Rescaling time to s makes per-sample step sizes (dt of shape (...)) a single solve.
    """

    def __init__(self, cell: Cell, u: Tensor, t0: Tensor, dt: Tensor) -> None:
        super().__init__()
        self.cell, self.u, self.t0, self.dt = cell, u, t0, dt

    def forward(self, s: Tensor, h: Tensor) -> Tensor:
        dt = self.dt[..., None] if self.dt.ndim else self.dt
        return dt * self.cell.vector_field(self.t0 + s * self.dt, h, self.u)


# torchdiffeq's solvers and their orders (the adaptive ones to tolerance, the fixed-grid
# ones per step; dopri5 is Dormand-Prince 5(4), its error controlled at order 4)
METHOD_ORDERS = {"dopri8": 8, "dopri5": 5, "bosh3": 3, "fehlberg2": 2, "adaptive_heun": 2,
                 "euler": 1, "midpoint": 2, "heun2": 2, "heun3": 3, "rk4": 4,
                 "explicit_adams": 4, "implicit_adams": 4, "fixed_adams": 4,
                 "scipy_solver": 5}


class Adaptive(Discretizer):
    """Adaptive-step integration of any cell with torchdiffeq's ``odeint``.

    Each step integrates dh/dt = f(t, h, u) over [t, t + dt] with u held constant, using
    ``method`` (default ``dopri5``, Dormand–Prince 5(4)) to relative/absolute tolerances
    ``rtol``/``atol``. ``adjoint=True`` uses ``odeint_adjoint``: memory independent of the
    number of internal steps, gradients by solving the adjoint ODE backwards. ``order`` is
    the method's (``METHOD_ORDERS``: 5 for dopri5, 8 for dopri8, 4 for rk4, ...); accuracy
    is set by the tolerances, not by dt. Linear cells are integrated like any other.

    Raises:
        ConfigError: ``rtol`` or ``atol`` not > 0, or an unknown ``method``.
    """

    name = "adaptive"
    exact_for_linear = False
    a_stable = False
    supports_nonlinear = True

    def __init__(
        self,
        method: str = "dopri5",
        rtol: float = 1e-6,
        atol: float = 1e-8,
        adjoint: bool = False,
        options: dict | None = None,
    ) -> None:
        if rtol <= 0 or atol <= 0:
            raise ConfigError(f"rtol and atol must be > 0, got rtol={rtol}, atol={atol}")
        if method not in METHOD_ORDERS:
            raise ConfigError(f"method must be one of torchdiffeq's {sorted(METHOD_ORDERS)}, "
                              f"got {method!r}")
        self.method, self.rtol, self.atol = method, rtol, atol
        self.adjoint, self.options = adjoint, options
        self.order = METHOD_ORDERS[method]

    def coefficients(self, A: Tensor, B: Tensor, dt: float | Tensor) -> tuple[Tensor, Tensor]:
        """Not available: an adaptive solve has no closed-form (Abar, Bbar).

        Raises:
            TypeError: always; use ``zoh`` (exact) for coefficients.
        """
        raise TypeError("Adaptive has no closed-form coefficients; use 'zoh' (exact for "
                        "linear cells)")

    def step(self, cell: Cell, h: Tensor, u: Tensor, t: float | Tensor,
             dt: float | Tensor) -> Tensor:
        """Integrate any cell over [t, t + dt] with u held (see :meth:`Discretizer.step`)."""
        dt = self.checked_step_size(cell, h, u, dt)
        t0 = torch.as_tensor(t, dtype=h.dtype, device=h.device)
        field = _HeldInputField(cell, u, t0, dt)
        span = torch.tensor([0.0, 1.0], dtype=h.dtype, device=h.device)
        kwargs = dict(rtol=self.rtol, atol=self.atol, method=self.method, options=self.options)
        if self.adjoint:
            extra = tuple(x for x in (u, dt) if x.requires_grad)
            params = tuple(p for p in cell.parameters() if p.requires_grad) + extra
            return odeint_adjoint(field, h, span, adjoint_params=params, **kwargs)[-1]
        return odeint(field, h, span, **kwargs)[-1]

    def __repr__(self) -> str:
        return (
            f"Adaptive(method={self.method!r}, rtol={self.rtol}, atol={self.atol}, "
            f"adjoint={self.adjoint})"
        )
