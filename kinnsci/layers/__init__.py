"""Kirchhoff layers: the selective KNC, the Cascaded Kirchhoff Block, 2-D mixers, and
layers of coupled (all-to-all) Kirchhoff nodes."""

from kinnsci.layers.ckb import CKB, KirchhoffMixer2d
from kinnsci.layers.conv import ConvBlock, DSConv2d, ResidualDSBlock
from kinnsci.layers.coupled import CoupledKirchhoffLayer, KirchhoffMLP
from kinnsci.layers.diagnostics import inspect_kirchhoff, plot_kirchhoff
from kinnsci.layers.knc import KNC

__all__ = [
    "CKB", "KNC", "ConvBlock", "CoupledKirchhoffLayer", "DSConv2d", "KirchhoffMLP",
    "KirchhoffMixer2d", "ResidualDSBlock", "inspect_kirchhoff", "plot_kirchhoff",
]
