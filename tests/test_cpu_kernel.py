"""The C++ scan kernel builds for what the machine has: flags per platform, a build name
safe for any ISA torch reports, and the portable code path (no intrinsics, no ISA
flags: what ARM, macOS and Windows compile) gives the same numbers as this machine's."""

from __future__ import annotations

import pytest
import torch

from kinnsci.scan import cpu_kernel, selective_scan_ref


@pytest.mark.parametrize(("system", "machine", "compiler", "isa", "want", "refuse"), [
    ("Linux", "x86_64", None, "avx512", ["-O3", "-fopenmp", "-mavx512f"], []),
    ("Linux", "x86_64", None, "avx2", ["-mavx2", "-mfma"], ["-mavx512f"]),
    ("Linux", "aarch64", None, "default", ["-O3", "-fopenmp"], ["-mavx2", "-mavx512f"]),
    ("Darwin", "arm64", None, "default", ["-fopenmp-simd"], ["-fopenmp", "-mavx2"]),
    ("Windows", "AMD64", "cl", "avx2", ["/O2"], ["-O3", "-fopenmp", "-mavx2"]),
])
def test_build_flags_fit_the_platform(system, machine, compiler, isa, want, refuse):
    cflags, ldflags = cpu_kernel.build_flags(isa, system, machine, compiler)
    assert set(want) <= set(cflags), cflags
    assert not set(refuse) & set(cflags + ldflags), cflags + ldflags
    assert ("-fopenmp" in ldflags) == ("-fopenmp" in cflags)


@pytest.mark.parametrize(("reported", "name"), [
    ("AVX512", "avx512"), ("AVX2", "avx2"), ("NO AVX", "no_avx"), ("DEFAULT", "default"),
    ("SVE256", "sve256"), ("", "default"),
])
def test_the_build_is_named_after_a_sanitised_isa(monkeypatch, reported, name):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: reported)
    assert cpu_kernel._isa() == name
    assert name.isidentifier() or name[0].isalpha()


@pytest.mark.skipif(not cpu_kernel.available(), reason=cpu_kernel.status())
def test_the_portable_build_gives_this_machines_numbers():
    """Built without intrinsics and ISA flags (~35 s, once per machine: torch caches it)."""
    portable, _ = cpu_kernel.load(isa="default", extra_cflags=["-DKINNSCI_NO_INTRINSICS"],
                                  name=f"{cpu_kernel.build_name('portable')}_test")
    g = torch.Generator().manual_seed(0)
    b, length, d, n = 2, 70, 37, 5  # 37 channels: full and partial lane blocks
    x, B, C = (torch.randn(b, length, k, generator=g) for k in (d, n, n))
    delta = 0.05 + torch.rand(b, length, d, generator=g)
    A, D = -0.1 - torch.rand(d, n, generator=g), torch.randn(d, generator=g)
    for mode, name in enumerate(("zoh", "euler", "bilinear")):
        for reverse in (False, True):
            y, ckpt = portable.forward(x, delta, A, B, C, D, mode, 16, reverse)
            y_here, _ = cpu_kernel.forward(x, delta, A, B, C, D, mode, 16, reverse)
            torch.testing.assert_close(y, y_here, rtol=1e-5, atol=1e-5)
            gy = torch.randn_like(y)
            for g1, g2 in zip(portable.backward(gy, x, delta, A, B, C, D, ckpt, mode, 16,
                                                reverse),
                              cpu_kernel.backward(gy, x, delta, A, B, C, D, ckpt, mode, 16,
                                                  reverse), strict=True):
                torch.testing.assert_close(g1, g2, rtol=1e-4, atol=1e-4)
            flip = (lambda t: t.flip(1)) if reverse else (lambda t: t)
            ref = flip(selective_scan_ref(*(t.double() for t in (flip(x), flip(delta), A,
                                                                 flip(B), flip(C), D)), name))
            torch.testing.assert_close(y.double(), ref, rtol=1e-4, atol=1e-4)
