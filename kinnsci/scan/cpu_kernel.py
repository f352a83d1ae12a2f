"""A fused C++ selective scan for CPUs, compiled on first use (torch.utils.cpp_extension).

One pass over the sequence per (batch, block of 16 float / 8 double channels) computes
the ZOH or Euler coefficients, the state update, the C-contraction and the skip term
without ever materialising (batch, length, D, N) tensors. The channels of a block are
SIMD lanes, with a vectorised exp/expm1 (Cephes' reduction and polynomial, ~1 ulp). The
backward pass walks the sequence in reverse, recomputing the states of each ``chunk``
positions from a checkpoint taken in the forward pass, so memory stays
O(length / chunk · D · N). (batch, channel block) tasks run in parallel on ATen's thread
pool.

The C++ is ``selective_scan_cpu.cpp`` next to this file (portable C++17: see its
header); :func:`build_flags` picks the compiler flags per platform. If no compiler (or
ninja) is available, :func:`available` returns False, :func:`status` says why, and
``selective_scan`` falls back to the PyTorch scan; set ``KINNSCI_DISABLE_CPU_KERNEL=1`` to
force the fallback. Tests pin the kernel to ``selective_scan_ref`` in float64 and
gradcheck it.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import sys
import threading
import time
import warnings
from pathlib import Path

import torch
from torch import Tensor

SOURCE = Path(__file__).with_name("selective_scan_cpu.cpp")

_module = None
_error: str | None = None


def build_flags(isa: str, system: str | None = None, machine: str | None = None,
                compiler: str | None = None) -> tuple[list[str], list[str]]:
    """``(cflags, ldflags)`` for the kernel on this platform, ``isa`` a :func:`_isa` name.

    GCC/clang: -O3, OpenMP (at::parallel_for is inlined from ATen's headers and spreads
    work over threads only when this code is compiled with OpenMP; libgomp resolves to the
    copy torch already loaded), no FMA contraction (each multiply and add rounds as
    PyTorch's ops do) and, on x86, the ISA torch runs with. macOS's clang has no OpenMP
    runtime: ``-fopenmp-simd`` keeps the vector loops. MSVC: /O2 and its OpenMP. Nothing
    architecture-specific elsewhere (aarch64 has NEON as its baseline).
    """
    system = system or platform.system()
    machine = (machine or platform.machine()).lower()
    msvc = (compiler or ("cl" if system == "Windows" else "gcc")) == "cl"
    if msvc:
        return ["/O2", "/openmp:experimental", "/fp:precise"], []
    cflags = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"]
    ldflags: list[str] = []
    if system == "Darwin":
        cflags.append("-fopenmp-simd")
    else:
        cflags.append("-fopenmp")
        ldflags.append("-fopenmp")
    if machine in ("x86_64", "amd64", "i686", "x86"):
        cflags += {"avx512": ["-mavx512f", "-mavx2", "-mfma"],
                   "avx2": ["-mavx2", "-mfma"]}.get(isa, [])
    return cflags, ldflags


def zoh_defines() -> list[str]:
    """The ZOH specification of :mod:`kinnsci.discretize.zoh` as compiler defines (the
    C++ refuses to build without them)."""
    from kinnsci.discretize.zoh import SERIES_BELOW, series_terms

    return [f"-DKINNSCI_ZOH_SERIES_BELOW={SERIES_BELOW!r}",
            f"-DKINNSCI_ZOH_TERMS_FLOAT={series_terms(torch.float32)}",
            f"-DKINNSCI_ZOH_TERMS_DOUBLE={series_terms(torch.float64)}"]


def build_name(isa: str) -> str:
    """The build's name in torch's extension cache: the source and the ZOH defines hashed
    into it, so a changed kernel or specification is never served from an old build."""
    digest = hashlib.sha256(SOURCE.read_bytes() + " ".join(zoh_defines()).encode())
    return f"kinnsci_scan_cpu_{digest.hexdigest()[:12]}_{isa}"


def load(isa: str | None = None, extra_cflags: list[str] | None = None, name: str | None = None):
    """Build (cached by torch under ``name``) and import the kernel's extension module.
    ``isa`` (default: what torch runs with) names the build, so a shared home directory
    never serves AVX-512 code to an AVX2 CPU."""
    from torch.utils.cpp_extension import load as load_extension

    isa = isa or _isa()
    cflags, ldflags = build_flags(isa)
    name = name or build_name(isa)
    folder = build_directory(name)
    folder.mkdir(parents=True, exist_ok=True)
    return load_extension(name=name, sources=[str(SOURCE)],
                          extra_cflags=cflags + zoh_defines() + list(extra_cflags or []),
                          extra_ldflags=ldflags, build_directory=str(folder),
                          verbose=False), name


def build_directory(name: str) -> Path:
    """Where the build ``name`` lives: under torch's extension root (``TORCH_EXTENSIONS_DIR``
    or torch's default), in a folder per Python and torch version (a build links against
    both), so kinnsci knows where its builds are without torch's private helpers."""
    from torch.utils.cpp_extension import get_default_build_root

    root = os.environ.get("TORCH_EXTENSIONS_DIR") or get_default_build_root()
    versions = f"py{sys.version_info.major}{sys.version_info.minor}_torch{torch.__version__}"
    return Path(root) / "kinnsci" / re.sub(r"[^A-Za-z0-9_.]+", "_", versions) / name


def available() -> bool:
    """Build the kernel (once per machine, cached by torch) and report whether it loads.

    Without a C++ compiler or ninja it does not: :func:`status` says why, scans fall back
    to the PyTorch path, and one warning says the same and how to get the kernel."""
    global _module, _error
    if os.environ.get("KINNSCI_DISABLE_CPU_KERNEL") == "1":
        return False
    if _module is None and _error is None:
        try:
            name = build_name(_isa())
            # torch may rebuild even with a build in its cache (another torch install, other
            # include paths): announce whenever loading takes longer than a cache hit does
            compiling = threading.Event()

            def announce() -> None:
                compiling.set()
                _say("kinnsci: compiling the fused CPU scan, once per machine (about 40 s on "
                     "2 cores; the first training step waits for it)...")

            timer = threading.Timer(SLOW_LOAD_S, announce)
            timer.daemon = True
            start = time.perf_counter()
            if _is_built(name):
                timer.start()
            else:
                announce()
            try:
                _module, _ = load(name=name)
            finally:
                timer.cancel()
                if timer.is_alive():
                    timer.join()
            if compiling.is_set():
                _say(f"kinnsci: fused CPU scan ready after {time.perf_counter() - start:.0f} "
                     "s (cached for later runs)")
        except Exception as exc:  # no compiler / ninja: use the PyTorch path
            _error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            warnings.warn(f"kinnsci: the fused CPU scan could not be built ({_error}); using "
                          f"the PyTorch scan, about 16x slower. To get the kernel: "
                          f"{HOW_TO_BUILD}. `kinnsci info` reports which scan runs.",
                          stacklevel=2)
    return _module is not None


def status() -> str:
    """Which CPU scan runs and, for the fallback, why and how to get the kernel (for
    ``kinnsci info`` and error messages)."""
    if os.environ.get("KINNSCI_DISABLE_CPU_KERNEL") == "1":
        return "the PyTorch scan: the C++ kernel is disabled by KINNSCI_DISABLE_CPU_KERNEL=1"
    if available():
        return f"the C++ kernel ({_isa()} build)"
    return (f"the PyTorch scan, about 16x slower: the C++ kernel did not build ({_error}); "
            + HOW_TO_BUILD)


HOW_TO_BUILD = ("it needs a C++ compiler (g++ or clang++ on Linux and macOS, MSVC on "
                "Windows) and ninja (pip install ninja); then it builds on first use")


def _isa() -> str:
    """torch's CPU capability as a name for the build ("avx512", "avx2", "default", ...)."""
    raw = str(torch.backends.cpu.get_cpu_capability()).lower()
    return re.sub(r"[^a-z0-9]+", "_", raw).strip("_") or "default"


def _is_built(name: str) -> bool:
    """Whether the build folder holds this build (only to decide whether to announce a
    compilation)."""
    return any(build_directory(name).glob(f"{name}*.so")) or any(
        build_directory(name).glob(f"{name}*.pyd"))


SLOW_LOAD_S = 2.0
"""A cached build loads in well under this; a load still running after it is compiling."""


def _say(message: str) -> None:
    # through tqdm: a plain print under an active progress bar is redrawn over at once,
    # and the first scan usually runs inside the first training epoch's bar
    from tqdm.auto import tqdm

    tqdm.write(message, file=sys.stderr)
    sys.stderr.flush()


def forward(x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor, mode: int,
            chunk_size: int, reverse: bool) -> tuple[Tensor, Tensor]:
    """``(y, checkpoints)``: y_t = C_t · h_t + D x_t and the state at the start of each
    chunk, ``(batch, n_chunks, D, N)``; shapes as ``selective_scan``. ``reverse``: the
    recurrence runs from the last position to the first (h_t depends on x_t .. x_{L-1}),
    without flipped copies of the inputs. Called through ``torch.ops.kinnsci.selective_scan``
    when :func:`available` is True."""
    from kinnsci.scan.op import state_dtype

    state = state_dtype(x.dtype, A.dtype)  # float32 for bf16/fp16 inputs
    inputs = (t.to(state).contiguous() for t in (x, delta, A, B, C, D))
    y, checkpoints = _module.forward(*inputs, mode, chunk_size, reverse)
    return y.to(x.dtype), checkpoints


def backward(grad_y: Tensor, x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
             D: Tensor, checkpoints: Tensor, mode: int, chunk_size: int, reverse: bool
             ) -> tuple[Tensor, ...]:
    """Gradients ``(x, delta, A, B, C, D)``; each chunk's states are recomputed from its
    checkpoint."""
    state = checkpoints.dtype
    originals = (x, delta, A, B, C, D)
    inputs = (t.to(state).contiguous() for t in (grad_y, *originals, checkpoints))
    grads = _module.backward(*inputs, mode, chunk_size, reverse)
    return tuple(g.to(t.dtype) for g, t in zip(grads, originals, strict=True))
