"""How big a generated data set will be, checked against memory and disk before any work.

Generators simulate every sample in memory and then write one file, so a request that
cannot fit would otherwise fail (or swap) after the whole simulation. The estimate is the
size of the float64 fields, times a measured factor for the peak memory (random-field
FFTs, the solver's work arrays and netCDF's write buffers: 2.2 to 4.1 × measured with
``resource.getrusage`` on every generator) and a measured compression fraction for disk.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from kinnsci.errors import ConfigError

PEAK_MEMORY_FACTOR = 4.5
"""Peak resident memory / bytes of the fields (largest measured: 4.1, Darcy and Poisson)."""


def field_nbytes(variables: int, n_samples: int, resolution: int, n_times: int = 1) -> int:
    """Bytes of ``variables`` float64 fields of shape (n_samples, [n_times,] res, res)."""
    return 8 * variables * n_samples * n_times * resolution * resolution


def available_memory() -> int | None:
    """Bytes this process can still allocate: Linux ``MemAvailable``, lowered to a cgroup
    (container) limit when one is set; None where neither can be read."""
    avail = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit != "max":
            room = int(limit) - used
            avail = room if avail is None else min(avail, room)
    except (OSError, ValueError):
        pass
    return avail


def free_disk(path: Path) -> int:
    """Bytes free on the file system that will hold ``path`` (its deepest existing folder)."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def _gb(nbytes: float) -> str:
    return f"{nbytes / 1e9:.2f} GB" if nbytes >= 1e8 else f"{nbytes / 1e6:.1f} MB"


SPLIT_ADVICE = ("generate it in parts with different --seed values (kinnsci reads them as "
                "one set: --data 'part_*.nc'), or lower --n-samples/--resolution")


def check_memory(name: str, n_samples: int, resolution: int, nbytes: int) -> None:
    """Raise ``ConfigError`` with the numbers when simulating ``nbytes`` bytes of fields
    needs more memory than this machine has available (checked before any work).

    Raises:
        ConfigError: the dataset would not fit in memory.
    """
    memory = available_memory()
    need = PEAK_MEMORY_FACTOR * nbytes
    if memory is not None and need > memory:
        raise ConfigError(
            f"n_samples: {name} with {n_samples} samples at {resolution}² holds {_gb(nbytes)} "
            f"of fields and needs about {_gb(need)} of memory while simulating, but "
            f"{_gb(memory)} are available; {SPLIT_ADVICE}")


def check_disk(name: str, on_disk: float, out: Path) -> None:
    """Raise ``ConfigError`` with the numbers when a file of about ``on_disk`` bytes will
    not fit on the disk of ``out`` (checked before any work).

    Raises:
        ConfigError: the file would not fit on the disk.
    """
    free = free_disk(out)
    if on_disk > free:
        raise ConfigError(
            f"out: the {name} file will take about {_gb(on_disk)} but the disk of {out} has "
            f"{_gb(free)} free; choose another --out, free space, or {SPLIT_ADVICE}")
