"""``kinnsci inspect``: what the Kirchhoff state does in a trained checkpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kinnsci.errors import OutputExistsError

EXAMPLES = """examples:
  kinnsci inspect runs/fkno/final.pt
  kinnsci inspect runs/ukno/final.pt --data darcy_test.nc --json kirchhoff.json --plot kirchhoff.png
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "inspect", help="Kirchhoff diagnostics of a trained checkpoint",
        description="Per KNC of CHECKPOINT, on a batch of data: the share of its output the "
        "Kirchhoff state carries (||C h|| / ||D x||), the |A| dt its nodes reach and their "
        "time constants; and how much the prediction changes when the discretizer is "
        "swapped (zoh -> euler, bilinear).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path, help="a checkpoint written by kinnsci train")
    p.add_argument("--data", type=Path,
                   help="netCDF/HDF5 file with the run's variables (default: its training file)")
    p.add_argument("--samples", type=int, default=8, help="samples in the batch (default: 8)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the report as JSON")
    p.add_argument("--plot", type=Path, metavar="PNG", help="write the report's figure")
    p.add_argument("--overwrite", action="store_true", help="replace existing --json/--plot")
    p.set_defaults(func=run)


def _table(report: dict) -> str:
    lines = [f"{report['model']} from {report['checkpoint']} on {report['samples']} "
             f"sample(s) of {report['data']}",
             f"{'KNC':<40} {'state share':>11} {'|A|dt median':>12} {'tau (steps)':>11}"]
    for k in report["kncs"]:
        share = "cut" if k["state_cut"] else (
            "n/a" if k["state_share"] is None else f"{100 * k['state_share']:.2f} %")
        adt = f"{k['abs_A_dt']['q50']:.3g}" if "abs_A_dt" in k else "-"
        tau = f"{k['time_constant_steps']['q50']:.3g}" if "time_constant_steps" in k else "-"
        lines.append(f"{k['module'][:40]:<40} {share:>11} {adt:>12} {tau:>11}")
    swaps = ", ".join(f"{n} {100 * v:.3g} %" for n, v in report["discretizer_swap"].items())
    lines.append(f"prediction change when the discretizer is swapped: {swaps}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from kinnsci._atomic import write_text_atomic
    from kinnsci._paths import check_output_path
    from kinnsci.cli.errors import report as report_error
    from kinnsci.cli.errors import user_errors
    from kinnsci.train import inspect_checkpoint

    try:
        for flag, target in (("--json", args.json), ("--plot", args.plot)):
            if target is not None:
                check_output_path(target, flag)
                if target.exists() and not args.overwrite:
                    raise OutputExistsError(f"{target} exists", path=target)
        report = inspect_checkpoint(args.checkpoint, args.data, n_samples=args.samples)
    except user_errors() as exc:
        report_error(exc, "inspect")
        return 2
    print(_table(report))
    if args.json:
        write_text_atomic(args.json, json.dumps(report, indent=2) + "\n")
    if args.plot:
        from kinnsci.layers import plot_kirchhoff

        plot_kirchhoff(report, args.plot, title=f"{report['model']}: {args.checkpoint}")
    return 0
