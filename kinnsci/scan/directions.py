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
    """Raise ``ConfigError`` unless ``directions`` is 1, 2 or 4.

    Raises:
        ConfigError: ``directions`` is not 1, 2 or 4.
    """
    if directions not in VALID_DIRECTIONS:
        raise ConfigError(
            f"directions must be one of {VALID_DIRECTIONS} (row; + column; + both reversed), "
            f"got {directions!r}"
        )


def direction_layout(index: int) -> tuple[bool, bool]:
    """``(column_major, reversed)`` of direction ``index`` (0..3).

    Raises:
        ConfigError: ``index`` is not 0..3.
    """
    if index not in range(4):
        raise ConfigError(f"direction index must be 0..3, got {index!r}")
    return bool(index % 2), index >= 2


def grid_to_sequence(x: Tensor, column_major: bool) -> Tensor:
    """Channels-last grid ``(B, H, W, C)`` -> one sequence ``(B, H*W, C)``, row-major
    (along x, then down the rows) or column-major.

    Raises:
        ConfigError: ``x`` is not 4-D.
    """
    if x.ndim != 4:
        raise ConfigError(f"x must be a channels-last grid (B, H, W, C), got {tuple(x.shape)}")
    b, h, w, c = x.shape
    return (x.transpose(1, 2) if column_major else x).reshape(b, h * w, c)


def sequence_to_grid(seq: Tensor, height: int, width: int, column_major: bool) -> Tensor:
    """Inverse of :func:`grid_to_sequence`: ``(B, H*W, C)`` -> ``(B, H, W, C)``.

    Raises:
        ConfigError: the length is not ``height * width``.
    """
    b, length, c = seq.shape
    if length != height * width:
        raise ConfigError(f"sequence length {length} != height * width = {height * width}")
    if column_major:
        return seq.reshape(b, width, height, c).transpose(1, 2)
    return seq.reshape(b, height, width, c)


def grid_to_sequences(x: Tensor, directions: int) -> Tensor:
    """Channels-last grid ``(B, H, W, C)`` -> sequences ``(K, B, H*W, C)``, K = directions,
    each in the traversal order of its direction (reversed ones flipped)."""
    check_directions(directions)
    seqs = []
    for index in range(directions):
        column_major, reverse = direction_layout(index)
        seq = grid_to_sequence(x, column_major)
        seqs.append(seq.flip(1) if reverse else seq)
    return torch.stack(seqs)


def sequences_to_grid(seqs: Tensor, height: int, width: int, reduce: bool = True) -> Tensor:
    """Inverse of :func:`grid_to_sequences`: ``(K, B, H*W, C)`` -> ``(B, H, W, C)`` summed
    over directions (``reduce=True``) or ``(K, B, H, W, C)``."""
    check_directions(seqs.shape[0])
    grids = []
    for index, seq in enumerate(seqs):
        column_major, reverse = direction_layout(index)
        grids.append(sequence_to_grid(seq.flip(1) if reverse else seq, height, width,
                                      column_major))
    out = torch.stack(grids)
    return out.sum(0) if reduce else out
