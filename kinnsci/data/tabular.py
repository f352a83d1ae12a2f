"""Tabular regression data for the KirchhoffNet and DynPMNN experiments: scikit-learn's
bundled Diabetes, its seeded Friedman #1 generator, or a CSV file a user brings.

Tables are split once (a seeded permutation) and min-max scaled with the training
split's minima and maxima, features and target alike, as KirchhoffNet's regression
setting does: test losses are in those scaled units.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kinnsci.errors import ConfigError, DataError, InputNotFoundError

BUILTIN_TABLES = ("diabetes", "friedman1")
"""Tables made on this machine (scikit-learn: ``pip install -e ".[papers]"``)."""
DIABETES_ROWS = 442
"""Rows of scikit-learn's Diabetes table."""


@dataclass(frozen=True)
class Table:
    """A regression table: ``x`` (rows, features) and ``y`` (rows, 1), float64."""

    x: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str
    source: str

    @property
    def n_features(self) -> int:
        return self.x.shape[1]


def _sklearn():
    try:
        import sklearn.datasets
    except ImportError:
        raise ConfigError("the diabetes and friedman1 tables need scikit-learn: pip "
                          "install -e '.[papers]' (or pip install scikit-learn)") from None
    return sklearn.datasets


def builtin_table(name: str, *, n_samples: int | None = None, n_features: int | None = None,
                  noise: float = 0.0, seed: int = 0) -> Table:
    """``"diabetes"`` (:data:`DIABETES_ROWS` rows, 10 features; ``n_samples`` takes the
    first rows) or ``"friedman1"`` (``make_friedman1(n_samples, n_features, noise,
    random_state=seed)``, 5 informative features and ``n_features - 5`` of noise).

    Raises:
        ConfigError: an unknown name, a size out of range, or scikit-learn missing.
    """
    datasets = _sklearn()
    if name == "diabetes":
        bunch = datasets.load_diabetes()
        x, y, names = bunch.data, bunch.target, tuple(bunch.feature_names)
        if n_samples is not None:
            if not 1 <= n_samples <= len(x):
                raise ConfigError(f"n_samples must be in [1, {len(x)}] for diabetes, got "
                                  f"{n_samples}")
            x, y = x[:n_samples], y[:n_samples]
        target = "disease_progression"
    elif name == "friedman1":
        n_samples = 500 if n_samples is None else n_samples
        n_features = 10 if n_features is None else n_features
        if n_samples < 1 or n_features < 5:
            raise ConfigError("friedman1 needs n_samples >= 1 and n_features >= 5, got "
                              f"{n_samples}, {n_features}")
        x, y = datasets.make_friedman1(n_samples=n_samples, n_features=n_features,
                                       noise=noise, random_state=seed)
        names = tuple(f"x{i}" for i in range(n_features))
        target = "y"
    else:
        raise ConfigError(f"unknown table {name!r}; built in: {', '.join(BUILTIN_TABLES)}, "
                          "or give a CSV file")
    return Table(np.asarray(x, np.float64), np.asarray(y, np.float64)[:, None], names,
                 target, name)


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes (a run on a user's table is keyed by its content)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_csv_table(path: str | Path, target: str | None = None, *,
                   argument: str = "--data", min_rows: int = 1) -> Table:
    """A CSV file with a header row: every column a number, ``target`` (default: the last
    column) the regression target, the others the features.

    Raises:
        InputNotFoundError: no file at ``path``.
        DataError: one line naming what is wrong: a missing target column (the columns
            are listed), a non-numeric column (with the first bad row), an empty or NaN
            cell (column and row), fewer than ``min_rows`` rows, or no feature column.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{argument} {path}: no such file")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{argument} {path}: not a readable CSV file with a header row "
                        f"({str(exc).splitlines()[0]})") from None
    columns = [str(c) for c in frame.columns]
    target = columns[-1] if target is None and columns else target
    if target not in columns:
        raise DataError(f"{argument} {path}: no target column {target!r}; the columns are "
                        f"{', '.join(columns)} (choose one with --target)")
    if len(columns) < 2:
        raise DataError(f"{argument} {path}: needs at least one feature column besides the "
                        f"target {target!r}")
    for name in columns:
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = values.isna() & frame[name].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{argument} {path}: column {name!r} is not numeric (row "
                            f"{row + 2} of the file holds {frame[name].iloc[row]!r})")
        missing = values.isna().to_numpy()
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise DataError(f"{argument} {path}: column {name!r} has an empty or NaN cell "
                            f"in row {row + 2} of the file; fill or drop such rows first")
        frame[name] = values
    if len(frame) < min_rows:
        raise DataError(f"{argument} {path}: {len(frame)} data rows, but the splits need at "
                        f"least {min_rows}")
    features = [c for c in frame.columns if str(c) != target]
    x = frame[features].to_numpy(np.float64)
    y = frame[target].to_numpy(np.float64)[:, None]
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        row = int(np.flatnonzero(~(np.isfinite(x).all(1) & np.isfinite(y[:, 0])))[0])
        raise DataError(f"{argument} {path}: row {row + 2} of the file holds an infinite "
                        "value")
    return Table(x, y, tuple(str(c) for c in features), target, str(path))


@dataclass(frozen=True)
class ScaledSplits:
    """Train/val/test arrays min-max scaled by the training split's range."""

    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    x_range: tuple[np.ndarray, np.ndarray]
    y_range: tuple[np.ndarray, np.ndarray]


def split_counts(n_rows: int, split: tuple[float, float, float]) -> tuple[int, int, int]:
    """Rows per split (train, val, test): val and test rounded, train the rest."""
    n_val, n_test = round(split[1] * n_rows), round(split[2] * n_rows)
    return n_rows - n_val - n_test, n_val, n_test


def min_rows(split: tuple[float, float, float]) -> int:
    """The fewest rows for which every split gets at least 2 (a scale needs a range)."""
    n = 3
    while min(split_counts(n, split)) < 2:
        n += 1
    return n


def scaled_splits(table: Table, split: tuple[float, float, float], seed: int = 0
                  ) -> ScaledSplits:
    """Split the rows by a seeded permutation and min-max scale every split with the
    training split's per-column minima and maxima (a constant column scales to 0).

    Raises:
        DataError: a split would get fewer than 2 rows.
    """
    n = len(table.x)
    counts = split_counts(n, split)
    if min(counts) < 2:
        raise DataError(f"{table.source}: {n} rows give splits of {counts[0]}/{counts[1]}/"
                        f"{counts[2]} (train/val/test); every split needs at least 2, so the "
                        f"table needs at least {min_rows(split)} rows")
    order = np.random.default_rng(seed).permutation(n)
    parts = dict(zip(("train", "val", "test"),
                     np.split(order, np.cumsum(counts)[:2]), strict=True))

    def ranges(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = a.min(0), a.max(0)
        return lo, np.where(hi > lo, hi - lo, 1.0)

    x_range, y_range = ranges(table.x[parts["train"]]), ranges(table.y[parts["train"]])
    return ScaledSplits(
        {k: (table.x[i] - x_range[0]) / x_range[1] for k, i in parts.items()},
        {k: (table.y[i] - y_range[0]) / y_range[1] for k, i in parts.items()},
        x_range, y_range)


__all__ = ["BUILTIN_TABLES", "DIABETES_ROWS", "ScaledSplits", "Table", "builtin_table",
           "file_sha256", "min_rows", "read_csv_table", "scaled_splits", "split_counts"]
