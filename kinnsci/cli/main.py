"""Entry point of the ``kinnsci`` console script."""

from __future__ import annotations

import argparse
import sys

from kinnsci.cli import (
    evaluate,
    finetune,
    generate,
    info,
    inspect,
    quickstart,
    reproduce,
    train,
    train_vision,
)

SUBCOMMANDS = (generate, train, train_vision, evaluate, finetune, inspect, quickstart, reproduce,
               info)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kinnsci",
        description="Kirchhoff-inspired neural operators for PDE data.",
        epilog="examples:\n  kinnsci quickstart\n"
        "  kinnsci generate darcy --n-samples 64 --resolution 32 --out darcy.nc\n"
        "  kinnsci train --model fno --data darcy.nc --inputs a --targets u --out runs/fno\n"
        "  kinnsci evaluate runs/fno/final.pt --data darcy.nc\n"
        "  kinnsci finetune runs/fno/final.pt --data darcy_64.nc --out runs/fno_ft\n"
        "  kinnsci inspect runs/ukno/final.pt\n"
        "  kinnsci train-vision --data images/ --model kinn_vision_tiny --out runs/tiny\n"
        "  kinnsci reproduce darcy --scale small\n"
        "  kinnsci info",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings of the command line as one line each, without the source path (a user
    reads what happened, not where in kinnsci it was noticed)."""
    kind = "warning" if category is UserWarning else category.__name__
    return f"kinnsci: {kind}: {message}\n"


def main(argv: list[str] | None = None) -> int:
    import warnings

    warnings.formatwarning = _one_line_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
