"""``kinnsci train-vision``: train an image classifier (the KINN vision backbone)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kinnsci.cli.run_flags import CONFIG_SWITCHES, add_run_flags

EXAMPLES = """examples:
  kinnsci train-vision --data imagenet/ --model kinn_vision_tiny --epochs 300 --out runs/t
  kinnsci train-vision --data shapes/ --image-size 32 --epochs 10 --batch-size 32 \\
      --model-config '{"hidden_channels": 16, "depths": [1, 1, 1, 1]}' --out runs/shapes
  torchrun --nproc-per-node 8 -m kinnsci.cli.main train-vision --data imagenet/ ...  # DDP

--data is an image folder: DIR/train/<class>/*.png + DIR/val/<class>/*.png, or
DIR/<class>/*.png split by --val-fraction.
"""

# flag -> VisionConfig field
FLAGS = {
    "model": str, "image_size": int, "mode": str, "epochs": int, "batch_size": int,
    "lr": float, "weight_decay": float, "label_smoothing": float, "min_crop": float,
    "val_fraction": float, "seed": int, "out": str, "device": str, "amp": str,
    "num_workers": int,
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from kinnsci.train.vision_config import VisionConfig

    p = subparsers.add_parser(
        "train-vision", help="train an image classifier on an image folder",
        description="Train a vision backbone (kinn_vision_tiny/small/base) and write "
        "checkpoints (last.pt, final.pt), metrics.json and plots/ to --out.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="image folder (see below)")
    add_run_flags(p, FLAGS, VisionConfig, "train-vision")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kinnsci.cli.errors import report, user_errors
    from kinnsci.train.distributed import is_main_process
    from kinnsci.train.vision import VisionConfig, train_vision

    values = {k: getattr(args, k) for k in [*FLAGS, *CONFIG_SWITCHES]
              if getattr(args, k, None) is not None}
    try:
        config = VisionConfig(data=args.data, **values)
        report = train_vision(config, resume=args.resume, overwrite=args.overwrite,
                              progress=not args.no_progress)
    except user_errors() as exc:
        report(exc, "train-vision")
        return 2
    if is_main_process():
        val = report["val"]
        print(f"{config.model}: {report['parameters'] / 1e6:.2f} M parameters, "
              f"{report['gflops']:.3f} GFLOPs at {config.image_size}^2")
        top5 = f"top-5 {100 * val['top5']:.1f} %, " if "top5" in val else ""
        print(f"validation: top-1 {100 * val['top1']:.1f} %, {top5}"
              f"cross-entropy {val['cross_entropy']:.4f}")
        print(f"results in {Path(config.out).resolve()}")
    return 0
