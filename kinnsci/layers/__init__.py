"""Kirchhoff layers: the selective KNC, the Cascaded Kirchhoff Block, 2-D mixers."""

from kinnsci.layers.ckb import CKB, KirchhoffMixer2d
from kinnsci.layers.conv import ConvBlock, DSConv2d, ResidualDSBlock
from kinnsci.layers.knc import KNC

__all__ = ["CKB", "KNC", "ConvBlock", "DSConv2d", "KirchhoffMixer2d", "ResidualDSBlock"]
