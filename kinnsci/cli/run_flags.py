"""Flags shared by the training subcommands (``train``, ``train-vision``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

# switches add_run_flags defines whose values are config keys of the same name
CONFIG_SWITCHES = ("model_config", "compile", "channels_last", "plots")


def add_run_flags(p: argparse.ArgumentParser, flags: dict[str, type]) -> None:
    """``--<key>`` for each config key in ``flags`` (key -> type), then the model config,
    torch.compile, channels-last, plots, resume/overwrite and progress switches."""
    for flag, kind in flags.items():
        p.add_argument("--" + flag.replace("_", "-"), dest=flag, type=kind)
    p.add_argument("--model-config", type=json.loads, help="JSON dict of model settings")
    p.add_argument("--compile", action="store_true", default=None, help="use torch.compile")
    p.add_argument("--channels-last", action="store_true", default=None,
                   help="channels-last (NHWC) weights and batches: faster convolutions on CPUs")
    p.add_argument("--no-plots", dest="plots", action="store_false", default=None)
    p.add_argument("--resume", type=Path, help="continue from this checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace results in --out")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
