"""``kinnsci finetune``: physics-only fine-tuning of a trained operator on new inputs."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLES = """examples:
  kinnsci finetune runs/fno/final.pt --data darcy_64.nc --steps 200 --out runs/fno_ft
  kinnsci evaluate runs/fno_ft/final.pt --data darcy_64.nc      # the fine-tuned model
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "finetune", help="fine-tune a trained operator on new inputs with the PDE residual",
        description="PINO's test-time optimisation: minimise the PDE residual of "
        "CHECKPOINT's predictions on the inputs of --data (its targets are not used for "
        "training), then print the residual and the test error before and after and write "
        "OUT/final.pt and OUT/finetune.json. The data must come from a generator with an "
        "equation (kinnsci.physics: darcy, poisson, navier_stokes, shallow_water, or your "
        "own).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path, help="a checkpoint written by kinnsci train")
    p.add_argument("--data", type=Path, required=True,
                   help="netCDF file with the run's variables (inputs; targets only for the "
                   "error report)")
    p.add_argument("--steps", type=int, default=100, help="optimiser steps (default: 100)")
    p.add_argument("--lr", type=float, default=1e-4,
                   help="AdamW learning rate, constant (default: 1e-4)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="samples per step (default: the run's batch size)")
    p.add_argument("--amp", choices=("bf16", "fp16"), default=None,
                   help="mixed precision, as in training (the residual is float32)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda when "
                   "present, else cpu)")
    p.add_argument("--out", type=Path, required=True, help="folder for final.pt and "
                   "finetune.json (must be new or empty)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kinnsci.cli.errors import report as report_error
    from kinnsci.cli.errors import user_errors
    from kinnsci.train.finetune import finetune_checkpoint

    try:
        report = finetune_checkpoint(args.checkpoint, args.data, steps=args.steps,
                                     lr=args.lr, out=args.out, batch_size=args.batch_size,
                                     amp=args.amp, device=args.device,
                                     progress=not args.no_progress)
    except user_errors() as exc:
        report_error(exc, "finetune")
        return 2
    before, after = report["before"], report["after"]
    print(f"{report['equation']} residual (mean square) on {report['samples']} sample(s): "
          f"{before['residual']:.4g} -> {after['residual']:.4g} after {report['steps']} "
          f"steps ({report['seconds']:.0f} s)")
    for name in before["test"]:
        print(f"  {name}: {before['test'][name]:.4g} -> {after['test'][name]:.4g}")
    print(f"fine-tuned model: {report['out']}")
    return 0
