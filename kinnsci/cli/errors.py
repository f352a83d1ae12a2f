"""The errors a subcommand reports as one line ("kinnsci CMD: error: ...", exit 2)
instead of a traceback: bad arguments, configs, files and data, and diverged runs."""

from __future__ import annotations


def user_errors() -> tuple[type[Exception], ...]:
    """Exception types caused by the user's input (imported lazily: ``--help`` stays fast)."""
    from kinnsci.data import DataError
    from kinnsci.train import CheckpointError, NonFiniteLossError

    return (ValueError, FileExistsError, FileNotFoundError, DataError, CheckpointError,
            NonFiniteLossError)
