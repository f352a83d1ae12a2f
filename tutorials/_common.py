"""Shared set-up for the tutorials: smoke mode, an output folder, headless matplotlib."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

SMOKE = os.environ.get("KINNSCI_SMOKE") == "1"


def output_dir(name: str) -> Path:
    """Folder for a tutorial's files (``KINNSCI_TUTORIAL_OUT`` or ./tutorial_out)."""
    out = Path(os.environ.get("KINNSCI_TUTORIAL_OUT", "tutorial_out")) / name
    out.mkdir(parents=True, exist_ok=True)
    return out
