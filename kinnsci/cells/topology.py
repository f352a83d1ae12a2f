"""Edge lists of KirchhoffNet layers (KirchhoffNet, Fig. 4), built with tensor ops.

Node 0 is ground; nodes 1..N carry voltages. Every function returns a LongTensor
(E, 2) of (source, destination) pairs; ``repeat`` duplicates each edge (parallel devices
with separate parameters).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from kinnsci.errors import ConfigError


def _all_ordered_pairs(groups: Tensor) -> Tensor:
    """groups (G, m) of node indices -> every (a, b), a != b, within each group."""
    m = groups.shape[1]
    a, b = torch.meshgrid(torch.arange(m), torch.arange(m), indexing="ij")
    keep = a != b
    return torch.stack([groups[:, a[keep]], groups[:, b[keep]]], dim=-1).reshape(-1, 2)


def fully_connected(n_nodes: int, repeat: int = 1, ground: bool = True) -> Tensor:
    """Every ordered pair among nodes 1..N (and ground when ``ground``): the FC layer."""
    nodes = torch.arange(0 if ground else 1, n_nodes + 1)
    return _all_ordered_pairs(nodes[None]).repeat_interleave(repeat, dim=0)


def neighbour_emphasizing(channels: int, height: int, width: int, kernel: int = 3,
                          repeat: int = 1) -> Tensor:
    """The NE layer: nodes 1..C·H·W are the pixels of a (C, H, W) image; every ordered pair
    of pixels inside each k×k window (all channels) is an edge (``unfold``, no padding).

    Raises:
        ConfigError: ``kernel`` is larger than the image.
    """
    if kernel > min(height, width):
        raise ConfigError(f"kernel {kernel} is larger than the {height}x{width} image")
    index = torch.arange(1, 1 + channels * height * width, dtype=torch.float64)
    windows = F.unfold(index.view(1, channels, height, width), kernel)[0].T.long()  # (L, C k²)
    return _all_ordered_pairs(windows).repeat_interleave(repeat, dim=0)


def projection(channels: int, height: int, width: int, kernel: int, n_projected: int,
               repeat: tuple[int, int] = (1, 1)) -> Tensor:
    """The Proj layer: an NE layer plus ``n_projected`` extra nodes joined both ways to every
    original node and to ground (none among themselves)."""
    ne = neighbour_emphasizing(channels, height, width, kernel, repeat[0])
    m = channels * height * width
    extra = torch.arange(m + 1, m + 1 + n_projected)
    base = torch.arange(0, m + 1)
    p, j = torch.meshgrid(extra, base, indexing="ij")
    both = torch.stack([torch.stack([p, j], -1), torch.stack([j, p], -1)], dim=2).reshape(-1, 2)
    return torch.cat([ne, both.repeat_interleave(repeat[1], dim=0)])
