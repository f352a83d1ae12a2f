"""The one loader: every file kinnsci writes comes back as a model, with what came with it.

A model file (``save_model`` / ``model.save``), a training checkpoint (``final.pt``,
``best.pt``, ``last.pt`` of ``kinnsci train``, ``finetune`` or a ``reproduce`` run) or
the folder of such a run: :func:`load_model` reads each with ``weights_only=True``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from kinnsci.errors import CheckpointError, InputNotFoundError
from kinnsci.models.io import read_model_entry
from kinnsci.models.normalized import NormalizedOperator
from kinnsci.models.registry import get_model

RUN_FILES = ("final.pt", "best.pt", "last.pt")
"""The checkpoint a run folder loads as, the first that exists."""


@dataclass
class LoadedModel:
    """What :func:`load_model` returns.

    Attributes:
        model: the rebuilt model in eval mode; a trained model (a checkpoint, or a saved
            :class:`NormalizedOperator`) takes and returns physical units.
        normalizer: the statistics passed to ``save_model(..., normalizer=)``, or None.
        kind: ``"model"`` (a model file) or ``"checkpoint"`` (a training checkpoint).
        path: the file read (a run folder's checkpoint).
        config: the backbone's registry config (``{"name": ..., **arguments}``).
        extra: a checkpoint's run record (``"run"``: the run's settings, ``"spatial_shape"``,
            ...); empty for model files.
    """

    model: nn.Module
    normalizer: dict[str, Tensor] | None
    kind: str
    path: Path
    config: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        """``model, normalizer = load_model(path)``, as kinnsci <= 0.2 returned it."""
        return iter((self.model, self.normalizer))

    def __getitem__(self, index: int) -> Any:
        """``load_model(path)[0]`` is the model, ``[1]`` the normalizer (kinnsci <= 0.2)."""
        return (self.model, self.normalizer)[index]


def resolve_model_path(path: str | os.PathLike) -> Path:
    """``path`` itself, or for a run folder its first file of :data:`RUN_FILES`.

    Raises:
        InputNotFoundError: a folder holding none of them (the message lists what it has).
    """
    path = Path(path)
    if not path.is_dir():
        return path
    for name in RUN_FILES:
        if (path / name).is_file():
            return path / name
    held = sorted(p.name for p in path.glob("*.pt")) or ["no .pt file"]
    raise InputNotFoundError(f"{path} is a folder without {', '.join(RUN_FILES)} (it holds "
                             f"{', '.join(held)}); pass a run folder or a model file")


def load_model(path: str | os.PathLike, expected: str | None = None) -> LoadedModel:
    """Rebuild the model of any file kinnsci writes (see the module docstring).

    Args:
        path: a model file, a checkpoint, or a run folder (its ``final.pt``, else
            ``best.pt``, else ``last.pt``).
        expected: a registry name; a file of another model is then an error.

    Returns:
        :class:`LoadedModel` (``model, normalizer = load_model(path)`` still unpacks).

    Raises:
        InputNotFoundError: ``path`` does not exist, or a folder without a checkpoint.
        CheckpointError: not a kinnsci file, a newer format, another model's file, or
            weights that do not fit the saved config.
    """
    path = resolve_model_path(path)
    entry = read_model_entry(path, expected)
    config, state = entry["config"], entry["state"]
    model = get_model(**config)
    if entry["normalized"]:  # a trained model: its normalisers in its state
        from kinnsci.data.normalizer import Normalizer

        model = NormalizedOperator(
            model, Normalizer.identity(state["input_normalizer.shift"].numel()),
            Normalizer.identity(state["output_normalizer.shift"].numel()))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the saved {config.get('name')!r} "
                              f"config ({exc})") from exc
    return LoadedModel(model.eval(), entry["normalizer"], entry["kind"], path, config,
                       entry["extra"])
