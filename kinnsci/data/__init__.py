"""PDE data: simulators that write CF netCDF, lazy loaders, datasets and normalisers;
image folders for the vision backbone.

Names are imported on first use (see :mod:`kinnsci._lazy`): the generators need neither
torch nor the datasets.
"""

from kinnsci._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, globals(), {
    "DataError": "kinnsci.errors",
    "OperatorDataset": ".datasets", "RolloutDataset": ".datasets",
    "split_samples": ".datasets",
    "GENERATORS": ".generators", "generate": ".generators", "get_generator": ".generators",
    "register_generator": ".generators",
    "EvalTransform": ".images", "ImageFolder": ".images", "TrainTransform": ".images",
    "make_shapes_image_folder": ".images",
    "Normalizer": ".normalizer",
    "open_dataset": ".open",
})
