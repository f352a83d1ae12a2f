"""The errors a subcommand reports as one line ("kinnsci CMD: error: ...", exit 2)
instead of a traceback: those caused by the user's input, which all derive from
:class:`kinnsci.errors.KinnsciError`. Anything else is a bug and keeps its traceback."""

from __future__ import annotations

from kinnsci.errors import KinnsciError


def user_errors() -> tuple[type[Exception], ...]:
    """Exception types caused by the user's input."""
    return (KinnsciError,)
