"""PDE data: simulators that write CF netCDF, lazy loaders, datasets and normalisers;
image folders for the vision backbone."""

from kinnsci.data.datasets import OperatorDataset, RolloutDataset, split_samples
from kinnsci.data.generators import GENERATORS, generate, get_generator
from kinnsci.data.images import (
    EvalTransform,
    ImageFolder,
    TrainTransform,
    make_shapes_image_folder,
)
from kinnsci.data.normalizer import Normalizer
from kinnsci.data.open import open_dataset
from kinnsci.errors import DataError

__all__ = [
    "DataError", "EvalTransform", "GENERATORS", "ImageFolder", "Normalizer", "OperatorDataset",
    "RolloutDataset", "TrainTransform", "generate", "get_generator", "make_shapes_image_folder",
    "open_dataset", "split_samples",
]
