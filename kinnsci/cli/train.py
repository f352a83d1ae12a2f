"""``kinnsci train``: train an operator from a YAML/JSON config or command-line flags."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXAMPLES = """examples:
  kinnsci train --model fno --data darcy.nc --inputs a --targets u --epochs 50 --out runs/fno
  kinnsci train --model ukno --data ns.nc --variables w --history 10 --horizon 3 \\
      --model-config '{"widths": [32, 48, 64, 96], "res_blocks": 2}' --rollout 40
  kinnsci train --config run.yaml                      # keys as in kinnsci.train.RunConfig
  kinnsci train --config run.yaml --resume runs/fno/last.pt
  torchrun --nproc-per-node 2 -m kinnsci.cli.main train --config run.yaml   # DDP
"""

# flag -> RunConfig key; a flag given on the command line overrides the config file.
FLAGS = {
    "model": str, "data": str, "history": int, "horizon": int, "epochs": int,
    "batch_size": int, "lr": float, "weight_decay": float, "scheduler": str, "seed": int,
    "out": str, "device": str, "amp": str, "normalizer": str, "loss": str, "num_workers": int,
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from kinnsci.train.config import RunConfig

    p = subparsers.add_parser(
        "train", help="train a neural operator on a netCDF/HDF5 file",
        description="Train a model and write checkpoints (last.pt every epoch, final.pt), "
        "metrics.json and plots/ to --out. Config keys: " + ", ".join(RunConfig.keys()),
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, help="YAML or JSON run config")
    for flag, kind in FLAGS.items():
        p.add_argument("--" + flag.replace("_", "-"), dest=flag, type=kind)
    p.add_argument("--inputs", nargs="+", help="input variables (steady problems)")
    p.add_argument("--targets", nargs="+", help="target variables (steady problems)")
    p.add_argument("--variables", nargs="+", help="state variables (time-dependent problems)")
    p.add_argument("--model-config", type=json.loads, help="JSON dict of model settings")
    p.add_argument("--rollout", type=int, dest="rollout_steps",
                   help="after training, evaluate N-step rollouts on the test split")
    p.add_argument("--compile", action="store_true", default=None, help="use torch.compile")
    p.add_argument("--no-plots", dest="plots", action="store_false", default=None)
    p.add_argument("--resume", type=Path, help="continue from this checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace results in --out")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    from kinnsci.train.config import RunConfig

    values = {}
    if args.config:
        base = RunConfig.from_file(args.config)
        values = base.to_dict()
    extra = {"inputs": args.inputs, "targets": args.targets, "variables": args.variables,
             "model_config": args.model_config, "rollout_steps": args.rollout_steps,
             "compile": args.compile, "plots": args.plots}
    for key in [*FLAGS, *extra]:
        value = getattr(args, key, None)
        if value is not None:
            values[key] = value
    return RunConfig.from_mapping(values, source=str(args.config or "command line"))


def run(args: argparse.Namespace) -> int:
    from kinnsci.data import DataError
    from kinnsci.train import CheckpointError, NonFiniteLossError, train_run
    from kinnsci.train.distributed import is_main_process

    try:
        config = config_from_args(args)
        report = train_run(config, resume=args.resume, overwrite=args.overwrite,
                           progress=not args.no_progress)
    except (ValueError, FileExistsError, FileNotFoundError, DataError, CheckpointError,
            NonFiniteLossError) as exc:
        print(f"kinnsci train: error: {exc}", file=sys.stderr)
        return 2
    if is_main_process():
        print(format_metrics(report["test"], title=f"{config.model} on the test split"))
        print(f"results in {Path(config.out).resolve()}")
    return 0


def format_metrics(metrics: dict, title: str) -> str:
    lines = [title, "| metric | value |", "|---|---:|"]
    lines += [f"| {k} | {v:.4g} |" for k, v in metrics.items()]
    return "\n".join(lines)
