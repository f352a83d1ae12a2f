"""PDE data: simulators that write CF netCDF, lazy loaders, datasets and normalisers;
image folders for the vision backbone.

Names are imported on first use (see :mod:`kinnsci._lazy`): the generators need neither
torch nor the datasets.
"""

from typing import TYPE_CHECKING

from kinnsci._lazy import lazy_exports

if TYPE_CHECKING:  # what the lazy exports below resolve to, for type checkers and editors
    from kinnsci.data.datasets import OperatorDataset, RolloutDataset, split_samples
    from kinnsci.data.generators import (
        GENERATORS,
        generate,
        get_generator,
        register_generator,
    )
    from kinnsci.data.images import (
        EvalTransform,
        ImageFolder,
        TrainTransform,
        make_shapes_image_folder,
    )
    from kinnsci.data.layout import InputLayout
    from kinnsci.data.normalizer import Normalizer
    from kinnsci.data.open import open_dataset
    from kinnsci.errors import DataError

__getattr__, __dir__, __all__ = lazy_exports(__name__, globals(), {
    "DataError": "kinnsci.errors",
    "OperatorDataset": ".datasets", "RolloutDataset": ".datasets",
    "split_samples": ".datasets",
    "GENERATORS": ".generators", "generate": ".generators", "get_generator": ".generators",
    "register_generator": ".generators",
    "EvalTransform": ".images", "ImageFolder": ".images", "TrainTransform": ".images",
    "make_shapes_image_folder": ".images",
    "InputLayout": ".layout",
    "Normalizer": ".normalizer",
    "open_dataset": ".open",
})
