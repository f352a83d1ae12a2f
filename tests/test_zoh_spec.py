"""One ZOH specification, three implementations: the PyTorch discretizer, the C++ kernel
and the Triton kernel each give exp(z), expm1(z)/A and their derivatives within a few ulp
of float64 ``scipy.linalg.expm`` (and its Frechet derivative) for |z| = |dt A| from 1e-8
to 50, on both sides of the series threshold."""

from __future__ import annotations

import importlib.util

import mpmath
import numpy as np
import pytest
import torch
from scipy.linalg import expm, expm_frechet

from kinnsci.discretize.zoh import SERIES_BELOW
from kinnsci.scan import cpu_kernel, selective_scan

RATE = -0.7  # A; z = dt A sweeps |z| through dt
Z = -np.concatenate([np.logspace(-8, np.log10(50), 61),
                     SERIES_BELOW * np.array([0.999, 1.0, 1.001])])


def _reference(dt: float, rate: float = RATE) -> dict[str, float]:
    """a, g and their derivatives by dt and A, in 50-digit arithmetic (the closed forms:
    exact at this precision, with no cancellation left)."""
    with mpmath.workdps(50):
        rate, dt = mpmath.mpf(rate), mpmath.mpf(dt)
        zz = dt * rate
        a, g = mpmath.exp(zz), mpmath.expm1(zz) / rate
        values = {"a": a, "g": g, "da_ddt": rate * a, "dg_ddt": a, "da_dA": dt * a,
                  "dg_dA": (dt * a - g) / rate}
        return {k: float(v) for k, v in values.items()}


def test_the_reference_is_float64_expm_and_its_frechet_derivative():
    """exp(dt [[A, 1], [0, 0]]) = [[a, g], [0, 1]]: the 50-digit closed forms above agree
    with scipy's float64 expm and expm_frechet."""
    for z in Z:
        dt = z / RATE
        ref = _reference(dt)
        m = np.array([[RATE, 1.0], [0.0, 0.0]])
        e = expm(dt * m)
        _, by_dt = expm_frechet(dt * m, m)
        _, by_a = expm_frechet(dt * m, np.array([[dt, 0.0], [0.0, 0.0]]))
        got = {"a": e[0, 0], "g": e[0, 1], "da_ddt": by_dt[0, 0], "dg_ddt": by_dt[0, 1],
               "da_dA": by_a[0, 0], "dg_dA": by_a[0, 1]}
        for name, value in got.items():
            assert value == pytest.approx(ref[name], rel=1e-11), (z, name)




def _references(dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """The reference at the inputs as ``dtype`` rounds them (dt and A), so that only the
    implementation's error is measured, not the rounding of its inputs."""
    dts = torch.tensor(Z / RATE, dtype=dtype).tolist()
    rate = float(torch.tensor(RATE, dtype=dtype))
    refs = [_reference(dt, rate) for dt in dts]
    return {k: torch.tensor([r[k] for r in refs], dtype=torch.float64) for k in refs[0]}


BACKENDS = [
    "pytorch",
    pytest.param("cpp", marks=pytest.mark.skipif(not cpu_kernel.available(),
                                                 reason=cpu_kernel.status())),
    pytest.param("triton", marks=pytest.mark.skipif(
        importlib.util.find_spec("triton") is None,
        reason="Triton is not installed (pip install -e '.[gpu-test]')")),
]


def _measured(backend: str, dtype: torch.dtype) -> dict[str, np.ndarray]:
    """The same six quantities read off a two-step scan, one channel per z: x = (1, 0),
    B = C = 1, so y_1 = g(dt_1) and y_2 = a(dt_2) g(dt_1), with dt_1 = dt_2 = dt."""
    channels = len(Z)
    device = "cuda" if backend == "triton" and torch.cuda.is_available() else "cpu"
    dt = torch.tensor(Z / RATE, dtype=dtype, device=device)
    A = torch.full((channels, 1), RATE, dtype=dtype, device=device, requires_grad=True)
    delta = dt[None, None, :].repeat(1, 2, 1).requires_grad_()
    x = torch.zeros(1, 2, channels, dtype=dtype, device=device)
    x[:, 0] = 1
    ones = torch.ones(1, 2, 1, dtype=dtype, device=device)
    out = {}
    for step in (0, 1):
        y = selective_scan(x, delta, A, ones, ones, None, "zoh", backend=backend)
        d_delta, d_A = torch.autograd.grad(y[0, step].sum(), (delta, A))
        out[step] = tuple(t.double().cpu() for t in (y[0, step].detach(), d_delta[0],
                                                      d_A[:, 0]))
    g, (dg_ddt, _), dg_dA = out[0][0], out[0][1], out[0][2]
    y2, (d2_dt1, d2_dt2), d2_dA = out[1][0], out[1][1], out[1][2]
    a = y2 / g
    # y_2 = a(dt_2) g(dt_1): by dt_2, da/ddt g; by A, da/dA g + a dg/dA
    return {"a": a, "g": g, "da_ddt": d2_dt2 / g, "dg_ddt": dg_ddt,
            "da_dA": (d2_dA - a * dg_dA) / g, "dg_dA": dg_dA,
            "_consistency": d2_dt1 - a * dg_ddt}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_zoh_coefficients_match_float64_expm_on_every_backend(backend, dtype):
    """Within 4 ulp times exp's condition number (1 + |z|: z = dt A itself rounds)."""
    measured, refs = _measured(backend, dtype), _references(dtype)
    allowed = 4 * torch.finfo(dtype).eps * (1 + torch.tensor(np.abs(Z)))
    for name in ("a", "g", "da_ddt", "dg_ddt", "da_dA", "dg_dA"):
        ref = refs[name]
        rel = (measured[name] - ref).abs() / ref.abs()
        worst = int((rel / allowed).argmax())
        assert bool((rel < allowed).all()), (
            f"{backend} {dtype} {name}: relative error {float(rel[worst]):.2e} at z = "
            f"{Z[worst]:.3g} (allowed {float(allowed[worst]):.1e})")
    assert float(measured["_consistency"].abs().max()) < 1e-5


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dg_dA_stays_accurate_just_above_the_series_threshold(dtype):
    """The closed form (dt a - g) / A cancels as z -> 0; above the threshold its error is
    at the dtype's epsilon (the old float32 threshold 0.05 gave 7e-6 there)."""
    eps = torch.finfo(dtype).eps
    for backend in ("pytorch", "cpp") if cpu_kernel.available() else ("pytorch",):
        m, ref = _measured(backend, dtype), _references(dtype)["dg_dA"]
        near = torch.tensor((np.abs(Z) > 0.9 * SERIES_BELOW) & (np.abs(Z) < 3 * SERIES_BELOW))
        rel = ((m["dg_dA"] - ref).abs() / ref.abs())[near].max()
        assert float(rel) < 8 * eps, (backend, float(rel))
