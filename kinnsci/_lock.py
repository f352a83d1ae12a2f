"""One writer per output: an exclusive lock held while a run writes a file or folder."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from kinnsci.errors import OutputExistsError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here (documented); runs are not locked
    fcntl = None


_HELD: set[Path] = set()  # lock files this process holds (removed on a signal's exit)


def remove_held_locks() -> None:
    """Remove the lock files this process holds: for an exit that skips ``finally``
    blocks (``os._exit`` after Ctrl-C); the locks themselves die with the process."""
    for lock in list(_HELD):
        with contextlib.suppress(OSError):
            lock.unlink()


class OutputBusyError(OutputExistsError):
    """Another kinnsci process is writing the same output right now."""


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of an output: ``.NAME.kinnsci-lock`` beside it."""
    path = Path(path)
    return path.parent / f".{path.name}.kinnsci-lock"


@contextlib.contextmanager
def output_lock(path: str | os.PathLike, argument: str = "out") -> Iterator[None]:
    """Hold an exclusive lock on the output ``path`` (a file or a folder) while the block
    runs. A second kinnsci process asking for the same output fails at once with
    :class:`OutputBusyError`, one line naming the other process; the lock dies with its
    process (``flock``), so a killed run never blocks the next one.

    Raises:
        OutputBusyError: another process holds the lock.
    """
    if fcntl is None:
        yield
        return
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise OutputBusyError(
            f"{argument} {path} is being written by another kinnsci process (pid {owner}); "
            "wait for it to finish, or choose another output", path=path,
            what=f"is being written by another kinnsci process (pid {owner})") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        _HELD.add(lock)
        yield
    finally:
        _HELD.discard(lock)
        with contextlib.suppress(OSError):
            lock.unlink()  # while still holding it: a waiting process then makes a new one
        os.close(fd)
