"""``kinnsci quickstart``: generate a small Darcy set, train operators, compare them."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "quickstart",
        help="generate Darcy data, train FNO / U-Net / UKNO on it and compare them",
        description="End-to-end demo on data generated locally (no downloads): 80 Darcy "
        "samples at 32x32 (64 train / 16 test), FNO, U-Net and UKNO trained with the same "
        "budget, a table of parameters, time and test errors, and PNG plots. About 3-5 "
        "minutes on two CPU cores; uses CUDA when present.",
        epilog="examples:\n  kinnsci quickstart\n  kinnsci quickstart --out demo --epochs 10",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=Path("quickstart_out"), help="results folder")
    p.add_argument("--epochs", type=int, default=30, help="epochs per model (default 30)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kinnsci.train import quickstart

    return quickstart.main(args)
