"""The scan backends, each declared by what it can run: one table, one chooser.

A backend states the devices, input dtypes and discretizers it runs, whether it can
scan in reverse and in chunks, and a readiness check (is the kernel built, is Triton
installed); :func:`choose_backend` picks the first that can run a scan, or says why the
one asked for cannot. Adding a backend is one entry of :data:`SCAN_BACKENDS` (and its
place in :data:`AUTO_ORDER`); ``tests/test_scan.py`` then checks it against the
reference loop for every discretizer it declares, and ``tests/test_zoh_spec.py`` checks
its ZOH coefficients against ``scipy.linalg.expm``.

A discretizer's maths has one specification, its ``coefficients`` (``kinnsci.discretize``):
the PyTorch backend calls it; the fused kernels implement the ZOH, Euler and Bilinear
classes exactly (never a subclass, which may override ``coefficients``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from kinnsci.discretize import Discretizer
from kinnsci.errors import ConfigError
from kinnsci.scan import cpu_kernel, triton_kernel
from kinnsci.scan.op import KERNEL_DISCRETIZERS, kernel_mode, state_dtype
from kinnsci.scan.pytorch_scan import pytorch_selective_scan

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

ScanFunction = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor | None, Discretizer,
                         int, bool], Tensor]
"""``run(x, delta, A, B, C, D, discretizer, chunk_size, reverse) -> y``."""


@dataclass(frozen=True)
class ScanBackend:
    """One way to run :func:`~kinnsci.scan.selective_scan`, by its capabilities.

    Attributes:
        name: the ``backend=`` value that asks for it.
        devices: the tensor devices it runs on.
        discretizers: the exact discretizer classes it implements, or None for any (it
            calls the discretizer's ``coefficients``).
        ready: ``x -> (True, what runs)`` or ``(False, why not and how to fix it)``.
        run: the scan.
        dtypes: input dtypes (the state is float32, float64 for float64 inputs).
        reverse: runs anti-causal scans (``reverse=True``).
        chunking: carries the state over chunks of ``chunk_size`` positions.
    """

    name: str
    devices: tuple[str, ...]
    discretizers: tuple[type[Discretizer], ...] | None
    ready: Callable[[Tensor], tuple[bool, str]]
    run: ScanFunction
    dtypes: tuple[torch.dtype, ...] = FLOAT_DTYPES
    reverse: bool = True
    chunking: bool = True
    named_only_on: tuple[str, ...] = ()

    def why_not(self, x: Tensor, discretizer: Discretizer, reverse: bool,
                auto: bool = False) -> str | None:
        """None when this backend runs the scan; else what stands in the way. ``auto``:
        also not on the devices it runs on only when asked by name."""
        devices = tuple(d for d in self.devices if not (auto and d in self.named_only_on))
        if x.device.type not in devices:
            return f"it runs on {' or '.join(devices)} tensors, got {x.device.type} ones"
        if x.dtype not in self.dtypes:
            return f"it takes {', '.join(map(str, self.dtypes))} inputs, got {x.dtype}"
        if self.discretizers is not None and type(discretizer) not in self.discretizers:
            names = ", ".join(c.__name__ for c in self.discretizers)
            return (f"it implements exactly the discretizer classes {names}, not "
                    f"{type(discretizer).__name__} (not a subclass: it may change the maths)")
        if reverse and not self.reverse:
            return "it has no reverse scan"
        ready, why = self.ready(x)
        return None if ready else why


def _fused(kernel: str) -> ScanFunction:
    def run(x, delta, A, B, C, D, discretizer, chunk_size, reverse):
        skip = D if D is not None else x.new_zeros(x.shape[-1])
        mode = kernel_mode(discretizer)
        y, _ = torch.ops.kinnsci.selective_scan(x, delta, A, B, C, skip, 0 if mode is None
                                                 else mode, chunk_size, reverse, kernel)
        return y
    return run


def _pytorch(x, delta, A, B, C, D, discretizer, chunk_size, reverse):
    out_dtype = x.dtype
    state = state_dtype(x.dtype, A.dtype)  # the fused kernels' rule: float32 for 16 bits
    x, delta, A, B, C = (t.to(state) for t in (x, delta, A, B, C))
    if reverse:
        x, delta, B, C = (t.flip(1) for t in (x, delta, B, C))
    y = pytorch_selective_scan(x, delta, A, B, C, discretizer, chunk_size)
    y = y if D is None else y + D.to(state) * x
    return (y.flip(1) if reverse else y).to(out_dtype)


def _cpp_ready(x: Tensor) -> tuple[bool, str]:
    # the reason only when needed: status() reads the CPU's ISA, which torch.compile
    # cannot trace (auto scans run inside compiled models)
    return (True, "") if cpu_kernel.available() else (False, cpu_kernel.status())


SCAN_BACKENDS: dict[str, ScanBackend] = {
    # the operator's shape function: FLOP counting and shape propagation on the meta
    # device, costed as a fused scan whatever the discretizer
    "meta": ScanBackend("meta", ("meta",), None, lambda x: (True, ""),
                        _fused("cpp")),
    "cpp": ScanBackend("cpp", ("cpu",), KERNEL_DISCRETIZERS, _cpp_ready, _fused("cpp")),
    # on CPUs only under TRITON_INTERPRET=1 and by name: Triton's interpreter, for tests
    "triton": ScanBackend("triton", ("cuda", "cpu"), KERNEL_DISCRETIZERS, triton_kernel.usable,
                          _fused("triton"), named_only_on=("cpu",)),
    "pytorch": ScanBackend("pytorch", ("cpu", "cuda", "mps", "xpu"), None,
                           lambda x: (True, ""), _pytorch),
}
AUTO_ORDER = ("meta", "cpp", "triton", "pytorch")
"""``backend="auto"``: the first of these that can run the scan."""
BACKENDS = ("auto", *(name for name in SCAN_BACKENDS if name != "meta"))
"""The ``backend=`` values of :func:`~kinnsci.scan.selective_scan`."""


def choose_backend(name: str, x: Tensor, discretizer: Discretizer,
                   reverse: bool = False) -> ScanBackend:
    """The backend that runs a scan of ``x``: ``name`` itself, or for ``"auto"`` the first
    of :data:`AUTO_ORDER` that can. On the meta device every scan is the fused
    operator's shape function (what FLOP counting reads).

    Raises:
        ConfigError: an unknown name, or a backend that cannot run this scan (why, and
            ``backend='pytorch'`` as the way out).
    """
    if x.is_meta:
        return SCAN_BACKENDS["meta"]
    if name == "auto":
        for candidate in AUTO_ORDER:
            if SCAN_BACKENDS[candidate].why_not(x, discretizer, reverse, auto=True) is None:
                return SCAN_BACKENDS[candidate]
        name = "pytorch"  # reports why it cannot either
    if name not in SCAN_BACKENDS or name == "meta":
        raise ConfigError(f"backend must be one of {BACKENDS}, got {name!r}")
    backend = SCAN_BACKENDS[name]
    why = backend.why_not(x, discretizer, reverse)
    if why is not None:
        raise ConfigError(f"backend={name!r} cannot run this scan: {why}; use "
                          "backend='pytorch'" if name != "pytorch" else
                          f"no backend can run this scan: {why}")
    return backend
