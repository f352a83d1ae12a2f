"""``kinnsci train``: train an operator from a YAML/JSON config or command-line flags."""

from __future__ import annotations

import argparse
from pathlib import Path

from kinnsci.cli.run_flags import CONFIG_SWITCHES, add_run_flags

EXAMPLES = """examples:
  kinnsci train --model fno --data darcy.nc --inputs a --targets u --epochs 50 --out runs/fno
  kinnsci train --model ukno --data ns.nc --variables w --history 10 --horizon 3 \\
      --model-config '{"hidden_channels": [32, 48, 64, 96], "res_blocks": 2}' --rollout 40
  kinnsci train --model fno --data ens.nc --variables t2m --history 4 \\
      --sample-dim member --time-dim time --spatial-dims lat lon    # (time, lat, lon, member)
  kinnsci train --model fno --data 'CE-RP/*.nc' --sample-dim trajectory \\
      --channel-dim channel --variables data_0 data_1 data_2 data_3 --spatial-dims y x
  kinnsci train --model fno --data wave.nc --sample-dim trajectory --variables solution \\
      --static-inputs c                                # c(trajectory, x, y): an extra input
  kinnsci train --model fno --data 'the_well/data/train/*.hdf5' --variables density \\
      velocity_x velocity_y --history 4
  kinnsci train --config run.yaml                      # keys as in kinnsci.train.RunConfig
  kinnsci train --config run.yaml --resume runs/fno/last.pt
  torchrun --nproc-per-node 2 -m kinnsci.cli.main train --config run.yaml   # DDP
"""

# flag -> RunConfig key; a flag given on the command line overrides the config file.
FLAGS = {
    "model": str, "data": str, "history": int, "horizon": int, "epochs": int,
    "batch_size": int, "lr": float, "weight_decay": float, "scheduler": str, "seed": int,
    "out": str, "device": str, "amp": str, "normalizer": str, "loss": str,
    "loss_aggregator": str, "num_workers": int,
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from kinnsci.train.config import RunConfig

    p = subparsers.add_parser(
        "train", help="train a neural operator on a netCDF/HDF5 file",
        description="Train a model and write checkpoints (last.pt every epoch, final.pt), "
        "metrics.json and plots/ to --out. Config keys: " + ", ".join(RunConfig.keys()),
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path,
                   help="YAML or JSON run config; flags given too override its values")
    add_run_flags(p, FLAGS, RunConfig, "train")
    p.add_argument("--inputs", nargs="+", help="input variables (steady problems)")
    p.add_argument("--targets", nargs="+", help="target variables (steady problems)")
    p.add_argument("--variables", nargs="+", help="state variables (time-dependent problems)")
    p.add_argument("--sample-dim", help="the file's sample (trajectory, member) dimension; "
                   "'none' when the file holds one sample (default: sample)")
    p.add_argument("--time-dim", help="the file's time dimension (default: time)")
    p.add_argument("--spatial-dims", nargs=2, metavar=("ROWS", "COLUMNS"),
                   help="the file's two grid dimensions, rows first (default: y x)")
    p.add_argument("--channel-dim", help="a dimension that numbers fields, as in "
                   "data(trajectory, time, channel, x, y): each variable with it is split "
                   "into data_0, data_1, ... (or the channel coordinate's labels)")
    p.add_argument("--channels", nargs="+", metavar="CHANNEL",
                   help="with --channel-dim: the channels to keep (indices or labels)")
    p.add_argument("--static-inputs", nargs="+", metavar="VARIABLE",
                   help="time-independent fields (sample, rows, columns), e.g. a "
                   "coefficient c(x, y), fed to a time-dependent model at every step")
    p.add_argument("--rollout", type=int, dest="rollout_steps",
                   help="after training, evaluate N-step rollouts on the test split")
    p.add_argument("--skip-data-checks", action="store_true", default=None,
                   help="skip the pass over the data (NaN/inf, zero targets) before training "
                        "when this data passed it before, unchanged (default: check)")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    from kinnsci.train.config import RunConfig

    values = {}
    if args.config:
        base = RunConfig.from_file(args.config)
        values = base.to_dict()
    for key in [*FLAGS, "inputs", "targets", "variables", "rollout_steps", "time_dim",
                "spatial_dims", "channel_dim", "channels", "static_inputs", "skip_data_checks",
                *CONFIG_SWITCHES]:
        value = getattr(args, key, None)
        if value is not None:
            values[key] = value
    if args.sample_dim is not None:
        values["sample_dim"] = None if args.sample_dim.lower() == "none" else args.sample_dim
    return RunConfig.from_mapping(values, source=str(args.config or "command line"))


def run(args: argparse.Namespace) -> int:
    from kinnsci.cli.errors import report, user_errors
    from kinnsci.cli.interrupt import run_interruptible
    from kinnsci.cli.tables import format_metrics
    from kinnsci.train import train_run
    from kinnsci.train.distributed import is_main_process

    try:
        config = config_from_args(args)
        last = Path(config.out) / "last.pt"
        report = run_interruptible(
            lambda: train_run(config, resume=args.resume, overwrite=args.overwrite,
                              progress=not args.no_progress), "train",
            hint=f"continue with --resume {last} (written after every epoch)")
    except user_errors() as exc:
        report(exc, "train")
        return 2
    if is_main_process():
        print(format_metrics(report["test"], title=f"{config.model} on the "
                             f"{report.get('evaluated_on', 'test')} split"))
        if "rollout" in report:
            errs = report["rollout"]
            print(f"rollout rel. L2: step 1 {errs[0]:.4g}, step {len(errs)} {errs[-1]:.4g}, "
                  f"mean {sum(errs) / len(errs):.4g}")
        print(f"results in {Path(config.out).resolve()}")
    return 0
