"""PDE data: simulators that write CF netCDF, lazy loaders, datasets and normalisers."""

from kinnsci.data.datasets import OperatorDataset, RolloutDataset, split_samples
from kinnsci.data.errors import DataError
from kinnsci.data.generators import GENERATORS, generate, get_generator
from kinnsci.data.normalizer import Normalizer
from kinnsci.data.open import open_dataset

__all__ = [
    "DataError", "GENERATORS", "Normalizer", "OperatorDataset", "RolloutDataset",
    "generate", "get_generator", "open_dataset", "split_samples",
]
