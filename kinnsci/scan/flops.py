"""Analytic FLOP count of the selective scan, for model complexity tables.

Dense layers are counted by ``torch.utils.flop_counter.FlopCounterMode``; the scan is a
fused recurrence whose cost that mode cannot see inside, so every scan call reports its
own count here, in the convention of VMamba's selective-scan handle: ``9 * B * L * D * N``
multiply-adds for a scan over (batch B, length L, channels D) with N states.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_active: list[list[int]] = []


@contextmanager
def count_scan_flops() -> Iterator[list[int]]:
    """Within the block, every selective scan adds its count to ``counter[0]``::

        with count_scan_flops() as counter:
            model(x)
        scan_flops = counter[0]
    """
    counter = [0]
    _active.append(counter)
    try:
        yield counter
    finally:
        _active.remove(counter)


def record_scan(batch: int, length: int, channels: int, states: int) -> None:
    """Add one scan's ``9 * B * L * D * N`` to every active counter."""
    for counter in _active:
        counter[0] += 9 * batch * length * channels * states
