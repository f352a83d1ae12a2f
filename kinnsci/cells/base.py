"""The continuous-time cell contract.

A cell knows its physics and nothing else: the state equation dh/dt = f(t, h, u) and the
readout y = g(h, u). Discretizers (``kinnsci.discretize``) turn it into a time stepper.

Layout: states ``h`` are ``(..., state_dim)``, inputs ``u`` are ``(..., input_dim)`` and
outputs ``y`` are ``(..., output_dim)``; leading dimensions are batch dimensions.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from kinnsci._checks import check_last_dim
from kinnsci._registry import register_class
from kinnsci.errors import ConfigError


def register_tensors(module: nn.Module, tensors: dict[str, Tensor], trainable: bool) -> None:
    """Attach each tensor to ``module`` under its name: as an ``nn.Parameter`` when
    ``trainable``, else as a buffer (moved and saved with the module, not trained)."""
    for name, value in tensors.items():
        if trainable:
            setattr(module, name, nn.Parameter(value))
        else:
            module.register_buffer(name, value)


def place(module: nn.Module, device: torch.device | str | None,
          dtype: torch.dtype | None) -> None:
    """Move a module's just-created parameters and buffers to ``device``/``dtype`` (the
    ``device=``/``dtype=`` arguments of a constructor, as torch's modules take them;
    integer buffers such as edge lists keep their dtype)."""
    if device is not None or dtype is not None:
        module.to(device=device, dtype=dtype)


CELLS: dict[str, type[Cell]] = {}  # filled as each cell class is defined


class Cell(nn.Module):
    """Base class of continuous-time cells.

    Subclasses set ``state_dim``, ``input_dim`` and ``output_dim`` and implement
    :meth:`vector_field` and :meth:`readout`. Linear cells also implement
    :meth:`matrices` and set ``is_linear = True``. A subclass with a class attribute
    ``name`` is registered in ``CELLS`` (``get_cell(name)``) when it is defined.
    """

    name: ClassVar[str]
    state_dim: int
    input_dim: int
    output_dim: int
    is_linear: bool = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        register_class(CELLS, cls, "cell")

    def vector_field(self, t: Tensor | float, h: Tensor, u: Tensor) -> Tensor:
        """dh/dt at time ``t``. h: (..., state_dim), u: (..., input_dim) -> (..., state_dim)."""
        raise NotImplementedError

    def readout(self, h: Tensor, u: Tensor) -> Tensor:
        """Output y. h: (..., state_dim), u: (..., input_dim) -> (..., output_dim)."""
        raise NotImplementedError

    def forward(self, t: Tensor | float, h: Tensor, u: Tensor | None = None) -> Tensor:
        """dh/dt, as :meth:`vector_field`.

        A cell without inputs (``input_dim == 0``, e.g. a circuit) is then an ODE function
        ``f(t, h)`` that ``torchdiffeq.odeint(cell, h0, t)`` accepts as it is. A cell with
        inputs needs ``u``: solve it through a discretizer (``get_discretizer("adaptive")``
        holds ``u`` constant over each step), which is what kinnsci's models do.

        Raises:
            ConfigError: ``u`` is missing for a cell that has inputs.
        """
        if u is None:
            if self.input_dim:
                raise ConfigError(
                    f"{type(self).__name__} has {self.input_dim} inputs: call it as "
                    "cell(t, h, u), or solve it with a discretizer (e.g. "
                    "get_discretizer('adaptive').solve(cell, h0, u, t))")
            u = h.new_zeros(h.shape[:-1] + (0,))
        return self.vector_field(t, h, u)

    def check_state_input(self, h: Tensor, u: Tensor) -> None:
        """Raise a clear ``ValueError`` if ``h`` and ``u`` do not fit this cell.

        Raises:
            ConfigError: a last dim that does not fit the cell, or h and u with other batch dims.
        """
        check_last_dim(h, self.state_dim, "h", f"state of {type(self).__name__}")
        check_last_dim(u, self.input_dim, "u", f"input of {type(self).__name__}")
        if h.shape[:-1] != u.shape[:-1]:
            raise ConfigError(
                f"h and u must share their batch dimensions, got h {tuple(h.shape)} and "
                f"u {tuple(u.shape)} (expand or reshape one of them)"
            )

    def extra_repr(self) -> str:
        return (
            f"state_dim={self.state_dim}, input_dim={self.input_dim}, output_dim={self.output_dim}"
        )
