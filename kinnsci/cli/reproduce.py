"""``kinnsci reproduce``: the papers' experiments with seeds and a verdict per claim."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXAMPLES = """examples:
  kinnsci reproduce --list
  kinnsci reproduce darcy --scale smoke
  kinnsci reproduce darcy --scale small --seeds 3 --out reproduce_out
  kinnsci reproduce all --scale small --out reproduce_out --resume   # after an interruption
  kinnsci reproduce darcy --lrs 1.25e-4 5e-4 2e-3 8e-3 3.2e-2 --out wide   # a wider sweep
  kinnsci reproduce kirchhoffnet --scale small   # Table I on Diabetes and Friedman #1
  kinnsci reproduce dynpmnn --data housing.csv --target MedHouseVal   # your own table
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "reproduce", help="rerun the papers' experiments with seeds, error bars and verdicts",
        description="Generate each experiment's data with the project's seeded generators, "
        "sweep every model's learning rate on a validation split (same grid, budget and "
        "split for every model), train each model with several seeds, and write "
        "results.json, results.md (mean ± std, verdict per paper claim) and PNGs to "
        "OUT/EXPERIMENT/. Finished runs are kept in OUT/runs/ and never recomputed. "
        "'kirchhoffnet' and 'dynpmnn' run the other two papers' regression claims on "
        "scikit-learn's tables (pip install -e '.[papers]'), or on --data FILE.csv.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", nargs="?", metavar="EXPERIMENT",
                   help="an experiment name from --list, a group (kirchhoffnet, dynpmnn: "
                   "each on Diabetes and Friedman #1), or 'all'")
    p.add_argument("--list", action="store_true",
                   help="list the experiments, their models and estimated times, and exit")
    p.add_argument("--scale", choices=("smoke", "small", "paper"), default="small",
                   help="smoke: seconds (checks the machinery); small: 20-60 min per "
                   "experiment on 2 CPU cores; paper: the paper's sizes, for GPUs "
                   "(default: small)")
    p.add_argument("--seeds", type=int, default=None,
                   help="seeds per model (default: 2 at smoke, 5 at small, 3 at paper)")
    p.add_argument("--lrs", type=float, nargs="+", metavar="LR",
                   help="the learning-rate grid every model is swept over (default per "
                   "scale; small: 5e-4 2e-3 8e-3)")
    p.add_argument("--out", type=Path, default=Path("reproduce_out"),
                   help="results folder, shared by experiments (default: reproduce_out)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted experiment in --out; finished runs are kept")
    p.add_argument("--data", type=Path, metavar="FILE.csv",
                   help="kirchhoffnet / dynpmnn only: run the comparison on this CSV table "
                   "(header row, numeric columns) instead of the built-in ones, e.g. your "
                   "copy of California Housing; results go to OUT/GROUP-FILESTEM")
    p.add_argument("--target", metavar="COLUMN",
                   help="with --data: the target column (default: the last column)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--claims", action="store_true",
                   help="print the claims table of every experiment at --scale from the "
                   "results.json files in --out (an experiment without one: 'not rerun "
                   "under the new rule') and exit; runs nothing")
    p.set_defaults(func=run)


def list_experiments() -> str:
    from kinnsci.reproduce.experiments import EXPERIMENTS

    lines = ["Time from scratch on 2 CPU cores (measured, as docs/results.md describes; or ~ "
             "extrapolated from the small scale by data x epochs x grid points: a lower "
             "bound).", "",
             "| experiment | models | paper | smoke | small | paper scale |",
             "|---|---|---|---:|---:|---:|"]
    for exp in EXPERIMENTS.values():
        plan = exp.plan("small")
        models = ", ".join(dict.fromkeys(v.label.split(",")[0] for v in plan.variants))
        times = [_minutes(*exp.estimated_minutes(s)) for s in ("smoke", "small", "paper")]
        lines.append(f"| {exp.name} | {models} | {plan.paper_ref} | " + " | ".join(times)
                     + " |")
    return "\n".join(lines)


def _minutes(minutes: float | None, measured: bool) -> str:
    if minutes is None:
        return "not measured"
    text = (f"{minutes * 60:.0f} s" if minutes < 1 else f"{minutes:.1f} min" if minutes < 120
            else f"{minutes / 60:.0f} h")
    return text if measured else f"~{text}"


def table_experiment(args: argparse.Namespace, lrs):
    """The plan of ``kinnsci reproduce GROUP --data FILE.csv``."""
    from dataclasses import replace

    from kinnsci.reproduce.experiments import Experiment
    from kinnsci.reproduce.papers import table_plan

    group = args.experiment.lower()
    plan = table_plan(group, args.scale, args.data, args.target)
    # through Experiment.plan: the same seed and learning-rate overrides as built-in ones
    return Experiment(plan.experiment, lambda scale: replace(plan, scale=scale),
                      {}).plan(args.scale, args.seeds, lrs)


def run(args: argparse.Namespace) -> int:
    from kinnsci.cli.errors import report, user_errors
    from kinnsci.cli.interrupt import run_interruptible
    from kinnsci.errors import ConfigError

    if args.list:
        print(list_experiments())
        return 0
    if args.claims:
        from kinnsci.reproduce.report import claims_overview

        print(claims_overview(args.out, args.scale))
        return 0
    if not args.experiment:
        print("kinnsci reproduce: error: name an EXPERIMENT (see --list) or 'all'",
              file=sys.stderr)
        return 2
    try:
        from kinnsci.reproduce import EXPERIMENTS, run_experiment
        from kinnsci.reproduce.experiments import experiment_names

        lrs = tuple(args.lrs) if args.lrs else None
        if args.data is not None:
            plans = [table_experiment(args, lrs)]
        else:
            if args.target is not None:
                raise ConfigError("--target names a column of --data FILE.csv; give "
                                  "--data too, or leave --target out")
            plans = [EXPERIMENTS[n].plan(args.scale, args.seeds, lrs)
                     for n in experiment_names(args.experiment)]
        for plan in plans:
            print(f"kinnsci reproduce {plan.experiment} (scale {plan.scale}, {plan.seeds} "
                  f"seeds, lr grid {', '.join(f'{lr:g}' for lr in plan.lrs)})")
            run_interruptible(
                lambda plan=plan: run_experiment(plan, args.out, resume=args.resume,
                                                 progress=not args.no_progress),
                "reproduce", hint=f"finished runs are kept: continue with --resume --out "
                f"{args.out}")
            print(f"results in {(args.out / plan.experiment).resolve()}\n")
    except user_errors() as exc:
        report(exc, "reproduce")
        return 2
    return 0
