"""``kinnsci info``: versions, registries and hardware in one screen."""

from __future__ import annotations

import argparse
import importlib
import platform


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "info",
        help="print versions, registered components, CUDA and which scan kernel runs",
        description="Print versions, registered cells/discretizers/models, CUDA status and "
        "which selective-scan backend runs on each device (and, for a fallback, why).",
        epilog="example:\n  kinnsci info",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=run)


def _version(module: str) -> str:
    try:
        return getattr(importlib.import_module(module), "__version__", "installed")
    except Exception as exc:  # report, do not crash: info is a diagnostic tool
        return f"not importable ({type(exc).__name__})"


def run(args: argparse.Namespace) -> int:
    import torch

    import kinnsci
    from kinnsci.cells import CELLS
    from kinnsci.discretize import DISCRETIZERS

    print(f"kinnsci {kinnsci.__version__} on Python {platform.python_version()}")
    for mod in ("torch", "torchdiffeq", "numpy", "scipy", "xarray", "netCDF4", "dask"):
        print(f"  {mod:<12} {_version(mod)}")
    print(f"cells:        {', '.join(CELLS)}")
    print(f"discretizers: {', '.join(DISCRETIZERS)}")
    for name, registry in _optional_registries():
        print(f"{name + ':':<14}{', '.join(registry)}")
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        print(f"CUDA: yes ({', '.join(names)})")
    else:
        print("CUDA: no (CPU only)")
    for line in scan_backends(torch):
        print(line)
    return 0


def scan_backends(torch) -> list[str]:
    """Which selective scan runs on each device, and for a fallback why and how to fix it."""
    from kinnsci.scan import cpu_kernel, triton_kernel

    lines = [f"scan on CPU:  {cpu_kernel.status()}"]
    if torch.cuda.is_available():
        ready, why = triton_kernel.usable(torch.empty(0, device="cuda"))
        lines.append("scan on CUDA: " + ("the Triton kernel" if ready else
                                         f"the PyTorch scan: {why}"))
    else:
        ready, why = triton_kernel.usable(torch.empty(0, device="meta"))
        installed = "installed" if "not installed" not in why else "not installed"
        lines.append(f"scan on CUDA: the Triton kernel where a GPU is present (Triton "
                     f"{installed})")
    return lines


def _optional_registries() -> list[tuple[str, dict]]:
    """Registries of subpackages that may not be present in every build."""
    found = []
    for label, module, attr in (
        ("scans", "kinnsci.scan", "SCANS"),
        ("models", "kinnsci.models", "MODELS"),
        ("generators", "kinnsci.data.generators", "GENERATORS"),
    ):
        try:
            found.append((label, getattr(importlib.import_module(module), attr)))
        except (ImportError, AttributeError):
            continue
    return found
