"""Deprecated module: :class:`~kinnsci.models.NormalizedOperator` lives in
:mod:`kinnsci.models.normalized` (``from kinnsci.train import NormalizedOperator`` still
works without a warning)."""

from kinnsci._deprecation import deprecated_attributes


def _operator():
    from kinnsci.models.normalized import NormalizedOperator

    return NormalizedOperator


__getattr__ = deprecated_attributes(__name__, {
    "NormalizedOperator": ("kinnsci.models.NormalizedOperator", _operator)})
