"""The errors a subcommand reports as one line ("kinnsci CMD: error: ...", exit 2)
instead of a traceback: those caused by the user's input, which all derive from
:class:`kinnsci.errors.KinnsciError`. Anything else is a bug and keeps its traceback."""

from __future__ import annotations

import json
import os
import sys
import time

from kinnsci.errors import KinnsciError, OutputExistsError

# What each command's flags let a user do about an output that exists: the library's
# messages speak Python (overwrite=True), the command line speaks its own flags.
EXISTING_OUTPUT = {
    "generate": "pass --overwrite to replace it, or choose another --out",
    "train": "pass --overwrite to replace them, --resume OUT/last.pt to continue, or choose "
             "another --out",
    "train-vision": "pass --overwrite to replace them, --resume OUT/last.pt to continue, or "
                    "choose another --out",
    "quickstart": "pass --overwrite to replace them, or choose another --out",
    "evaluate": "pass --overwrite to replace it, or choose another --json/--plots",
    "reproduce": "pass --resume to continue it (finished runs are kept), or choose another "
                 "--out",
}


def user_errors() -> tuple[type[Exception], ...]:
    """Exception types caused by the user's input."""
    return (KinnsciError,)


def report(exc: Exception, command: str) -> None:
    """Print ``exc`` as ``kinnsci COMMAND: error: ...`` on stderr; an existing output is
    described with this command's own flags."""
    message = str(exc)
    if isinstance(exc, OutputExistsError) and exc.path is not None and command in EXISTING_OUTPUT:
        message = f"{exc.path} {exc.what}; {EXISTING_OUTPUT[command]}"
    line = f"kinnsci {command}: error: {message}"
    print(line, file=sys.stderr)
    # Under torchrun the line would drown in its failure report: its error file makes the
    # line that report's "root cause".
    error_file = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if error_file:
        with open(error_file, "w") as fh:
            json.dump({"message": line, "timestamp": str(int(time.time()))}, fh)
