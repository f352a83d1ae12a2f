"""Flatten 2-D grids into 1, 2 or 4 directional sequences and sum them back.

Directions (index: order of traversal of a (H, W) grid):
0 row-major (along x, then down the rows), 1 column-major (along y, then across),
2 row-major reversed, 3 column-major reversed. ``directions=K`` uses indices 0..K-1.
"""

from __future__ import annotations

import torch
from torch import Tensor

from kinnsci.errors import ConfigError

VALID_DIRECTIONS = (1, 2, 4)


def check_directions(directions: int) -> None:
    if directions not in VALID_DIRECTIONS:
        raise ConfigError(
            f"directions must be one of {VALID_DIRECTIONS} (row; + column; + both reversed), "
            f"got {directions!r}"
        )


def grid_to_sequences(x: Tensor, directions: int) -> Tensor:
    """Channels-last grid ``(B, H, W, C)`` -> sequences ``(K, B, H*W, C)``, K = directions."""
    check_directions(directions)
    if x.ndim != 4:
        raise ConfigError(f"x must be a channels-last grid (B, H, W, C), got {tuple(x.shape)}")
    b, h, w, c = x.shape
    rows = x.reshape(b, h * w, c)
    seqs = [rows]
    if directions >= 2:
        seqs.append(x.transpose(1, 2).reshape(b, h * w, c))
    if directions == 4:
        seqs += [s.flip(1) for s in seqs[:2]]
    return torch.stack(seqs)


def sequences_to_grid(seqs: Tensor, height: int, width: int, reduce: bool = True) -> Tensor:
    """Inverse of :func:`grid_to_sequences`: ``(K, B, H*W, C)`` -> ``(B, H, W, C)`` summed
    over directions (``reduce=True``) or ``(K, B, H, W, C)``."""
    k, b, length, c = seqs.shape
    check_directions(k)
    if length != height * width:
        raise ConfigError(f"sequence length {length} != height * width = {height * width}")
    grids = []
    for i in range(k):
        s = seqs[i].flip(1) if i >= 2 else seqs[i]
        if i % 2 == 0:
            grids.append(s.reshape(b, height, width, c))
        else:
            grids.append(s.reshape(b, width, height, c).transpose(1, 2))
    out = torch.stack(grids)
    return out.sum(0) if reduce else out
