"""The data checks before the first epoch, in one streaming pass, and how to skip them
once a data set has passed.

Every value of every split is read once, in reads of bounded size
(:data:`kinnsci.data.datasets.CHECK_BLOCK_BYTES`): a NaN/inf stops the run with its
location; the same pass finds training targets that are zero everywhere (a relative loss
is undefined there). A passed check is remembered by a stamp (the files' paths, sizes
and modification times, the variables and the split) in kinnsci's cache folder;
``skip_data_checks`` (``--skip-data-checks``) skips the pass only when such a stamp
matches, so data never checked, or changed since, is still checked.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from kinnsci.data import DataError
from kinnsci.data.open import data_files
from kinnsci.train.config import RunConfig

RELATIVE_LOSSES = ("rel_l2", "rel_l1", "h1")


def cache_folder() -> Path:
    """``$KINNSCI_CACHE_DIR``, else ``$XDG_CACHE_HOME/kinnsci``, else ``~/.cache/kinnsci``."""
    if os.environ.get("KINNSCI_CACHE_DIR"):
        return Path(os.environ["KINNSCI_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "kinnsci"


def data_stamp(config: RunConfig, splits: dict) -> str:
    """What a passed check vouches for: the data files (path, size, modification time),
    the variables, dims and split samples; any change gives another stamp."""
    files = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns)
             for p in _files(config.data)]
    values = config.to_dict()
    chosen = {k: values[k] for k in ("inputs", "targets", "variables", "static_inputs",
                                     "sample_dim", "time_dim", "spatial_dims", "channel_dim",
                                     "channels")}
    samples = {name: np.asarray(d.samples).tolist() for name, d in splits.items()
               if d is not None}
    text = json.dumps([files, chosen, samples], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _files(data) -> list[Path]:
    paths = data_files(data)
    # a Zarr store is a folder: its metadata file changes when it is written
    return [next((p / m for m in ("zarr.json", ".zmetadata", ".zgroup") if (p / m).exists()),
                 p) if p.is_dir() else p for p in paths]


def _stamps_file() -> Path:
    return cache_folder() / "data-checks.json"


def passed_before(stamp: str) -> dict | None:
    """The record of a passed check with this stamp, or None."""
    try:
        return json.loads(_stamps_file().read_text()).get(stamp)
    except (OSError, ValueError):
        return None


def remember_pass(stamp: str, record: dict) -> None:
    """Add a passed check (a cache that cannot be written is not an error: the check
    then runs again next time)."""
    from kinnsci._atomic import write_text_atomic

    path = _stamps_file()
    try:
        stamps = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        stamps = {}
    stamps[stamp] = record
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(stamps, indent=1))
    except OSError:
        pass


def check_data(config: RunConfig, splits: dict, progress: bool = False,
               log=None) -> None:
    """Before the first epoch: every value of every split is finite, training targets are
    not zero everywhere under a relative loss, and each trajectory is long enough for
    the requested rollout; one pass over the data, or none when ``skip_data_checks`` and
    this data passed before (``log`` then says so).

    Raises:
        DataError: naming the file, variable, sample and position (NaN/inf), the zero
            targets, or the rollout length the data allows.
    """
    from kinnsci.train.losses import parse_loss

    if config.rollout_steps is not None and not config.steady:
        n_times = splits["train"].n_times
        if config.history + config.rollout_steps > n_times:
            raise DataError(f"a rollout of {config.rollout_steps} steps after {config.history} "
                            f"history states needs {config.history + config.rollout_steps} "
                            f"states per trajectory; {config.data} has {n_times}: pass at most "
                            f"--rollout {n_times - config.history}")
    relative = [t for t, w in parse_loss(config.loss).items()
                if t in RELATIVE_LOSSES and w > 0]
    stamp = data_stamp(config, splits)
    if config.skip_data_checks:
        record = passed_before(stamp)
        if record is not None and (not relative or not record["zero_targets"]):
            if log is not None:
                log(f"data checks skipped: {config.data} passed them before (unchanged)")
            return
        if log is not None:
            log("--skip-data-checks: this data has not passed the checks before (or changed "
                "since); checking it now")
    for dataset in splits.values():
        if dataset is not None:
            dataset.check_finite(progress=progress)
    zero = splits["train"].zero_target_items()
    if relative and zero:
        raise DataError(f"loss {relative[0]} is undefined for {len(zero)} training "
                        f"item(s) of {config.data} whose target is zero everywhere "
                        f"(first: item {zero[0]}); train with --loss mse, or leave those "
                        "samples out")
    remember_pass(stamp, {"data": str(config.data), "zero_targets": len(zero)})
