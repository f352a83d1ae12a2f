"""Named channel groups of a dataset's inputs: what each block of channels of ``x`` is.

A dataset's item is ``(x, y)`` with ``x`` (C, H, W) so that any model takes it; its
``input_layout`` names the blocks of C (``"states"``: the history, time-major;
``"static"``: time-independent fields), and code that needs one block asks for it by
name (``layout.split(x)["static"]``) instead of slicing channel positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from kinnsci.errors import ConfigError


@dataclass(frozen=True)
class InputLayout:
    """The input channels as ``(name, channel count)`` blocks, in order.

    Example: ``InputLayout((("states", 4), ("static", 1)))`` for a history of 2 states of
    2 variables and one coefficient field.
    """

    groups: tuple[tuple[str, int], ...]

    @property
    def channels(self) -> int:
        """C, the channels of the whole input."""
        return sum(n for _, n in self.groups)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.groups)

    def slices(self) -> dict[str, slice]:
        """``{name: slice of the channel axis}``."""
        out, start = {}, 0
        for name, n in self.groups:
            out[name] = slice(start, start + n)
            start += n
        return out

    def split(self, x: Tensor, dim: int = 1) -> dict[str, Tensor]:
        """``x`` (B, C, H, W) (or C on axis ``dim``) -> ``{name: its channels}``.

        Raises:
            ConfigError: ``x`` does not have this layout's C channels on ``dim``.
        """
        if x.shape[dim] != self.channels:
            raise ConfigError(f"inputs have {x.shape[dim]} channels on axis {dim}; the layout "
                              f"{dict(self.groups)} has {self.channels}")
        return {name: x.narrow(dim, s.start, s.stop - s.start)
                for name, s in self.slices().items()}

    def join(self, parts: dict[str, Tensor], dim: int = 1) -> Tensor:
        """The inverse of :meth:`split`: the named blocks concatenated in layout order."""
        return torch.cat([parts[name] for name in self.names], dim=dim)
