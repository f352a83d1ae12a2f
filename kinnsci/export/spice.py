"""SPICE netlists of kinnsci circuits, simulated by ngspice to check them independently.

* :class:`~kinnsci.cells.CircuitCell` / one-period :class:`~kinnsci.models.KirchhoffNet`:
  node ``n<j>`` per circuit node with a capacitor C to ground, linear branches as VCCSs
  (``G``), nonlinear ones as behavioural current sources (``B ... I = tanh(...)``),
  initial voltages from the input (``.ic``, ``uic``).
* :class:`~kinnsci.cells.KirchhoffNodeCell` / :class:`~kinnsci.cells.CascadeCell`: an RC
  ladder per channel; node k has C_m and a leak to ground and is driven by a VCCS of gain
  G_in from the previous stage's readout (a behavioural voltage source), the first stage
  from the input voltage ``in``.

SPICE convention used throughout: a current source from ``a`` to ``b`` takes current out
of node ``a`` and delivers it into node ``b``, i.e. it is the branch current i_ab.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from kinnsci._deprecation import renamed_arguments
from kinnsci.cells.cascade import CascadeCell
from kinnsci.cells.circuit import CircuitCell
from kinnsci.cells.kirchhoff_node import KirchhoffNodeCell
from kinnsci.errors import InputNotFoundError

ACCURATE = ".options reltol=1e-7 abstol=1e-14 vntol=1e-10 chgtol=1e-18 method=gear maxord=5"


def _f(x: float) -> str:
    return f"{float(x):.17g}"


def _node(j: int) -> str:
    return "0" if j == 0 else f"n{j}"


def _volt(j: int) -> str:
    return "0" if j == 0 else f"V(n{j})"


def _circuit_lines(cell: CircuitCell, v0: Sequence[float]) -> tuple[list[str], list[str]]:
    if len(v0) != cell.n_nodes:
        raise ValueError(f"initial voltages: need {cell.n_nodes} values, got {len(v0)}")
    lines = [f"C{j} n{j} 0 {_f(cell.capacitance)}" for j in range(1, cell.n_nodes + 1)]
    theta = cell.theta.detach().double().cpu().tolist()
    for k, ((s, d), th) in enumerate(zip(cell.edges.tolist(), theta, strict=True)):
        if cell.branch.linear:
            lines.append(f"G{k} {_node(s)} {_node(d)} {_node(s)} {_node(d)} {_f(th[0])}")
        else:
            lines.append(f"B{k} {_node(s)} {_node(d)} "
                         f"I={cell.branch.spice(_volt(s), _volt(d), th)}")
    ic = ".ic " + " ".join(f"V(n{j})={_f(v)}" for j, v in enumerate(v0, start=1))
    return lines, [ic]


def _ladder_lines(cell: KirchhoffNodeCell | CascadeCell, u: Sequence[float]
                  ) -> tuple[list[str], list[str], list[str]]:
    stages = cell.cells if isinstance(cell, CascadeCell) else [cell]
    for s in stages:
        if not isinstance(s, KirchhoffNodeCell):
            raise TypeError(f"SPICE export of cascades supports KirchhoffNodeCell stages, got "
                            f"{type(s).__name__}")
    channels = stages[0].state_dim
    if len(u) != channels:
        raise ValueError(f"input: need one constant voltage per channel ({channels}), got "
                         f"{len(u)}")
    lines, nodes = [], []
    for c in range(channels):
        lines.append(f"Vin{c} in{c} 0 DC {_f(u[c])}")
        drive = f"in{c}"
        for k, stage in enumerate(stages, start=1):
            cap = float(stage.capacitance[c])
            leak = float(stage.leak_conductance[c] + stage.coupling_conductance[c])
            node = f"n{k}_{c}"
            lines += [f"C{k}_{c} {node} 0 {_f(cap)}",
                      f"Gleak{k}_{c} {node} 0 {node} 0 {_f(leak)}",
                      f"Gin{k}_{c} 0 {node} {drive} 0 {_f(stage.input_conductance[c])}",
                      f"Bout{k}_{c} out{k}_{c} 0 V={_f(stage.readout_gain[c])}*V({node})+"
                      f"{_f(stage.feedthrough[c])}*V({drive})"]
            drive = f"out{k}_{c}"
            nodes.append(node)
    ic = ".ic " + " ".join(f"V({n})=0" for n in nodes)
    return lines, [ic], nodes


@torch.no_grad()
@renamed_arguments(step="dt")
def to_spice(obj: nn.Module, path: str | os.PathLike, inputs: Tensor | Sequence[float], *,
             t_end: float | None = None, dt: float | None = None,
             data_file: str | None = None, title: str = "kinnsci export") -> Path:
    """Write a SPICE netlist of ``obj`` driven by ``inputs``.

    Args:
        obj: a ``CircuitCell``, a one-period ``KirchhoffNet``, a ``KirchhoffNodeCell`` or a
            ``CascadeCell`` of them.
        inputs: initial node voltages (circuits; a KirchhoffNet takes its input features and
            starts the other nodes at 0 V) or the constant input voltage per channel
            (RC ladders, starting from rest).
        t_end: end of the transient (default: the KirchhoffNet period, else 1 s).
        dt: print step (default t_end / 1000).
        data_file: when given, a ``.control`` block runs the transient in batch mode and
            writes every node voltage there with ``wrdata``; a relative path is relative
            to the netlist's folder (where :func:`run_ngspice` runs ngspice).

    Returns:
        the netlist path. Node order in ``wrdata`` is n1..nN (circuits) or, for ladders,
        channel by channel and stage by stage within a channel.

    Raises:
        ValueError: a KirchhoffNet of several periods, or ``inputs`` of the wrong length.
        TypeError: ``obj`` is of a kind SPICE export does not support.
    """
    from kinnsci.models.kirchhoffnet import KirchhoffNet

    values = [float(v) for v in torch.as_tensor(inputs).reshape(-1).tolist()]
    if isinstance(obj, KirchhoffNet):
        if len(obj.periods) != 1:
            raise ValueError(f"this KirchhoffNet has {len(obj.periods)} periods; a netlist "
                             "holds one fixed topology: export each period's CircuitCell")
        if len(values) != obj.in_channels:
            raise ValueError(f"inputs: need {obj.in_channels} values, got {len(values)}")
        values = values + [0.0] * (obj.n_nodes - obj.in_channels)
        t_end = obj.t_end if t_end is None else t_end
        obj = obj.periods[0]
    t_end = 1.0 if t_end is None else t_end
    step = t_end / 1000 if dt is None else dt
    if isinstance(obj, CircuitCell):
        body, ic = _circuit_lines(obj, values)
        probes = [f"v(n{j})" for j in range(1, obj.n_nodes + 1)]
    elif isinstance(obj, (KirchhoffNodeCell, CascadeCell)):
        body, ic, nodes = _ladder_lines(obj, values)
        probes = [f"v({n})" for n in nodes]
    else:
        raise TypeError(f"to_spice supports CircuitCell, KirchhoffNet, KirchhoffNodeCell and "
                        f"CascadeCell, got {type(obj).__name__}")
    lines = [f"* {title}", *body, *ic, ACCURATE,
             f".tran {_f(step)} {_f(t_end)} 0 {_f(step)} uic"]
    if data_file is not None:
        lines += [".control", "set wr_singlescale", "set wr_vecnames", "run",
                  f"wrdata {data_file} " + " ".join(probes), "quit", ".endc"]
    lines.append(".end")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


def run_ngspice(netlist: str | os.PathLike, timeout: float = 120) -> None:
    """Run ``ngspice -b`` on a netlist (its ``.control`` block writes the data file).

    ngspice runs in the netlist's folder, so a relative ``data_file`` of :func:`to_spice`
    lands beside the netlist; ``netlist`` itself may be relative to the current folder.

    Raises:
        FileNotFoundError: ngspice is not installed, or ``netlist`` does not exist.
        RuntimeError: ngspice failed (its output is in the message).
    """
    exe = shutil.which("ngspice")
    if exe is None:
        raise FileNotFoundError("ngspice is not installed (Debian: apt-get install ngspice)")
    netlist = Path(netlist).resolve()  # ngspice runs in its folder, not in ours
    if not netlist.is_file():
        raise InputNotFoundError(f"netlist {netlist} does not exist")
    result = subprocess.run([exe, "-b", netlist.name], capture_output=True, text=True,
                            timeout=timeout, cwd=netlist.parent)
    if result.returncode != 0:
        raise RuntimeError(f"ngspice failed on {netlist}:\n{result.stdout}\n{result.stderr}")


def read_wrdata(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read ``wrdata`` output (single time column, named vectors): (times (T,), values (T, n))."""
    rows = [line.split() for line in Path(path).read_text().splitlines() if line.strip()]
    data = np.array([[float(x) for x in r] for r in rows[1:]])  # first row: vector names
    return data[:, 0], data[:, 1:]
