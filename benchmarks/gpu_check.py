"""GPU check, ready to run on one CUDA GPU in at most ~5 minutes.

    python benchmarks/gpu_check.py [--quick] [--peak-gbps GBPS]
    python benchmarks/gpu_check.py --dry-run   # the same code on CPU, tiny sizes, Triton's
                                               # interpreter: checks the script, not a GPU

Prints, in one run:

1. the Triton scan against the reference loop (float64 reference): max difference of y
   and of every gradient, every discretizer, both directions;
2. the scan's forward + backward time at 8 x 4096 x 64 x 16 in float32 and bfloat16 (the
   Triton kernel and the PyTorch scan on the same GPU, as a ratio) and the achieved
   fraction of HBM bandwidth (bytes every kernel must move once: the inputs, y, the
   gradients; peak from the device name, or --peak-gbps);
3. training-step times at the KINN paper's Navier-Stokes setting (batch 16, 64^2, 10
   input states): FKNO-4 / FNO and UKNO / U-Net, in float32 and with bf16 AMP, and each
   model's peak memory.

Exit status 1 when a correctness row fails, 2 without a CUDA GPU or Triton.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

PEAK_GBPS = {"H200": 4800, "H100 SXM": 3350, "H100 PCIe": 2000, "H100": 3350,
             "A100-SXM4-80GB": 2039, "A100 80GB": 1935, "A100": 1555, "L40S": 864,
             "L4": 300, "A10": 600, "V100": 900, "RTX 4090": 1008, "RTX 3090": 936}


def peak_bandwidth(name: str, override: float | None) -> float | None:
    if override:
        return override
    for key, gbps in PEAK_GBPS.items():
        if key.lower() in name.lower():
            return gbps
    return None


DEVICE = "cuda"
SIZES = {"check": (2, 300, 40, 16), "scan": (8, 4096, 64, 16), "batch": 16, "grid": 64}


def synchronize() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def peak_memory_mb() -> float:
    return torch.cuda.max_memory_allocated() / 2**20 if DEVICE == "cuda" else float("nan")


def reset_peak_memory() -> None:
    if DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()


def timed(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` after two warm-up calls, with CUDA synchronised."""
    for _ in range(2):
        fn()
    synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def scan_inputs(b, length, d, n, dtype, requires_grad=True, seed=0):
    g = torch.Generator(device=DEVICE).manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g, device=DEVICE)

    tensors = [r(b, length, d), 0.05 + 0.5 * torch.rand(b, length, d, generator=g,
                                                         device=DEVICE),
               -0.1 - torch.rand(d, n, generator=g, device=DEVICE), r(b, length, n),
               r(b, length, n), r(d)]
    out = []
    for i, t in enumerate(tensors):
        t = t.to(dtype if i not in (2, 5) else torch.float32)  # A and D stay float32
        out.append(t.requires_grad_(requires_grad))
    return out


def check_correctness() -> bool:
    from kinnsci.scan import selective_scan, selective_scan_ref

    print("1. Triton scan vs the reference loop (float32 kernel, float64 reference)")
    print(f"   {'discretizer':<10} {'reverse':<8} {'max |dy|':>10} {'max |dgrad|':>12}  ok")
    ok_all = True
    for name in ("zoh", "euler", "bilinear"):
        for reverse in (False, True):
            inputs = scan_inputs(*SIZES["check"], torch.float32, seed=1)
            y = selective_scan(*inputs, discretizer=name, backend="triton", reverse=reverse)
            gy = torch.randn_like(y)
            y.backward(gy)
            ref_in = [t.detach().double().requires_grad_() for t in inputs]

            def flip(t, reverse=reverse):
                return t.flip(1) if reverse else t

            x, dt, A, B, C, D = ref_in
            ref = flip(selective_scan_ref(flip(x), flip(dt), A, flip(B), flip(C), D, name))
            ref.backward(gy.double())
            dy = float((y.double() - ref).abs().max() / ref.abs().max())
            dg = max(float((t.grad.double() - r.grad).abs().max() / r.grad.abs().max())
                     for t, r in zip(inputs, ref_in, strict=True))
            ok = dy < 1e-5 and dg < 1e-4
            ok_all &= ok
            print(f"   {name:<10} {reverse!s:<8} {dy:>10.2e} {dg:>12.2e}  {'yes' if ok else 'NO'}")
    print("   (differences relative to the largest reference value)")
    return ok_all


def scan_speed(repeats: int, peak: float | None) -> None:
    from kinnsci.scan import selective_scan

    b, length, d, n = SIZES["scan"]
    print(f"\n2. scan forward + backward at {b} x {length} x {d} x {n}")
    print(f"   {'dtype':<9} {'triton ms':>10} {'pytorch ms':>11} {'ratio':>7} "
          f"{'GB/s':>7} {'of peak':>8} {'peak MB':>8}")
    for dtype in (torch.float32, torch.bfloat16):
        inputs = scan_inputs(b, length, d, n, dtype)
        times = {}
        for backend in ("triton", "pytorch"):
            def step(backend=backend, inputs=inputs):
                for t in inputs:
                    t.grad = None
                selective_scan(*inputs, backend=backend).sum().backward()
            reset_peak_memory()
            times[backend] = timed(step, repeats)
            if backend == "triton":
                peak_mb = peak_memory_mb()
        size = torch.finfo(dtype).bits // 8
        # read x, delta, B, C (+ dy) and write y, dx, ddelta, dB, dC: each once
        moved = size * (b * length * (4 * d + 4 * n) + b * length * d * 2)
        gbps = moved / times["triton"] / 1e9
        frac = f"{100 * gbps / peak:.0f} %" if peak else "n/a"
        print(f"   {str(dtype).split('.')[-1]:<9} {1e3 * times['triton']:>10.2f} "
              f"{1e3 * times['pytorch']:>11.2f} {times['pytorch'] / times['triton']:>7.1f} "
              f"{gbps:>7.0f} {frac:>8} {peak_mb:>8.0f}")


def training_steps(repeats: int) -> None:
    from kinnsci.models import get_model
    from kinnsci.train import Trainer

    batch, grid = SIZES["batch"], SIZES["grid"]
    print(f"\n3. training step, KINN NS setting (batch {batch}, {grid}^2, 10 input states "
          "-> 1)")
    print(f"   {'model':<7} {'amp':<5} {'ms/step':>8} {'peak MB':>8}  ratio")
    x = torch.randn(batch, 10, grid, grid, device=DEVICE)
    y = torch.randn(batch, 1, grid, grid, device=DEVICE)
    data = torch.utils.data.TensorDataset(x.cpu(), y.cpu())
    pairs = (("fkno", "fno", {"directions": 4}), ("ukno", "unet", {}))
    for amp in (None, "bf16") if DEVICE == "cuda" else (None,):
        for ours, baseline, extra in pairs:
            ms = {}
            for name, config in ((ours, extra), (baseline, {})):
                torch.manual_seed(0)
                if DEVICE != "cuda" and name in ("fno", "fkno"):
                    config = {**config, "n_modes": 8}  # the dry run's small grid
                if DEVICE != "cuda" and name in ("fkno", "ukno"):
                    config = {**config, "d_state": 2}  # the interpreter is slow
                if DEVICE != "cuda" and name == "ukno":
                    config = {**config, "hidden_channels": [8, 8, 16], "res_blocks": 1}
                model = get_model(name, in_channels=10, out_channels=1, **config)
                trainer = Trainer(model, data, epochs=1, batch_size=batch, progress=False,
                                  device=DEVICE, amp=amp)
                reset_peak_memory()
                ms[name] = 1e3 * timed(lambda t=trainer: t.train_step(x, y), repeats)
                mem = peak_memory_mb()
                ratio = f"{ms[ours] / ms[baseline]:.2f}x" if name == baseline else ""
                print(f"   {name:<7} {amp or 'fp32':<5} {ms[name]:>8.1f} {mem:>8.0f}  {ratio}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--peak-gbps", type=float, help="the GPU's peak HBM bandwidth, GB/s")
    parser.add_argument("--dry-run", action="store_true",
                        help="run the script's code on CPU at tiny sizes through Triton's "
                        "interpreter (checks the script; measures nothing)")
    args = parser.parse_args()
    if args.dry_run:
        import os

        global DEVICE
        os.environ["TRITON_INTERPRET"] = "1"
        DEVICE = "cpu"
        SIZES.update(check=(1, 12, 5, 3), scan=(1, 16, 4, 2), batch=2, grid=16)
        # the fused C++ kernel would stand in for the pytorch rows on CPU: compare Triton
        # with the PyTorch scan, as on the GPU
        os.environ["KINNSCI_DISABLE_CPU_KERNEL"] = "1"
    elif not torch.cuda.is_available():
        print("gpu_check needs a CUDA GPU (torch.cuda.is_available() is False)")
        return 2
    from kinnsci.scan import triton_kernel

    ready, why = triton_kernel.usable(torch.empty(0, device=DEVICE))
    if not ready:
        print(f"gpu_check needs Triton: {why}")
        return 2
    name = torch.cuda.get_device_name() if DEVICE == "cuda" else "CPU (dry run)"
    peak = peak_bandwidth(name, args.peak_gbps)
    print(f"{name}, torch {torch.__version__}, peak HBM "
          f"{f'{peak:.0f} GB/s' if peak else 'unknown (pass --peak-gbps)'}\n")
    start = time.perf_counter()
    ok = check_correctness()
    repeats = 1 if args.dry_run else 3 if args.quick else 10
    scan_speed(repeats, peak)
    training_steps(repeats)
    print(f"\ntook {time.perf_counter() - start:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
