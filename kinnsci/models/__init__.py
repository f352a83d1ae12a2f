"""Operator backbones, the KINN vision backbone, KirchhoffNet, DynPMNN and the model
registry (``build_model``)."""

from kinnsci.models.dynpmnn import DynPMNN
from kinnsci.models.flops import FlopCount, count_flops
from kinnsci.models.fno import FKNO, FNO, grid_coordinates
from kinnsci.models.io import save_model
from kinnsci.models.kirchhoff_flow import KirchhoffFlow
from kinnsci.models.kirchhoffnet import KirchhoffNet
from kinnsci.models.registry import (
    MODELS,
    build_model,
    count_parameters,
    load_model,
    set_dtype,
    valid_config_keys,
)
from kinnsci.models.unet import UKNO, UNet
from kinnsci.models.vision import KINNVision

__all__ = [
    "DynPMNN",
    "FKNO",
    "FNO",
    "FlopCount",
    "KINNVision",
    "KirchhoffFlow",
    "KirchhoffNet",
    "MODELS",
    "UKNO",
    "UNet",
    "build_model",
    "count_flops",
    "count_parameters",
    "grid_coordinates",
    "load_model",
    "save_model",
    "set_dtype",
    "valid_config_keys",
]
