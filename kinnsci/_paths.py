"""Checks that an output path can be written, made before any work starts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from kinnsci.errors import ConfigError


def check_output_path(path: str | os.PathLike, argument: str, *, folder: bool = False) -> Path:
    """Raise ``ValueError`` (one line naming ``argument``) unless ``path`` can be created
    or replaced: a file where a folder is wanted or the reverse, a parent that is a file,
    or a folder this process cannot write in.

    Checked by creating and removing a temporary file in the deepest existing folder, so
    the answer is right for root, read-only mounts and ACLs alike.
    """
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise ConfigError(f"{argument} {path} is a file, not a folder; choose a folder path")
    if not folder and path.is_dir():
        raise ConfigError(f"{argument} {path} is a folder; give the path of a file")
    ancestor = path if folder and path.is_dir() else path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(f"{argument} {path} cannot be created: {ancestor} is a file, not a "
                         "folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".kinnsci-write-check.", dir=ancestor)
    except OSError as exc:
        raise ConfigError(f"{argument} {path} cannot be written: no write access to "
                         f"{ancestor} ({exc.strerror}); choose another path") from None
    os.close(fd)
    os.unlink(probe)
    return path
