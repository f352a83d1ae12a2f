"""What one experiment runs: its data recipe, model variants, budget and the claims tested.

A :class:`Plan` is plain data (JSON-able), so ``results.json`` records exactly what ran and
a resumed experiment can check that it continues the same plan.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

SCALES = ("smoke", "small", "paper")
SCHEMA = "kinnsci.reproduce/2"
"""The format of ``results.json`` (2: Welch/Holm verdicts with ratio intervals, selection
runs, learning rates per claim metric, state-cut twins; claims may carry a
non-inferiority ``margin``, 0 when absent)."""


class RunRecord(TypedDict):
    """One training run in ``results.json`` (``runs``); a run may carry more keys
    (``kirchhoff``, ``physics``, per-step curves)."""

    id: str
    variant: str
    model: str
    lr: float
    seed: int
    horizon: int
    params: int
    diverged: bool
    train_seconds: float
    eval_seconds: float
    val: dict[str, Any]
    test: dict[str, Any]
    role: str


class Results(TypedDict):
    """``results.json`` of one experiment, format :data:`SCHEMA`: the declared structure
    (for readers and type checkers; the runner builds it in one place, and readers check
    ``schema`` before anything else)."""

    schema: str
    experiment: str
    scale: str
    title: str
    paper: str
    plan: dict[str, Any]
    data_file: str
    torch: str
    device: str
    threads: int
    lr: dict[str, float]
    lr_by_metric: dict[str, dict[str, float]]
    selection_seed: int
    sweep: dict[str, dict[str, float]]
    runs: list[RunRecord]
    summary: dict[str, Any]
    claims: list[dict[str, Any]]
    wall_seconds: float
    compute_seconds: float


def content_hash(value: Any, length: int = 12) -> str:
    """A short stable hash of a JSON-able value (keys sorted)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


@dataclass(frozen=True)
class DataRecipe:
    """A seeded generator call: ``kinnsci.data.generate(generator, ..., **params)``."""

    generator: str
    n_samples: int
    resolution: int
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    def file_name(self) -> str:
        return (f"{self.generator}_{self.resolution}px_{self.n_samples}_"
                f"{content_hash(dataclasses.asdict(self), 8)}.nc")


@dataclass(frozen=True)
class TableRecipe:
    """A regression table (:mod:`kinnsci.data.tabular`): ``source`` is a built-in name
    (``"diabetes"``, ``"friedman1"``) or a CSV path whose content hash is ``sha256``."""

    source: str
    n_samples: int | None = None
    n_features: int | None = None
    noise: float = 0.0
    seed: int = 0
    target: str | None = None
    sha256: str | None = None

    @property
    def name(self) -> str:
        """What tables call it: the built-in name or the CSV file's stem."""
        return self.source if self.sha256 is None else Path(self.source).stem

    def file_name(self) -> str:
        return f"table_{self.name}_{content_hash(dataclasses.asdict(self), 8)}.npz"


@dataclass(frozen=True)
class Variant:
    """One model of an experiment.

    Args:
        key: short name used in tables and file names (``"fkno-4"``).
        label: what tables and plots call it (``"FKNO-4"``).
        model: registry name for ``get_model``; ``model_config`` its keyword arguments.
        horizon: unrolled training steps (1: one-step training).
        lr_from: key of the variant whose swept learning rate this one uses (the same
            model on the same data trained with another horizon); ``None``: swept itself.
        twin: whether a Kirchhoff model gets a state-cut twin (False for a variant whose
            twin would repeat another one's).
        loss: its training loss (``kinnsci.train.losses``: a term or ``"rel_l2=1,pde=0.01"``).
        train_samples: train on the first N samples of the training split only (None: all).
    """

    key: str
    label: str
    model: str
    model_config: dict[str, Any]
    horizon: int = 1
    lr_from: str | None = None
    twin: bool = True
    loss: str = "rel_l2"
    train_samples: int | None = None


@dataclass(frozen=True)
class Claim:
    """A paper claim as a comparison: ``better`` has a lower ``metric`` than ``worse``.

    ``paper`` quotes what the paper reports for it (figure and table).
    """

    text: str
    paper: str
    better: str
    worse: str
    metric: str
    margin: float = 0.0
    """0: "better beats worse". m > 0: "better is not worse than worse by more than a
    factor 1 + m" (non-inferiority: mean(better) < (1 + m) mean(worse))."""
    worse_metric: str | None = None
    """The metric of ``worse`` when it differs from ``metric`` (a model against itself
    before a change: ``rel_l2@64_ft`` vs ``rel_l2@64``)."""


@dataclass(frozen=True)
class Plan:
    """Everything an experiment at one scale runs. Every variant gets the same data split,
    epochs, batch size, optimiser (AdamW), weight decay and schedule, and picks its
    learning rate from the same grid ``lrs`` by the validation ``selection_metric`` of
    seed 0."""

    experiment: str
    scale: str
    title: str
    paper_ref: str
    data: DataRecipe | TableRecipe
    variants: tuple[Variant, ...]
    claims: tuple[Claim, ...]
    metrics: tuple[str, ...]
    epochs: int
    batch_size: int
    lrs: tuple[float, ...]
    seeds: int
    split: tuple[float, float, float]
    inputs: tuple[str, ...] | None = None
    targets: tuple[str, ...] | None = None
    variables: tuple[str, ...] | None = None
    history: int = 1
    stride: int = 1
    rollout_steps: int | None = None
    selection_metric: str = "rel_l2"
    weight_decay: float = 1e-4
    scheduler: str = "cosine"
    split_seed: int = 0
    note: str = ""
    transfer: tuple[int, ...] = ()
    """Grid sizes to evaluate the trained weights at too (steady plans): the data recipe
    at each size with another seed, reported as test metrics ``rel_l2@SIZE``."""
    finetune: dict[str, Any] | None = None
    """Physics fine-tuning at each transfer size (``{"steps": N, "lr": LR}``): the
    weights fine-tuned on the transfer inputs' PDE residual alone (PINO), reported as
    ``rel_l2@SIZE_ft``; resolution-invariant models only."""

    @property
    def steady(self) -> bool:
        return self.variables is None

    @property
    def tabular(self) -> bool:
        """A regression table (KirchhoffNet, DynPMNN) rather than PDE fields."""
        return isinstance(self.data, TableRecipe)

    def variant(self, key: str) -> Variant:
        """The variant with this ``key``.

        Raises:
            KeyError: no variant has that key (the message lists them).
        """
        for v in self.variants:
            if v.key == key:
                return v
        raise KeyError(f"{self.experiment} has no variant {key!r}; variants: "
                       f"{', '.join(v.key for v in self.variants)}")

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))
