"""Fast selective scan vs the reference loop: time, speed-up, memory, agreement.

Usage: python benchmarks/bench_scan.py [--quick] [--threads N] [--backend B]
                                       [--discretizer zoh|euler]
Prints one table; the reference and the fast path run in the same process and settings.
``--discretizer euler`` (no exponentials) next to the default ``zoh`` shows what the
exponentials cost; its inputs are scaled into Euler's stable range (max Δ|A| = 1.9).
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import statistics
import time

import torch

from kinnsci.scan import selective_scan, selective_scan_ref

SIZES = [(8, 4096, 64, 16), (8, 1024, 64, 16), (4, 256, 32, 16)]


def make_inputs(b, length, d, n, device, requires_grad, discretizer="zoh"):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b, length, d, generator=g)
    delta = torch.nn.functional.softplus(torch.randn(b, length, d, generator=g) - 2)
    A = -torch.exp(torch.randn(d, n, generator=g))
    if discretizer == "euler":  # |1 + Δ A| <= 0.9: finite on both sides
        A = A * min(1.0, 1.9 / float(delta.max() * A.abs().max()))
    B = torch.randn(b, length, n, generator=g)
    C = torch.randn(b, length, n, generator=g)
    D = torch.randn(d, generator=g)
    tensors = [t.to(device).requires_grad_(requires_grad) for t in (x, delta, A, B, C, D)]
    return tensors


def timed(fn, repeats, device):
    """Median seconds of ``repeats`` calls after one warm-up (the median keeps one call
    slowed by another process on a shared machine from moving the result)."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _scan(which, backend, discretizer):
    if which == "ref":
        return functools.partial(selective_scan_ref, discretizer=discretizer)
    return functools.partial(selective_scan, discretizer=discretizer, backend=backend)


def _child_peak(size, which, backend, discretizer, queue):
    """Run one forward+backward of scan ``which`` in a fresh process; report the growth of
    its peak resident set over the resident set with the inputs built."""
    torch.set_num_threads(1)
    scan = _scan(which, backend, discretizer)
    # a tiny call first: imports and one-time set-up (the custom operator's dispatch,
    # the kernel's load) are not the scan's memory
    warm = make_inputs(1, 8, size[2], size[3], torch.device("cpu"), requires_grad=True,
                       discretizer=discretizer)
    scan(*warm).square().mean().backward()
    inputs = make_inputs(*size, torch.device("cpu"), requires_grad=True, discretizer=discretizer)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
    base = _status_kb("VmRSS")
    scan(*inputs).square().mean().backward()
    queue.put((_status_kb("VmHWM") - base) / 1024)


def peak_memory_mb(size, which, device, backend, discretizer):
    """Extra peak memory of one forward+backward: the CUDA allocator's peak, or on CPU the
    peak-RSS growth of a fresh (spawned) process running only that call (Linux)."""
    if device.type == "cuda":
        scan = _scan(which, backend, discretizer)
        inputs = make_inputs(*size, device, requires_grad=True, discretizer=discretizer)
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        scan(*inputs).square().mean().backward()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child_peak, args=(size, which, backend, discretizer, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def bench(size, device, repeats, backend, discretizer):
    b, length, d, n = size
    fast, ref = _scan("fast", backend, discretizer), _scan("ref", backend, discretizer)
    fwd_inputs = make_inputs(*size, device, requires_grad=False, discretizer=discretizer)
    bwd_inputs = make_inputs(*size, device, requires_grad=True, discretizer=discretizer)

    def fwd(scan):
        return lambda: scan(*fwd_inputs)

    def fwd_bwd(scan):
        def run():
            y = scan(*bwd_inputs)
            y.square().mean().backward()

        return run

    row = {"size": f"{b}x{length}x{d}x{n}"}
    with torch.no_grad():
        row["ref_fwd"] = timed(fwd(ref), repeats, device)
        row["fast_fwd"] = timed(fwd(fast), repeats, device)
        diff = (fast(*fwd_inputs) - ref(*fwd_inputs)).abs().max().item()
    row["ref_fb"] = timed(fwd_bwd(ref), repeats, device)
    row["fast_fb"] = timed(fwd_bwd(fast), repeats, device)
    row["ref_mem"] = peak_memory_mb(size, "ref", device, backend, discretizer)
    row["fast_mem"] = peak_memory_mb(size, "fast", device, backend, discretizer)
    row["diff"] = diff
    if device.type == "cuda":
        # bytes the forward must at least move: x, delta, B, C in, y out (float32)
        moved = 4 * (3 * b * length * d + 2 * b * length * n)
        row["GB/s"] = moved / row["fast_fwd"] / 1e9
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="only the two smaller sizes")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", default="auto", choices=["auto", "cpp", "pytorch"],
                        help="selective_scan backend for the fast column (auto: fused on CPU)")
    parser.add_argument("--discretizer", default="zoh", choices=["zoh", "euler"])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    sizes = SIZES[1:] if args.quick else SIZES
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, float32, "
          f"{args.discretizer}, "
          f"fast = selective_scan(backend={args.backend!r})")
    header = (
        "device",
        "B x L x D x N",
        "ref fwd ms",
        "fast fwd ms",
        "fwd x",
        "ref f+b ms",
        "fast f+b ms",
        "f+b x",
        "ref peak MB",
        "fast peak MB",
        "max |diff|",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for device in devices:
        for size in sizes:
            r = bench(size, device, args.repeats, args.backend, args.discretizer)
            cells = [
                device.type,
                r["size"],
                f"{1e3 * r['ref_fwd']:.1f}",
                f"{1e3 * r['fast_fwd']:.1f}",
                f"{r['ref_fwd'] / r['fast_fwd']:.1f}",
                f"{1e3 * r['ref_fb']:.1f}",
                f"{1e3 * r['fast_fb']:.1f}",
                f"{r['ref_fb'] / r['fast_fb']:.1f}",
                f"{r['ref_mem']:.0f}",
                f"{r['fast_mem']:.0f}",
                f"{r['diff']:.1e}",
            ]
            print("| " + " | ".join(cells) + " |")
            if "GB/s" in r:
                print(f"  {device} forward achieved {r['GB/s']:.0f} GB/s (compare the card's peak)")


if __name__ == "__main__":
    main()
