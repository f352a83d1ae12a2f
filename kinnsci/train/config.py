"""The description of a training run: what ``kinnsci train --config run.yaml`` reads."""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kinnsci._yaml import read_yaml_mapping
from kinnsci.errors import ConfigError

# The one list of what decides a run, in three parts. A resumed run must share the model
# and data keys with the run that wrote its checkpoint (they set the model's shape, the
# normalisers fitted on that split, and what it learns); training settings may change on
# resume (more epochs, another learning rate). ``kinnsci reproduce`` names each run by a
# hash of all three parts: a new RunConfig field that changes results belongs here.
MODEL_KEYS = ("model", "model_config")
DATA_KEYS = ("data", "inputs", "targets", "variables", "history", "horizon", "stride",
             "static_inputs", "sample_dim", "time_dim", "spatial_dims", "channel_dim",
             "channels", "split", "split_seed", "normalizer", "train_samples")
TRAINING_KEYS = ("loss", "loss_aggregator", "epochs", "batch_size", "lr", "weight_decay",
                 "scheduler", "grad_clip", "amp", "compile", "channels_last", "seed",
                 "rollout_steps")
RESUME_KEYS = MODEL_KEYS + DATA_KEYS
RESULT_KEYS = MODEL_KEYS + DATA_KEYS + TRAINING_KEYS


@dataclass
class RunConfig:
    """Every setting of a run. Steady problems name ``inputs`` and ``targets``; time-dependent
    ones name ``variables`` with ``history`` past states and an unrolled ``horizon``.

    ``split_seed`` shuffles samples into train/val/test (``None``: ``seed``, which also
    seeds the weights and batch order); fixing it keeps one split across seeds.
    ``stride`` is the step between rollout windows' start times within a trajectory.
    ``sample_dim`` (None: the file holds one sample), ``time_dim`` and ``spatial_dims``
    (rows, columns) name the file's dimensions; variables may store them in any order.
    ``channel_dim`` splits variables that hold several fields along a dimension into one
    variable per channel (``data_0``, ``data_1``, …; ``channels`` picks some, by index or
    label). ``static_inputs`` are time-independent fields (sample, rows, columns) fed to a
    time-dependent model beside its history at every step.
    """

    data: str = ""
    model: str = "fno"
    model_config: dict[str, Any] = field(default_factory=dict)
    inputs: list[str] | None = None
    targets: list[str] | None = None
    variables: list[str] | None = None
    history: int = 1
    horizon: int = 1
    sample_dim: str | None = "sample"
    time_dim: str = "time"
    spatial_dims: list[str] = field(default_factory=lambda: ["y", "x"])
    channel_dim: str | None = None
    channels: list[int | str] | None = None
    static_inputs: list[str] | None = None
    split: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    split_seed: int | None = None
    train_samples: int | None = None
    """Train on the first N samples of the training split only (labelled-data studies;
    the normalisers are fitted on those N). None: the whole split."""
    stride: int = 1
    normalizer: str = "gaussian"
    loss: str | dict[str, float] = "rel_l2"
    """A term name, ``"rel_l2=1,pde=0.1"`` or ``{rel_l2: 1, pde: 0.1}``: a weighted sum
    of :data:`kinnsci.train.losses.LOSS_TERMS` (``pde``: the data's PDE residual)."""
    loss_aggregator: str | None = None
    """None (fixed weights), ``"softadapt"`` or ``"relobralo"`` (adaptive weights)."""
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    scheduler: str = "cosine"
    grad_clip: float | None = 1.0
    amp: str | None = None
    compile: bool = False
    channels_last: bool = False
    seed: int = 0
    device: str | None = None
    num_workers: int = 0
    rollout_steps: int | None = None
    out: str = "runs/kinnsci"
    plots: bool = True
    skip_data_checks: bool = False
    """Skip the pass over the data before training when this data (same files, sizes,
    times, variables and split) passed it before (:mod:`kinnsci.train.datacheck`)."""

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str = "config") -> RunConfig:
        """A checked config from plain values (a YAML/JSON mapping, command-line flags).

        Each value must fit its field's type; numbers written as text (``1e-3``, which
        YAML 1.1 reads as a string) are converted.

        Raises:
            ConfigError: an unknown key, a value of the wrong type (naming the key, the
                value and ``source``), or an inconsistent config (:meth:`check`).
        """
        unknown = sorted(set(values) - set(cls.keys()))
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {unknown}; valid keys: "
                             f"{', '.join(cls.keys())}")
        hints = typing.get_type_hints(cls)
        config = cls(**{k: _typed(k, v, hints[k], source) for k, v in values.items()})
        config.check(source)
        return config

    @classmethod
    def from_file(cls, path: str | Path) -> RunConfig:
        """Read YAML or JSON with ``yaml.safe_load`` (JSON is YAML).

        Raises:
            FileNotFoundError: ``path`` does not exist.
            ValueError: a YAML syntax error (with its line), or a bad value.
        """
        return cls.from_mapping(read_yaml_mapping(path), source=str(path))

    @property
    def steady(self) -> bool:
        return self.variables is None

    def check(self, source: str = "config") -> None:
        """Check that the settings fit together (a data file, steady xor time-dependent,
        known normaliser, two spatial dims, ...); called by :meth:`from_mapping`.

        Raises:
            ConfigError: naming the setting and how to fix it.
        """
        if not self.data:
            raise ConfigError("data: name the netCDF/HDF5 file to train on (--data FILE)")
        steady = self.inputs is not None or self.targets is not None
        if steady == (self.variables is not None):
            raise ConfigError("give either inputs + targets (steady operator, e.g. --inputs a "
                             "--targets u) or variables (time stepping, e.g. --variables w)")
        if steady and not (self.inputs and self.targets):
            raise ConfigError("inputs and targets must both name at least one variable")
        if self.normalizer not in ("gaussian", "minmax", "none"):
            raise ConfigError(f"normalizer must be gaussian, minmax or none, got "
                             f"{self.normalizer!r}")
        if len(self.spatial_dims) != 2:
            raise ConfigError(f"spatial_dims must name two dimensions (rows, columns), got "
                             f"{self.spatial_dims}")
        if self.channels is not None and self.channel_dim is None:
            raise ConfigError("channels: name the dimension they are numbered along too "
                              "(--channel-dim channel)")
        if self.static_inputs is not None and steady:
            raise ConfigError("static_inputs feed a time-dependent model (--variables); a "
                              "steady operator takes them as --inputs")
        if self.static_inputs is not None and not self.static_inputs:
            raise ConfigError("static_inputs must name at least one variable, or be left out")
        if not isinstance(self.stride, int) or self.stride < 1:
            raise ConfigError(f"stride must be a positive integer (time steps between window "
                             f"starts), got {self.stride!r}")
        reserved = sorted({"in_channels", "out_channels", "name"} & set(self.model_config))
        if reserved:
            raise ConfigError(f"model_config sets {reserved}, which a run derives from the data "
                             "(channels = variables x history); remove them from model_config")
        if self.rollout_steps is not None and self.rollout_steps < 1:
            raise ConfigError(f"rollout_steps must be a positive number of steps, got "
                             f"{self.rollout_steps}")
        from kinnsci.train.losses import parse_loss

        parse_loss(self.loss, f"{source}: loss")
        from kinnsci.train.losses import AGGREGATORS

        if self.loss_aggregator is not None and self.loss_aggregator not in AGGREGATORS:
            raise ConfigError(f"{source}: loss_aggregator must be one of "
                              f"{', '.join(AGGREGATORS)} or null, got {self.loss_aggregator!r}")
        self.check_ranges(source)
        json.dumps(self.model_config)  # saved in checkpoints: fail early if not JSON-able

    def check_ranges(self, source: str = "config") -> None:
        """Every numeric setting in its range and finite, checked where it enters (flags
        and YAML alike), so nothing reaches torch, numpy or the DataLoader unchecked.

        Raises:
            ConfigError: naming the setting, the value and the accepted range.
        """
        def need(ok: bool, key: str, value: Any, accepted: str) -> None:
            if not ok:
                raise ConfigError(f"{source}: {key} must be {accepted}, got {value!r}")

        def finite(v: Any) -> bool:
            return isinstance(v, int | float) and math.isfinite(v)

        need(self.train_samples is None or (isinstance(self.train_samples, int)
                                            and self.train_samples >= 1),
             "train_samples", self.train_samples, "an integer >= 1, or null for the whole "
             "training split")
        for key in ("epochs", "batch_size", "history", "horizon"):
            value = getattr(self, key)
            need(isinstance(value, int) and value >= 1, key, value, "an integer >= 1")
        need(isinstance(self.num_workers, int) and self.num_workers >= 0, "num_workers",
             self.num_workers, "an integer >= 0 (0: load in the training process)")
        need(finite(self.lr) and self.lr > 0, "lr", self.lr,
             "a finite learning rate > 0 (e.g. 1e-3)")
        need(finite(self.weight_decay) and self.weight_decay >= 0, "weight_decay",
             self.weight_decay, "a finite number >= 0")
        # a negative clip norm flips every gradient: training would ascend the loss
        need(self.grad_clip is None or (finite(self.grad_clip) and self.grad_clip > 0),
             "grad_clip", self.grad_clip, "a finite gradient norm > 0, or null for none")
        need(len(self.split) == 3 and all(finite(f) and 0 <= f <= 1 for f in self.split)
             and abs(sum(self.split) - 1) < 1e-6 and self.split[0] > 0, "split",
             self.split, "three fractions (train, val, test) in [0, 1] summing to 1, with "
             "train > 0")
        need(self.amp in (None, "bf16", "fp16"), "amp", self.amp, "bf16, fp16 or null")
        need(self.scheduler in ("cosine", "step", "none"), "scheduler", self.scheduler,
             "cosine, step or none")
        need(self.split_seed is None or self.split_seed >= 0, "split_seed", self.split_seed,
             "an integer >= 0, or null for the run seed")
        need(self.seed >= 0, "seed", self.seed, "an integer >= 0")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def deciding(self, keys: tuple[str, ...] = RESUME_KEYS) -> dict[str, Any]:
        """The values of ``keys`` as they act (:func:`deciding_values`)."""
        return deciding_values(self.to_dict(), keys)


def deciding_values(values: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """``values`` (a run config as a mapping) at ``keys``, ``split_seed`` being the seed
    the split is drawn with (``seed`` where it is None): two configs that draw the same
    split compare equal, two that do not compare different."""
    values = dict(values)
    if values.get("split_seed") is None:
        values["split_seed"] = values.get("seed")
    return {k: values.get(k) for k in keys}



_KIND_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
               list: "a list", dict: "a mapping"}


def _typed(key: str, value: Any, hint: Any, source: str) -> Any:
    """``value`` checked against (and, for numbers given as text, converted to) ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        for option in options:
            try:
                return _typed(key, value, option, source)
            except ValueError:
                continue
        wanted = " or ".join(_KIND_NAMES.get(typing.get_origin(o) or o, str(o))
                             for o in options) + (" or null" if type(None) in args else "")
        raise ConfigError(f"{source}: {key} must be {wanted}, got {value!r}")
    kind = origin or hint
    if kind is Any:
        return value
    if kind in (int, float) and isinstance(value, str):
        try:  # YAML 1.1 reads 1e-3 (no dot) as text
            value = kind(value)
        except ValueError:
            pass
    ok = (isinstance(value, kind) and not isinstance(value, bool)) if kind in (int, float) \
        else isinstance(value, kind)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise ConfigError(f"{source}: {key} must be {_KIND_NAMES.get(kind, kind.__name__)}, got "
                         f"{value!r}")
    if kind is list and args:
        return [_typed(f"{key}[{i}]", v, args[0], source) for i, v in enumerate(value)]
    return value
