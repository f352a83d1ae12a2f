"""Writing files so that a crash never leaves half a file where a good one was.

Temporary files are named ``.<name>.<host>-<pid>-<random>.tmp`` beside their target, so a
later write to the same target can tell the leftovers of a killed process (same host, pid
gone) from a write still in progress, and remove them.
"""

from __future__ import annotations

import glob
import os
import socket
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

IN_PROGRESS: set[Path] = set()
"""Temporary files of atomic writes now in progress in this process (for signal handlers)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _owner_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove temporary files of earlier writes to ``path`` whose process is gone.

    Only files written on this host are judged (a pid means nothing on another host of a
    shared file system); temporaries of live processes are kept.

    Returns:
        The removed paths.
    """
    path = Path(path)
    host = socket.gethostname()
    head = f".{path.name}."
    removed = []
    for tmp in path.parent.glob(f"{glob.escape(head)}*.tmp"):
        owner_host, _, rest = tmp.name[len(head):-len(".tmp")].rpartition("-")[0].rpartition(
            "-")
        if owner_host != host or not rest.isdigit() or _owner_alive(int(rest)):
            continue
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def remove_in_progress() -> list[Path]:
    """Remove the temporary files of this process's unfinished atomic writes (called by
    the command line's signal handler just before it exits)."""
    removed = []
    for tmp in list(IN_PROGRESS):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    IN_PROGRESS.clear()
    return removed


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed onto
    ``path`` (``os.replace``, atomic on POSIX), on any error it is removed.

    The temporary file lives in the same folder, so the rename never crosses file
    systems; stale temporaries that killed processes left for ``path`` are removed first.
    The result gets the mode of the file it replaces, or the one the umask gives a new
    file (``mkstemp`` alone would leave 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    mode = (stat.S_IMODE(path.stat().st_mode) if path.exists()
            else 0o666 & ~_umask())
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.{socket.gethostname()}-{os.getpid()}-",
                                suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    IN_PROGRESS.add(tmp)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        IN_PROGRESS.discard(tmp)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)
