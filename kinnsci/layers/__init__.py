"""Kirchhoff layers: the selective KNC, the Cascaded Kirchhoff Block, 2-D mixers."""

from kinnsci.layers.ckb import CKB, KirchhoffMixer2d
from kinnsci.layers.knc import KNC

__all__ = ["CKB", "KNC", "KirchhoffMixer2d"]
