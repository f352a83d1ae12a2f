"""Flags shared by the training subcommands (``train``, ``train-vision``): each says what
it does, its default (read from the config class) and its choices."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

# switches add_run_flags defines whose values are config keys of the same name
CONFIG_SWITCHES = ("model_config", "compile", "channels_last", "plots")


# Choices, listed here so that --help needs no torch; tests/test_cli.py checks that they
# equal the registries they name (models, losses, schedulers, amp dtypes, normalisers).
CHOICES = {
    "train": {"model": ("fno", "fkno", "unet", "ukno"),
              "loss": ("rel_l2", "rel_l1", "mse", "h1", "pde"),
              "loss_aggregator": ("softadapt", "relobralo"),
              "scheduler": ("cosine", "step", "none"),
              "amp": ("bf16", "fp16"),
              "normalizer": ("gaussian", "minmax", "none")},
    "train-vision": {"model": ("kinn_vision", "kinn_vision_tiny", "kinn_vision_small",
                               "kinn_vision_base"),
                     "amp": ("bf16", "fp16"),
                     "mode": ("RGB", "L")},
}


# flag -> what it does; choices that need torch are looked up when the help is shown
HELP = {
    "model": "model name",
    "data": "netCDF/HDF5 file to train on",
    "history": "past states fed to the model (time-dependent problems)",
    "horizon": "future states predicted and trained on by unrolling the model",
    "epochs": "training epochs",
    "batch_size": "samples per batch (per process under torchrun)",
    "lr": "peak learning rate of AdamW",
    "weight_decay": "AdamW weight decay",
    "scheduler": "learning-rate schedule over the epochs",
    "seed": "seed of the weights, the batch order and the data split",
    "out": "output folder: checkpoints, metrics.json, plots/",
    "device": "cpu, cuda, cuda:N (default: cuda when present, else cpu)",
    "amp": "mixed precision on CUDA",
    "normalizer": "per-channel normalisation fitted on the training split",
    "loss": "training loss: a term, or a weighted sum such as rel_l2=1,h1=0.5,pde=0.1 "
            "(pde: the residual of the data's PDE, kinnsci.physics)",
    "loss_aggregator": "adaptive weights of the loss terms (neuraloperator's; default: "
                       "the fixed weights of --loss)",
    "num_workers": "DataLoader worker processes",
    "image_size": "side of the square training crops, pixels",
    "mode": "image mode the images are converted to (PIL), e.g. RGB or L",
    "label_smoothing": "cross-entropy label smoothing",
    "min_crop": "smallest area fraction of a random-resized crop",
    "val_fraction": "share of images held out when --data has no val/ folder",
}


def add_run_flags(p: argparse.ArgumentParser, flags: dict[str, type], config: type,
                  command: str) -> None:
    """``--<key>`` for each config key in ``flags`` (key -> type), then the model config,
    torch.compile, channels-last, plots, resume/overwrite and progress switches.

    Each flag's help says what it does, its choices (``CHOICES[command]``) and its default
    (``config``'s field default).
    """
    defaults = {f.name: f.default for f in dataclasses.fields(config)
                if f.default is not dataclasses.MISSING}
    for flag, kind in flags.items():
        text = HELP.get(flag, flag.replace("_", " "))
        choices = CHOICES[command].get(flag)
        if choices:
            text += f"; one of {', '.join(choices)}"
        default = defaults.get(flag)
        if default is not None and flag not in ("data", "device"):
            text += f" (default: {default})"
        elif flag == "amp":
            text += " (default: off)"
        p.add_argument("--" + flag.replace("_", "-"), dest=flag, type=kind, help=text,
                       metavar=flag.upper())
    p.add_argument("--model-config", type=json.loads, metavar="JSON",
                   help="JSON dict of model settings, e.g. '{\"hidden_channels\": 32}' (see the "
                        "model's docstring)")
    p.add_argument("--compile", action="store_true", default=None,
                   help="use torch.compile (default: off)")
    p.add_argument("--channels-last", action="store_true", default=None,
                   help="channels-last (NHWC) weights and batches: faster convolutions on "
                        "CPUs (default: off)")
    p.add_argument("--no-plots", dest="plots", action="store_false", default=None,
                   help="do not write PNG plots (default: write them to OUT/plots)")
    p.add_argument("--resume", type=Path, metavar="CHECKPOINT",
                   help="continue from this checkpoint (e.g. OUT/last.pt)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the results already in --out")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
