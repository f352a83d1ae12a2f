"""Operator backbones, the KINN vision backbone, KirchhoffNet, DynPMNN, their tabular
baselines (MLP, NeuralODE, CfC) and the model
registry (``MODELS``, ``get_model``; a :class:`BaseModel` subclass with a ``name``
registers itself)."""

from kinnsci._deprecation import deprecated_attributes
from kinnsci.models.base import MODELS, BaseModel
from kinnsci.models.cfc import CfC
from kinnsci.models.dynpmnn import DynPMNN
from kinnsci.models.flops import FlopCount, count_flops
from kinnsci.models.fno import FKNO, FNO, grid_coordinates
from kinnsci.models.io import save_model
from kinnsci.models.kirchhoff_flow import KirchhoffFlow
from kinnsci.models.kirchhoffnet import KirchhoffNet
from kinnsci.models.loading import LoadedModel, load_model
from kinnsci.models.mlp import MLP
from kinnsci.models.neural_ode import NeuralODE
from kinnsci.models.normalized import NormalizedOperator
from kinnsci.models.registry import (
    count_parameters,
    get_model,
    set_dtype,
    valid_config_keys,
)
from kinnsci.models.unet import UKNO, UNet
from kinnsci.models.vision import KINNVision

__getattr__ = deprecated_attributes(__name__, {
    "build_model": ("kinnsci.models.get_model", lambda: get_model),
    "SaveLoadMixin": ("kinnsci.models.BaseModel", lambda: BaseModel),
})

__all__ = [
    "BaseModel",
    "CfC",
    "DynPMNN",
    "FKNO",
    "FNO",
    "FlopCount",
    "KINNVision",
    "KirchhoffFlow",
    "KirchhoffNet",
    "LoadedModel",
    "MLP",
    "MODELS",
    "NeuralODE",
    "NormalizedOperator",
    "UKNO",
    "UNet",
    "count_flops",
    "count_parameters",
    "get_model",
    "grid_coordinates",
    "load_model",
    "save_model",
    "set_dtype",
    "valid_config_keys",
]
