"""Linear recurrences over long sequences: the selective Kirchhoff scan.

``selective_scan_ref`` is the readable loop; ``selective_scan`` the fast chunked path with
the same numbers (tests pin them together in float64). ``SCANS`` names both.
"""

from kinnsci.scan.directions import (
    VALID_DIRECTIONS,
    check_directions,
    grid_to_sequences,
    sequences_to_grid,
)
from kinnsci.scan.linear_recurrence import linear_recurrence
from kinnsci.scan.reference import discretize_selective, selective_scan_ref
from kinnsci.scan.selective import selective_scan, time_invariant_scan

SCANS = {"reference": selective_scan_ref, "chunked": selective_scan}

__all__ = [
    "SCANS",
    "VALID_DIRECTIONS",
    "check_directions",
    "discretize_selective",
    "grid_to_sequences",
    "linear_recurrence",
    "selective_scan",
    "selective_scan_ref",
    "sequences_to_grid",
    "time_invariant_scan",
]
