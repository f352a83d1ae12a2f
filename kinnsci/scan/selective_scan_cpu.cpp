// The fused selective scan for CPUs (kinnsci.scan.cpu_kernel builds and loads it).
// Portable C++17: SIMD comes from "omp simd" loops over a cache line of channels, which
// GCC, clang and MSVC vectorise for the ISA they build for (SSE/AVX2/AVX-512, NEON, SVE);
// the one hand-written intrinsic block (AVX-512 row sums) is compiled only where
// __AVX512F__ is defined.
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>
#if defined(__AVX512F__) && !defined(KINNSCI_NO_INTRINSICS)
#include <immintrin.h>
#define KINNSCI_AVX512 1
#endif

// Portable spellings: "omp simd" loops (GCC, clang with -fopenmp or -fopenmp-simd; MSVC
// with /openmp:experimental; elsewhere the pragma is ignored and the compiler's own
// vectoriser decides) and a branch-free floor.
#if defined(_MSC_VER) && !defined(__clang__)
#define KINNSCI_SIMD __pragma(omp simd)
#define KINNSCI_FLOORF(x) std::floor(x)
#define KINNSCI_FLOOR(x) std::floor(x)
#else
#define KINNSCI_SIMD _Pragma("omp simd")
#define KINNSCI_FLOORF(x) __builtin_floorf(x)
#define KINNSCI_FLOOR(x) __builtin_floor(x)
#endif

// The scan recurs along the sequence but is independent across channels, so every loop
// runs over W adjacent channels ("lanes", one cache line: 16 floats / 8 doubles) that the
// compiler maps to SIMD registers; the N states and the lanes give independent chains.
// Each lane loop carries "omp simd": without it GCC fully unrolls the short constant-trip
// loops first and then leaves them scalar (8x slower, measured).
template <typename T> struct Lanes { static constexpr int W = 64 / sizeof(T); };

// a * b + c, fused where the CPU has FMA. Only exp's polynomials use it: the state
// updates stay unfused (-ffp-contract=off) so Euler rounds exactly like PyTorch's ops.
#if defined(__FMA__)
#define MADD(a, b, c) std::fma((a), (b), (c))
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif

// exp and expm1 over W lanes, branch-free so they vectorise (std::exp does not): Cephes'
// range reduction x = f ln2 + r, e^r = 1 + q(r) by a polynomial/rational in r, and
// e^x = 2^f (1 + q) with 2^f built from bits; expm1 = (2^f - 1) + 2^f q has no
// cancellation (f = 0 near x = 0). Arguments are clamped to the normal range, so
// exp(-1e4) gives ~1e-38 / 1e-308 instead of 0.
// The last step of exp_lanes for both precisions: e^x = 2^f (1 + y) and
// expm1 = (2^f - 1) + 2^f y. ``scale`` arrives holding 2^m + (f + bias) as a floating
// value (m mantissa bits), i.e. the biased exponent in its low bits; shifting those bits
// up by m makes it the float 2^f.
template <typename T>
static inline void compose_exp(const T* y, T* scale, T* out, T* em1) {
  constexpr int W = Lanes<T>::W;
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  constexpr int mantissa = sizeof(T) == 4 ? 23 : 52;
  Bits bits[W];
  std::memcpy(bits, scale, sizeof bits);
  KINNSCI_SIMD
  for (int w = 0; w < W; ++w) bits[w] <<= mantissa;
  std::memcpy(scale, bits, sizeof bits);
  KINNSCI_SIMD
  for (int w = 0; w < W; ++w) {
    out[w] = MADD(scale[w], y[w], scale[w]);
    em1[w] = MADD(scale[w], y[w], scale[w] - T(1));
  }
}

static inline void exp_lanes(const float* z, float* out, float* em1) {
  constexpr int W = Lanes<float>::W;
  float y[W], scale[W];
  KINNSCI_SIMD
  for (int w = 0; w < W; ++w) {
    // ternaries and the builtin floor, not std::min/max/floor: those stay branches / calls
    float x = z[w];
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float f = KINNSCI_FLOORF(x * 1.44269504088896341f + 0.5f);
    float r = x - f * 0.693359375f;
    r = r + f * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = MADD(p, r, 1.3981999507e-3f);
    p = MADD(p, r, 8.3334519073e-3f);
    p = MADD(p, r, 4.1665795894e-2f);
    p = MADD(p, r, 1.6666665459e-1f);
    p = MADD(p, r, 5.0000001201e-1f);
    y[w] = MADD(p * r, r, r);
    scale[w] = f + (127.0f + 8388608.0f);  // 2^23 + (f + 127): the biased exponent in low bits
  }
  compose_exp(y, scale, out, em1);
}

static inline void exp_lanes(const double* z, double* out, double* em1) {
  constexpr int W = Lanes<double>::W;
  double y[W], scale[W];
  KINNSCI_SIMD
  for (int w = 0; w < W; ++w) {
    double x = z[w];
    x = x < -708.0 ? -708.0 : x;
    x = x > 709.0 ? 709.0 : x;
    const double f = KINNSCI_FLOOR(x * 1.4426950408889634073599 + 0.5);
    double r = x - f * 6.93145751953125e-1;
    r = r - f * 1.42860682030941723212e-6;
    const double rr = r * r;
    const double px = r * MADD(MADD(1.26177193074810590878e-4, rr, 3.02994407707441961300e-2),
                               rr, 9.99999999999999999910e-1);
    const double qx = MADD(MADD(MADD(3.00198505138664455042e-6, rr, 2.52448340349684104192e-3),
                                rr, 2.27265548208155028766e-1), rr, 2.00000000000000000009e0);
    y[w] = 2.0 * (px / (qx - px));
    scale[w] = f + (1023.0 + 4503599627370496.0);  // 2^52 + (f + 1023)
  }
  compose_exp(y, scale, out, em1);
}

// ZOH in division-free form: with z = dt A, Bbar / B = g = expm1(z) / A (accurate for
// every z: expm1 has no cancellation) and dg/dA = (dt a - g) / A, both times the
// per-(channel, state) constant 1/A. Where A = 0 exactly, g = dt (the limit). dg/dA
// cancels near z = 0, so below |z| = KINNSCI_ZOH_SERIES_BELOW its Taylor series
// dt^2 phi1'(z) takes over. The threshold and the number of terms are the ZOH
// specification of kinnsci.discretize.zoh, passed as defines by kinnsci.scan.cpu_kernel.
#if !defined(KINNSCI_ZOH_SERIES_BELOW) || !defined(KINNSCI_ZOH_TERMS_FLOAT) || \
    !defined(KINNSCI_ZOH_TERMS_DOUBLE)
#error "build through kinnsci.scan.cpu_kernel: it defines the ZOH series settings"
#endif
template <typename T> static constexpr int zoh_terms() {
  return sizeof(T) == 8 ? KINNSCI_ZOH_TERMS_DOUBLE : KINNSCI_ZOH_TERMS_FLOAT;
}
template <typename T> static inline T zoh_g(T dt, T em1, T inv_A, bool zero_A) {
  return zero_A ? dt : em1 * inv_A;
}
template <typename T> static inline T zoh_dg_dA(T dt, T z, T a, T g, T inv_A) {
  // phi1'(z) = sum_k (k + 1) z^k / (k + 2)!, term by term: t_k = t_{k-1} z (k+1) / (k (k+2))
  T term = T(1) / 2, series = term;
  for (int k = 1; k < zoh_terms<T>(); ++k) {
    term = term * z * (T(k + 1) / T(k * (k + 2)));
    series = series + term;
  }
  const bool tiny = std::abs(z) < T(KINNSCI_ZOH_SERIES_BELOW);
  return tiny ? dt * dt * series : (dt * a - g) * inv_A;
}

// (Abar, Bbar / B) of one position for state n on all lanes:
//   ZOH a = exp(dt A), g = expm1(dt A) / A;  Euler a = 1 + dt A, g = dt;
//   bilinear (Tustin) a = (1 + dt A / 2) / (1 - dt A / 2), g = dt / (1 - dt A / 2).
template <typename T>
static inline void coeffs(int mode, const T* dt, const T* An, const T* iAn, T* a, T* g) {
  constexpr int W = Lanes<T>::W;
  if (mode == 1) {
    KINNSCI_SIMD
    for (int w = 0; w < W; ++w) { a[w] = 1 + dt[w] * An[w]; g[w] = dt[w]; }
    return;
  }
  if (mode == 2) {  // the same operations, in the same order, as the PyTorch discretizer
    KINNSCI_SIMD
    for (int w = 0; w < W; ++w) {
      const T half = dt[w] * An[w] / 2, denom = 1 - half;
      a[w] = (1 + half) / denom;
      g[w] = dt[w] / denom;
    }
    return;
  }
  T z[W], em1[W];
  KINNSCI_SIMD
  for (int w = 0; w < W; ++w) z[w] = dt[w] * An[w];
  exp_lanes(z, a, em1);
  KINNSCI_SIMD
  for (int w = 0; w < W; ++w) g[w] = zoh_g(dt[w], em1[w], iAn[w], An[w] == T(0));
}

// sum of W lanes as a tree of vector adds: "omp simd reduction" would end in an in-order
// chain of scalar adds (no reassociation without -ffast-math), ~3x slower here
template <typename T>
static inline T sum_lanes(T* v) {
  constexpr int W = Lanes<T>::W;
  for (int h = W / 2; h >= 1; h /= 2) {
    KINNSCI_SIMD
    for (int w = 0; w < h; ++w) v[w] += v[w + h];
  }
  return v[0];
}

// out[r] = sum of the W lanes of rows[r], r < n_rows. On AVX-512 floats, 16 rows at a time
// by a transpose-and-add tree (~3 instructions per row instead of ~12).
template <typename T>
static inline void row_sums(T* rows, int64_t n_rows, T* out) {
  constexpr int W = Lanes<T>::W;
  int64_t r = 0;
#if defined(KINNSCI_AVX512)
  if constexpr (sizeof(T) == 4) {
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7,
                                            11, 15);
    for (; r + 16 <= n_rows; r += 16) {
      const float* m = reinterpret_cast<const float*>(rows + r * W);
      __m512 u[8], v[4], x[2];
      for (int i = 0; i < 8; ++i) {  // rows 2i, 2i+1: 8 partial sums each
        const __m512 a = _mm512_loadu_ps(m + 32 * i), b = _mm512_loadu_ps(m + 32 * i + 16);
        u[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
      }
      for (int i = 0; i < 4; ++i)  // rows 4i .. 4i+3: 4 partials each, one 128-bit block per row
        v[i] = _mm512_add_ps(_mm512_shuffle_f32x4(u[2 * i], u[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(u[2 * i], u[2 * i + 1], 0xDD));
      for (int i = 0; i < 2; ++i)
        x[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                             _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
      const __m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(x[0]), _mm512_castps_pd(x[1]));
      const __m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(x[0]), _mm512_castps_pd(x[1]));
      // lane 4k + m now holds row 4m + k
      const __m512 sums = _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
      _mm512_storeu_ps(reinterpret_cast<float*>(out + r), _mm512_permutexvar_ps(order, sums));
    }
  }
#endif
  for (; r < n_rows; ++r) out[r] = sum_lanes(rows + r * W);
}

// lanes d0 .. d0 + W of row (b, t) of a (B, L, D) tensor; lanes past D read as 0
template <typename T>
static inline void load_lanes(const T* p, int64_t valid, T* out) {
  constexpr int W = Lanes<T>::W;
  if (valid == W) { KINNSCI_SIMD for (int w = 0; w < W; ++w) out[w] = p[w]; return; }
  KINNSCI_SIMD
  for (int w = 0; w < W; ++w) out[w] = w < valid ? p[w] : T(0);
}

// A (as lanes, [n][w]; padding lanes get -1), 1/A and the skip weights of one lane block
template <typename T>
static inline void load_block(const T* Ap, const T* Sp, int64_t d0, int64_t valid, int64_t N,
                              T* At, T* iA, T* skip) {
  constexpr int W = Lanes<T>::W;
  for (int64_t n = 0; n < N; ++n) {
    KINNSCI_SIMD
    for (int w = 0; w < W; ++w) {
      At[n * W + w] = w < valid ? Ap[(d0 + w) * N + n] : T(-1);
      iA[n * W + w] = T(1) / At[n * W + w];  // inf where A = 0: only the series reads it
    }
  }
  load_lanes(Sp + d0, valid, skip);
}

// y = C . h + Dskip x (the skip term fused: one pass less over (batch, length, D))
std::vector<torch::Tensor> forward(torch::Tensor x, torch::Tensor delta, torch::Tensor A,
                                   torch::Tensor Bm, torch::Tensor C, torch::Tensor Dskip,
                                   int64_t mode, int64_t chunk, bool reverse) {
  const auto Bsz = x.size(0), L = x.size(1), D = x.size(2), N = A.size(1);
  const auto n_chunks = (L + chunk - 1) / chunk;
  // step t of the scan reads position t, or L - 1 - t when scanning in reverse
  const auto pos = [=](int64_t t) { return reverse ? L - 1 - t : t; };
  auto y = torch::empty_like(x);
  auto ckpt = torch::empty({Bsz, n_chunks, D, N}, x.options());  // every slot is written
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "kinnsci_scan_forward", [&] {
    using T = scalar_t;
    constexpr int W = Lanes<T>::W;
    const int64_t n_blocks = (D + W - 1) / W;
    const T *xp = x.data_ptr<T>(), *dp = delta.data_ptr<T>(), *Ap = A.data_ptr<T>();
    const T *Bp = Bm.data_ptr<T>(), *Cp = C.data_ptr<T>(), *Sp = Dskip.data_ptr<T>();
    T *yp = y.data_ptr<T>(), *kp = ckpt.data_ptr<T>();
    at::parallel_for(0, Bsz * n_blocks, 1, [&](int64_t begin, int64_t end) {
      std::vector<T> h(N * W), At(N * W), iA(N * W), a(N * W), g(N * W), skip(W);
      for (int64_t task = begin; task < end; ++task) {
        const int64_t b = task / n_blocks, d0 = (task % n_blocks) * W;
        const int64_t valid = std::min<int64_t>(W, D - d0);
        load_block(Ap, Sp, d0, valid, N, At.data(), iA.data(), skip.data());
        std::fill(h.begin(), h.end(), T(0));
        for (int64_t t = 0; t < L; ++t) {
          if (t % chunk == 0) {
            T* k = kp + ((b * n_chunks + t / chunk) * D + d0) * N;
            for (int w = 0; w < valid; ++w)
              for (int64_t n = 0; n < N; ++n) k[w * N + n] = h[n * W + w];
          }
          const int64_t row = (b * L + pos(t)) * D + d0;
          T xt[W], dt[W], acc[W];
          load_lanes(xp + row, valid, xt);
          load_lanes(dp + row, valid, dt);
          KINNSCI_SIMD
          for (int w = 0; w < W; ++w) acc[w] = 0;
          const T* Bt = Bp + (b * L + pos(t)) * N;
          const T* Ct = Cp + (b * L + pos(t)) * N;
          for (int64_t n = 0; n < N; ++n) {
            T* an = a.data() + n * W;
            T* gn = g.data() + n * W;
            T* hn = h.data() + n * W;
            coeffs<T>(mode, dt, At.data() + n * W, iA.data() + n * W, an, gn);
            const T Bn = Bt[n], Cn = Ct[n];
            KINNSCI_SIMD
            for (int w = 0; w < W; ++w) {
              hn[w] = an[w] * hn[w] + gn[w] * Bn * xt[w];
              acc[w] += hn[w] * Cn;
            }
          }
          for (int w = 0; w < valid; ++w) yp[row + w] = acc[w] + skip[w] * xt[w];
        }
      }
    });
  });
  return {y, ckpt};
}

std::vector<torch::Tensor> backward(torch::Tensor gy, torch::Tensor x, torch::Tensor delta,
                                    torch::Tensor A, torch::Tensor Bm, torch::Tensor C,
                                    torch::Tensor Dskip, torch::Tensor ckpt, int64_t mode,
                                    int64_t chunk, bool reverse) {
  const auto Bsz = x.size(0), L = x.size(1), D = x.size(2), N = A.size(1);
  const auto n_chunks = ckpt.size(1);
  const auto pos = [=](int64_t t) { return reverse ? L - 1 - t : t; };
  auto gx = torch::empty_like(x), gdelta = torch::empty_like(delta);
  auto gA_part = torch::empty({Bsz, D, N}, x.options());
  auto gD_part = torch::empty({Bsz, D}, x.options());
  torch::Tensor gB_part, gC_part;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "kinnsci_scan_backward", [&] {
    using T = scalar_t;
    constexpr int W = Lanes<T>::W;
    const int64_t n_blocks = (D + W - 1) / W;
    // B and C are shared by all channels: each lane block writes its own partial sums
    // (no atomics), added up over blocks afterwards
    gB_part = torch::empty({Bsz, n_blocks, L, N}, x.options());
    gC_part = torch::empty({Bsz, n_blocks, L, N}, x.options());
    const T *gyp = gy.data_ptr<T>(), *xp = x.data_ptr<T>(), *dp = delta.data_ptr<T>();
    const T *Ap = A.data_ptr<T>(), *Bp = Bm.data_ptr<T>(), *Cp = C.data_ptr<T>();
    const T *kp = ckpt.data_ptr<T>(), *Sp = Dskip.data_ptr<T>();
    T* gDp = gD_part.data_ptr<T>();
    T *gxp = gx.data_ptr<T>(), *gdp = gdelta.data_ptr<T>(), *gAp = gA_part.data_ptr<T>();
    T *gBp = gB_part.data_ptr<T>(), *gCp = gC_part.data_ptr<T>();
    at::parallel_for(0, Bsz * n_blocks, 1, [&](int64_t begin, int64_t end) {
      // per chunk: the states before/after each step and the (a, g) coefficients
      std::vector<T> skip(W), gskip(W);
      std::vector<T> At(N * W), iA(N * W), G(N * W), gA(N * W), hs((chunk + 1) * N * W),
          as(chunk * N * W), gs(chunk * N * W), rows_C(chunk * N * W), rows_B(chunk * N * W);
      for (int64_t task = begin; task < end; ++task) {
        const int64_t b = task / n_blocks, blk = task % n_blocks, d0 = blk * W;
        const int64_t valid = std::min<int64_t>(W, D - d0);
        load_block(Ap, Sp, d0, valid, N, At.data(), iA.data(), skip.data());
        std::fill(gskip.begin(), gskip.end(), T(0));
        std::fill(G.begin(), G.end(), T(0));
        std::fill(gA.begin(), gA.end(), T(0));
        T* gBb = gBp + (b * n_blocks + blk) * L * N;
        T* gCb = gCp + (b * n_blocks + blk) * L * N;
        for (int64_t c = n_chunks - 1; c >= 0; --c) {
          const int64_t s = c * chunk, e = std::min(L, s + chunk);
          const T* k = kp + ((b * n_chunks + c) * D + d0) * N;
          for (int64_t n = 0; n < N; ++n)
            KINNSCI_SIMD
            for (int w = 0; w < W; ++w) hs[n * W + w] = w < valid ? k[w * N + n] : T(0);
          for (int64_t t = s; t < e; ++t) {  // recompute the chunk's states
            const int64_t row = (b * L + pos(t)) * D + d0, j = t - s;
            T xt[W], dt[W];
            load_lanes(xp + row, valid, xt);
            load_lanes(dp + row, valid, dt);
            const T* Bt = Bp + (b * L + pos(t)) * N;
            for (int64_t n = 0; n < N; ++n) {
              T* an = as.data() + (j * N + n) * W;
              T* gn = gs.data() + (j * N + n) * W;
              coeffs<T>(mode, dt, At.data() + n * W, iA.data() + n * W, an, gn);
              const T* hp = hs.data() + (j * N + n) * W;
              T* hn = hs.data() + ((j + 1) * N + n) * W;
              const T Bn = Bt[n];
              KINNSCI_SIMD
              for (int w = 0; w < W; ++w) hn[w] = an[w] * hp[w] + gn[w] * Bn * xt[w];
            }
          }
          for (int64_t t = e - 1; t >= s; --t) {
            const int64_t row = (b * L + pos(t)) * D + d0, j = t - s;
            T xt[W], dt[W], dy[W], gxt[W], gdt[W];
            load_lanes(xp + row, valid, xt);
            load_lanes(dp + row, valid, dt);
            load_lanes(gyp + row, valid, dy);
            KINNSCI_SIMD
            for (int w = 0; w < W; ++w) {
              gxt[w] = dy[w] * skip[w];
              gdt[w] = 0;
              gskip[w] += dy[w] * xt[w];
            }
            const T* Bt = Bp + (b * L + pos(t)) * N;
            const T* Ct = Cp + (b * L + pos(t)) * N;
            for (int64_t n = 0; n < N; ++n) {
              const T* an = as.data() + (j * N + n) * W;
              const T* gn = gs.data() + (j * N + n) * W;
              const T* hp = hs.data() + (j * N + n) * W;
              const T* hn = hs.data() + ((j + 1) * N + n) * W;
              const T* An = At.data() + n * W;
              const T* iAn = iA.data() + n * W;
              T* Gn = G.data() + n * W;
              T* gAn = gA.data() + n * W;
              const T Bn = Bt[n], Cn = Ct[n];
              T* vC = rows_C.data() + (j * N + n) * W;  // lane terms of gC[t, n], gB[t, n],
              T* vB = rows_B.data() + (j * N + n) * W;  // summed for the chunk below
              // with Gw the gradient reaching h_t: ga = Gw h_{t-1}, gg = Gw B x, and
              // d/d dt: ZOH (A a, a), Euler (A, 1), bilinear (A q, q);
              // d/dA: ZOH (dt a, dg/dA), Euler (dt, 0), bilinear (dt q, dt^2 q / 2),
              // q = 1 / (1 - dt A / 2)^2. The mode is a compile-time constant inside the
              // lane loop (no per-lane branch).
              const auto lanes = [&](auto kind) {
KINNSCI_SIMD
                for (int w = 0; w < W; ++w) {
                  const T Gw = Gn[w] + dy[w] * Cn;
                  vC[w] = dy[w] * hn[w];
                  const T ga = Gw * hp[w], gg = Gw * Bn * xt[w];
                  gxt[w] += Gw * gn[w] * Bn;
                  vB[w] = Gw * gn[w] * xt[w];
                  if constexpr (decltype(kind)::value == 0) {
                    gdt[w] += ga * (An[w] * an[w]) + gg * an[w];
                    gAn[w] += ga * (dt[w] * an[w]) +
                              gg * zoh_dg_dA(dt[w], dt[w] * An[w], an[w], gn[w], iAn[w]);
                  } else if constexpr (decltype(kind)::value == 1) {
                    gdt[w] += ga * An[w] + gg;
                    gAn[w] += ga * dt[w];
                  } else {
                    const T denom = 1 - dt[w] * An[w] / 2, q = 1 / (denom * denom);
                    gdt[w] += (ga * An[w] + gg) * q;
                    gAn[w] += (ga * dt[w] + gg * dt[w] * dt[w] / 2) * q;
                  }
                  Gn[w] = Gw * an[w];
                }
              };
              if (mode == 0) lanes(std::integral_constant<int, 0>{});
              else if (mode == 1) lanes(std::integral_constant<int, 1>{});
              else lanes(std::integral_constant<int, 2>{});
            }
            for (int w = 0; w < valid; ++w) { gxp[row + w] = gxt[w]; gdp[row + w] = gdt[w]; }
          }
          row_sums(rows_C.data(), (e - s) * N, gCb + s * N);
          row_sums(rows_B.data(), (e - s) * N, gBb + s * N);
        }
        for (int w = 0; w < valid; ++w) {
          for (int64_t n = 0; n < N; ++n) gAp[(b * D + d0 + w) * N + n] = gA[n * W + w];
          gDp[b * D + d0 + w] = gskip[w];
        }
      }
    });
  });
  // gB / gC partials are stored in step order: back to positions when scanning in reverse
  auto gB = gB_part.sum(1), gC = gC_part.sum(1);
  if (reverse) { gB = gB.flip({1}); gC = gC.flip({1}); }
  return {gx, gdelta, gA_part.sum(0), gB, gC, gD_part.sum(0)};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &forward, "selective scan: y and the chunk checkpoints");
  m.def("backward", &backward, "selective scan: gradients of x, delta, A, B, C, D");
}
