"""A fused C++ selective scan for CPUs, compiled on first use (torch.utils.cpp_extension).

One pass over the sequence per (batch, channel) computes the ZOH or Euler coefficients,
the state update and the C-contraction without ever materialising (batch, length, D, N)
tensors. The backward pass walks the sequence in reverse, recomputing the states of each
``chunk`` positions from a checkpoint taken in the forward pass, so memory stays
O(length / chunk · D · N). Batches run in parallel on ATen's thread pool.

If no compiler (or ninja) is available, :func:`available` returns False and
``selective_scan`` falls back to the pure-PyTorch blocked scan; set
``KINNSCI_DISABLE_CPU_KERNEL=1`` to force the fallback. Tests pin the kernel to
``selective_scan_ref`` in float64 and gradcheck it.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import torch
from torch import Tensor

MODES = {"zoh": 0, "euler": 1}
CHUNK = 64

_SOURCE = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <cmath>
#include <vector>

// Coefficients of one (position, channel) for all N states, in straight-line loops the
// compiler can vectorise:
//   a = Abar = exp(dt A),  g = Bbar / B = expm1(dt A) / A  (ZOH)  or  1 + dt A, dt (Euler).
// Derivatives for the backward pass: da/ddt, da/dA, dg/ddt, dg/dA.
template <typename T>
static inline void coeffs(int mode, T dt, const T* A, int64_t N, T* a, T* g, T* dadD, T* dadA,
                          T* dgdD, T* dgdA) {
  if (mode == 1) {  // Euler
    for (int64_t n = 0; n < N; ++n) {
      a[n] = 1 + dt * A[n]; g[n] = dt;
      if (dadD) { dadD[n] = A[n]; dadA[n] = dt; dgdD[n] = 1; dgdA[n] = 0; }
    }
    return;
  }
  const T small = sizeof(T) == 8 ? T(1e-3) : T(0.05);
_Pragma("omp simd")
  for (int64_t n = 0; n < N; ++n) a[n] = std::exp(dt * A[n]);
  for (int64_t n = 0; n < N; ++n) {
    const T z = dt * A[n];
    const bool tiny = std::abs(z) < small;
    // phi1(z) = expm1(z)/z: series near 0, (e^z - 1)/z elsewhere (|z| >= small keeps the
    // cancellation below the dtype's tolerance); dphi = phi1'(z)
    const T zs = tiny ? T(1) : z;
    const T series = 1 + z * (T(1) / 2 + z * (T(1) / 6 + z * (T(1) / 24 + z / 120)));
    const T phi = tiny ? series : (a[n] - 1) / zs;
    g[n] = dt * phi;
    if (dadD) {
      const T dseries = T(1) / 2 + z * (T(1) / 3 + z * (T(1) / 8 + z * (T(1) / 30 + z / 144)));
      const T dphi = tiny ? dseries : (a[n] - phi) / zs;
      dadD[n] = A[n] * a[n]; dadA[n] = dt * a[n]; dgdD[n] = a[n]; dgdA[n] = dt * dt * dphi;
    }
  }
}

std::vector<torch::Tensor> forward(torch::Tensor x, torch::Tensor delta, torch::Tensor A,
                                   torch::Tensor Bm, torch::Tensor C, int64_t mode,
                                   int64_t chunk) {
  const auto Bsz = x.size(0), L = x.size(1), D = x.size(2), N = A.size(1);
  const auto n_chunks = (L + chunk - 1) / chunk;
  auto y = torch::empty_like(x);
  auto ckpt = torch::zeros({Bsz, n_chunks, D, N}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "kinnsci_scan_forward", [&] {
    const scalar_t* xp = x.data_ptr<scalar_t>();
    const scalar_t* dp = delta.data_ptr<scalar_t>();
    const scalar_t* Ap = A.data_ptr<scalar_t>();
    const scalar_t* Bp = Bm.data_ptr<scalar_t>();
    const scalar_t* Cp = C.data_ptr<scalar_t>();
    scalar_t* yp = y.data_ptr<scalar_t>();
    scalar_t* kp = ckpt.data_ptr<scalar_t>();
    at::parallel_for(0, Bsz * D, 1, [&](int64_t begin, int64_t end) {
      std::vector<scalar_t> h(N), a(N), g(N);
      for (int64_t bd = begin; bd < end; ++bd) {
        const int64_t b = bd / D, d = bd % D;
        const scalar_t* Ad = Ap + d * N;
        std::fill(h.begin(), h.end(), scalar_t(0));
        for (int64_t t = 0; t < L; ++t) {
          if (t % chunk == 0) {
            scalar_t* k = kp + ((b * n_chunks + t / chunk) * D + d) * N;
            for (int64_t n = 0; n < N; ++n) k[n] = h[n];
          }
          const int64_t i = (b * L + t) * D + d;
          const scalar_t xt = xp[i];
          const scalar_t* Bt = Bp + (b * L + t) * N;
          const scalar_t* Ct = Cp + (b * L + t) * N;
          coeffs<scalar_t>(mode, dp[i], Ad, N, a.data(), g.data(), nullptr, nullptr, nullptr,
                           nullptr);
          scalar_t acc = 0;
_Pragma("omp simd reduction(+:acc)")
          for (int64_t n = 0; n < N; ++n) {
            h[n] = a[n] * h[n] + g[n] * Bt[n] * xt;
            acc += h[n] * Ct[n];
          }
          yp[i] = acc;
        }
      }
    });
  });
  return {y, ckpt};
}

std::vector<torch::Tensor> backward(torch::Tensor gy, torch::Tensor x, torch::Tensor delta,
                                    torch::Tensor A, torch::Tensor Bm, torch::Tensor C,
                                    torch::Tensor ckpt, int64_t mode, int64_t chunk) {
  const auto Bsz = x.size(0), L = x.size(1), D = x.size(2), N = A.size(1);
  const auto n_chunks = ckpt.size(1);
  auto gx = torch::zeros_like(x), gdelta = torch::zeros_like(delta);
  // one thread owns a whole batch row, so gB/gC (shared by its channels) need no atomics;
  // gA (shared by all rows) is summed from per-row partials
  auto gA_part = torch::zeros({Bsz, D, N}, x.options());
  auto gB = torch::zeros_like(Bm);
  auto gC = torch::zeros_like(C);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "kinnsci_scan_backward", [&] {
    const scalar_t* gyp = gy.data_ptr<scalar_t>();
    const scalar_t* xp = x.data_ptr<scalar_t>();
    const scalar_t* dp = delta.data_ptr<scalar_t>();
    const scalar_t* Ap = A.data_ptr<scalar_t>();
    const scalar_t* Bp = Bm.data_ptr<scalar_t>();
    const scalar_t* Cp = C.data_ptr<scalar_t>();
    const scalar_t* kp = ckpt.data_ptr<scalar_t>();
    scalar_t* gxp = gx.data_ptr<scalar_t>();
    scalar_t* gdp = gdelta.data_ptr<scalar_t>();
    scalar_t* gAp = gA_part.data_ptr<scalar_t>();
    scalar_t* gBp = gB.data_ptr<scalar_t>();
    scalar_t* gCp = gC.data_ptr<scalar_t>();
    at::parallel_for(0, Bsz, 1, [&](int64_t begin, int64_t end) {
      // per chunk position: states and the six coefficient arrays, computed once
      std::vector<scalar_t> G(N), hs((chunk + 1) * N), buf(6 * chunk * N);
      for (int64_t bd = begin * D; bd < end * D; ++bd) {
        const int64_t b = bd / D, d = bd % D;
        const scalar_t* Ad = Ap + d * N;
        std::fill(G.begin(), G.end(), scalar_t(0));
        scalar_t* gA = gAp + (b * D + d) * N;
        scalar_t* gBb = gBp + b * L * N;
        scalar_t* gCb = gCp + b * L * N;
        for (int64_t c = n_chunks - 1; c >= 0; --c) {
          const int64_t s = c * chunk, e = std::min(L, s + chunk);
          const scalar_t* k = kp + ((b * n_chunks + c) * D + d) * N;
          for (int64_t n = 0; n < N; ++n) hs[n] = k[n];  // hs[j] = state before step s + j
          for (int64_t t = s; t < e; ++t) {
            const int64_t i = (b * L + t) * D + d, j = t - s;
            scalar_t* cf = buf.data() + 6 * j * N;
            coeffs<scalar_t>(mode, dp[i], Ad, N, cf, cf + N, cf + 2 * N, cf + 3 * N,
                             cf + 4 * N, cf + 5 * N);
            const scalar_t* Bt = Bp + (b * L + t) * N;
            scalar_t* hn = hs.data() + (j + 1) * N;
            const scalar_t* hp = hs.data() + j * N;
            const scalar_t xt = xp[i];
_Pragma("omp simd")
            for (int64_t n = 0; n < N; ++n) hn[n] = cf[n] * hp[n] + cf[N + n] * Bt[n] * xt;
          }
          for (int64_t t = e - 1; t >= s; --t) {
            const int64_t i = (b * L + t) * D + d, j = t - s;
            const scalar_t xt = xp[i], dy = gyp[i];
            const scalar_t* Bt = Bp + (b * L + t) * N;
            const scalar_t* Ct = Cp + (b * L + t) * N;
            const scalar_t* h = hs.data() + (j + 1) * N;
            const scalar_t* hp = hs.data() + j * N;
            const scalar_t* a = buf.data() + 6 * j * N;
            const scalar_t *g = a + N, *dadD = a + 2 * N, *dadA = a + 3 * N, *dgdD = a + 4 * N,
                           *dgdA = a + 5 * N;
            scalar_t* gBt = gBb + t * N;
            scalar_t* gCt = gCb + t * N;
            scalar_t gxt = 0, gdt = 0;
_Pragma("omp simd reduction(+:gxt, gdt)")
            for (int64_t n = 0; n < N; ++n) {
              const scalar_t Gn = G[n] + dy * Ct[n];
              gCt[n] += dy * h[n];
              const scalar_t ga = Gn * hp[n], gg = Gn * Bt[n] * xt;
              gxt += Gn * g[n] * Bt[n];
              gBt[n] += Gn * g[n] * xt;
              gdt += ga * dadD[n] + gg * dgdD[n];
              gA[n] += ga * dadA[n] + gg * dgdA[n];
              G[n] = Gn * a[n];
            }
            gxp[i] = gxt;
            gdp[i] = gdt;
          }
        }
      }
    });
  });
  return {gx, gdelta, gA_part.sum(0), gB, gC};
}
"""

_module = None
_error: str | None = None


def available() -> bool:
    """Compile (once per machine, cached by torch) and report whether the kernel loads."""
    global _module, _error
    if os.environ.get("KINNSCI_DISABLE_CPU_KERNEL") == "1":
        return False
    if _module is None and _error is None:
        try:
            from torch.utils.cpp_extension import load_inline

            # no FMA contraction: each multiply and add rounds as PyTorch's own ops do
            flags = ["-O3", "-fopenmp-simd", "-fno-math-errno", "-ffp-contract=off"]
            # vector math needs the ISA: build for what this CPU has, and name the build
            # after it, so a shared home directory never serves AVX-512 code to an AVX2 CPU
            isa = torch.backends.cpu.get_cpu_capability().lower()
            flags += {"avx512": ["-mavx512f", "-mavx2", "-mfma"],
                      "avx2": ["-mavx2", "-mfma"]}.get(isa, [])
            name = f"kinnsci_scan_cpu_v3_{isa}"
            if not _is_built(name):
                print("kinnsci: compiling the fused CPU scan (once per machine, ~1 min)...",
                      file=sys.stderr, flush=True)
            _module = load_inline(name=name, cpp_sources=_SOURCE,
                                  functions=["forward", "backward"], extra_cflags=flags,
                                  verbose=False)
        except Exception as exc:  # no compiler / ninja: use the PyTorch path
            _error = f"{type(exc).__name__}: {exc}"
            warnings.warn("kinnsci: the fused CPU scan could not be compiled; using the "
                          f"slower PyTorch scan ({_error.splitlines()[0][:200]})", stacklevel=2)
    return _module is not None


def _is_built(name: str) -> bool:
    """Whether torch's extension cache already holds this build (only to decide whether to
    announce a compilation; a private torch helper, so any failure just means "don't say")."""
    try:
        from torch.utils.cpp_extension import _get_build_directory

        return any(Path(_get_build_directory(name, verbose=False)).glob(f"{name}*.so"))
    except Exception:
        return True


class _FusedScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, delta, A, B, C, mode: int, chunk: int):
        x, delta, A, B, C = (t.contiguous() for t in (x, delta, A, B, C))
        y, ckpt = _module.forward(x, delta, A, B, C, mode, chunk)
        ctx.save_for_backward(x, delta, A, B, C, ckpt)
        ctx.mode, ctx.chunk = mode, chunk
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, delta, A, B, C, ckpt = ctx.saved_tensors
        gx, gd, gA, gB, gC = _module.backward(grad_y.contiguous(), x, delta, A, B, C, ckpt,
                                              ctx.mode, ctx.chunk)
        return gx, gd, gA, gB, gC, None, None


def fused_selective_scan(x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
                         discretizer: str, chunk: int = CHUNK) -> Tensor:
    """y_t = C_t · h_t (no skip term) with the fused kernel; shapes as ``selective_scan``.

    Call only when :func:`available` is True and ``discretizer`` is in ``MODES``.
    """
    return _FusedScan.apply(x, delta, A, B, C, MODES[discretizer], chunk)
