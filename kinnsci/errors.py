"""The errors kinnsci raises for problems in what a user gave it.

Every error caused by the user's input (an argument, a config, a data file, a checkpoint)
derives from :class:`KinnsciError`; the command line prints those as one line
(``kinnsci CMD: error: ...``, exit status 2) and lets everything else, a bug, keep its
traceback. Each class also derives from the built-in type code catches today
(``ValueError``, ``FileExistsError``, ...), so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class KinnsciError(Exception):
    """Base of every error caused by the user's input; the message says how to fix it."""


class ConfigError(KinnsciError, ValueError):
    """An argument, option or config value is invalid (wrong type, range or name)."""


class DataError(KinnsciError, ValueError):
    """A data file or variable cannot be used as asked."""


class CheckpointError(KinnsciError, ValueError):
    """A checkpoint file cannot be used (another format, run or model)."""


class OutputExistsError(KinnsciError, FileExistsError):
    """An output exists and replacing it was not asked for.

    ``path`` is the output and ``what`` says what is there ("already exists", "already
    holds results"), so the command line can tell users which of its flags to pass.
    """

    def __init__(self, message: str, path: object = None, what: str = "already exists"):
        super().__init__(message)
        self.path, self.what = path, what


class InputNotFoundError(KinnsciError, FileNotFoundError):
    """A file or folder the user named does not exist."""


class TrainingError(KinnsciError, RuntimeError):
    """Training cannot go on as configured (e.g. the loss became NaN or inf)."""


__all__ = ["CheckpointError", "ConfigError", "DataError", "InputNotFoundError",
           "KinnsciError", "OutputExistsError", "TrainingError"]
