"""Linear recurrences over long sequences: the selective Kirchhoff scan.

``selective_scan_ref`` is the readable loop; ``selective_scan`` the fast chunked path with
the same numbers (tests pin them together in float64). ``SCANS`` maps each backend name
(``reference``, ``cpp``, ``pytorch``, and ``auto``: the best that applies) to a function
with ``selective_scan``'s arguments.
"""

import functools
import warnings

from kinnsci.scan.checks import CHUNK_SIZE
from kinnsci.scan.directions import (
    VALID_DIRECTIONS,
    check_directions,
    direction_layout,
    grid_to_sequence,
    grid_to_sequences,
    sequence_to_grid,
    sequences_to_grid,
)
from kinnsci.scan.linear_recurrence import linear_recurrence
from kinnsci.scan.reference import discretize_selective, selective_scan_ref
from kinnsci.scan.selective import BACKENDS, selective_scan, time_invariant_scan


class _Scans(dict):
    """``SCANS``; kinnsci 0.1's key ``"chunked"`` still answers, with a warning."""

    def __missing__(self, key):
        if key == "chunked":
            warnings.warn("SCANS['chunked'] is deprecated and will be removed in kinnsci 0.3; "
                          "use SCANS['auto']", DeprecationWarning, stacklevel=2)
            return self["auto"]
        raise KeyError(key)


SCANS = _Scans(reference=selective_scan_ref, **{
    name: functools.partial(selective_scan, backend=name) for name in BACKENDS})

__all__ = [
    "BACKENDS",
    "CHUNK_SIZE",
    "SCANS",
    "VALID_DIRECTIONS",
    "check_directions",
    "direction_layout",
    "discretize_selective",
    "grid_to_sequence",
    "grid_to_sequences",
    "linear_recurrence",
    "selective_scan",
    "selective_scan_ref",
    "sequence_to_grid",
    "sequences_to_grid",
    "time_invariant_scan",
]
