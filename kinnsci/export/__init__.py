"""Exports of trained models to other tools (SPICE netlists for circuit simulators)."""

from kinnsci.export.spice import read_wrdata, run_ngspice, to_spice

__all__ = ["read_wrdata", "run_ngspice", "to_spice"]
