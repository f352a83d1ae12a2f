"""The description of a training run: what ``kinnsci train --config run.yaml`` reads."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class RunConfig:
    """Every setting of a run. Steady problems name ``inputs`` and ``targets``; time-dependent
    ones name ``variables`` with ``history`` past states and an unrolled ``horizon``.

    ``split_seed`` shuffles samples into train/val/test (``None``: ``seed``, which also
    seeds the weights and batch order); fixing it keeps one split across seeds.
    ``stride`` is the step between rollout windows' start times within a trajectory.
    """

    data: str = ""
    model: str = "fno"
    model_config: dict[str, Any] = field(default_factory=dict)
    inputs: list[str] | None = None
    targets: list[str] | None = None
    variables: list[str] | None = None
    history: int = 1
    horizon: int = 1
    split: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    split_seed: int | None = None
    stride: int = 1
    normalizer: str = "gaussian"
    loss: str = "rel_l2"
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

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str = "config") -> RunConfig:
        unknown = sorted(set(values) - set(cls.keys()))
        if unknown:
            raise ValueError(f"{source}: unknown key(s) {unknown}; valid keys: "
                             f"{', '.join(cls.keys())}")
        config = cls(**dict(values))
        config.check()
        return config

    @classmethod
    def from_file(cls, path: str | Path) -> RunConfig:
        """Read YAML or JSON with ``yaml.safe_load`` (JSON is YAML)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"--config: {path} does not exist")
        values = yaml.safe_load(path.read_text()) or {}
        if not isinstance(values, dict):
            raise ValueError(f"--config: {path} must hold a mapping of settings")
        return cls.from_mapping(values, source=str(path))

    @property
    def steady(self) -> bool:
        return self.variables is None

    def check(self) -> None:
        if not self.data:
            raise ValueError("data: name the netCDF/HDF5 file to train on (--data FILE)")
        steady = self.inputs is not None or self.targets is not None
        if steady == (self.variables is not None):
            raise ValueError("give either inputs + targets (steady operator, e.g. --inputs a "
                             "--targets u) or variables (time stepping, e.g. --variables w)")
        if steady and not (self.inputs and self.targets):
            raise ValueError("inputs and targets must both name at least one variable")
        if self.normalizer not in ("gaussian", "minmax", "none"):
            raise ValueError(f"normalizer must be gaussian, minmax or none, got "
                             f"{self.normalizer!r}")
        if not isinstance(self.stride, int) or self.stride < 1:
            raise ValueError(f"stride must be a positive integer (time steps between window "
                             f"starts), got {self.stride!r}")
        reserved = sorted({"in_channels", "out_channels", "name"} & set(self.model_config))
        if reserved:
            raise ValueError(f"model_config sets {reserved}, which a run derives from the data "
                             "(channels = variables x history); remove them from model_config")
        if self.rollout_steps is not None and self.rollout_steps < 1:
            raise ValueError(f"rollout_steps must be a positive number of steps, got "
                             f"{self.rollout_steps}")
        json.dumps(self.model_config)  # saved in checkpoints: fail early if not JSON-able

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
