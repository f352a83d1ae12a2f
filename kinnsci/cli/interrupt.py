"""Ctrl-C and SIGTERM that stop a command at once and leave no temporary file behind.

A long netCDF/HDF5 write is one C call that Python's signal handling cannot interrupt
(and netCDF4 swallows the ``KeyboardInterrupt`` raised after it), so the work runs in a
worker thread while the main thread, which receives signals, only waits.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

from kinnsci._atomic import remove_in_progress
from kinnsci._lock import remove_held_locks

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_interruptible(work: Callable[[], T], command: str,
                      exit: Callable[[int], object] = os._exit, hint: str = "") -> T:
    """Return ``work()``; on SIGINT/SIGTERM remove the temporary files of atomic writes in
    progress, say so (and ``hint``, e.g. how to resume) in one line on stderr and
    ``exit(128 + signal number)`` (130 for Ctrl-C, 143 for SIGTERM) without waiting for
    the work to reach a Python frame. Files written atomically stay whole: each is either
    the previous version or the new one.

    Outside the main thread (where signal handlers cannot be set) ``work`` runs directly.

    Raises:
        Whatever ``work`` raises.
    """
    if threading.current_thread() is not threading.main_thread():
        return work()
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    def on_signal(signum: int, frame: object) -> None:
        removed = remove_in_progress()
        remove_held_locks()
        note = (f"; removed the unfinished {', '.join(str(p) for p in removed)} (the output "
                "is unchanged)" if removed else "")
        then = f"; {hint}" if hint else ""
        print(f"\nkinnsci {command}: stopped by {signal.Signals(signum).name}{note}{then}",
              file=sys.stderr, flush=True)
        exit(128 + signum)

    previous = {s: signal.signal(s, on_signal) for s in SIGNALS}
    try:
        worker = threading.Thread(target=target, name=f"kinnsci-{command}", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.1)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
