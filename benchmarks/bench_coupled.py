"""Coupled Kirchhoff layer: one matrix exponential per forward vs one per step.

Usage: python benchmarks/bench_coupled.py [--steps 4] [--batch 32]
Forward + backward time of CoupledKirchhoffLayer (ZOH coefficients computed once and
reused for every step and sample) against the same layer recomputing them at every step,
for n = 64, 256, 1024 nodes; ratio in one run.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from kinnsci.layers import CoupledKirchhoffLayer


def per_step_exp(layer: CoupledKirchhoffLayer, x: torch.Tensor) -> torch.Tensor:
    v = None
    for _ in range(layer.steps):
        a_bar, b_bar = layer.step_matrices()  # a fresh matrix_exp every step
        drive = x @ b_bar.T
        v = drive if v is None else v @ a_bar.T + drive
    return v


def timed(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"float32, batch {args.batch}, {args.steps} steps of dt = 1, {args.threads} threads, "
          "forward + backward, median of 5\n")
    print("| nodes | cached (ms) | per-step matrix_exp (ms) | speed-up |")
    print("|---:|---:|---:|---:|")
    for n in (64, 256, 1024):
        torch.manual_seed(0)
        layer = CoupledKirchhoffLayer(n, n, dt=1.0, n_steps=args.steps)
        x = torch.randn(args.batch, n)
        ours = timed(lambda lay=layer, x=x: lay(x).square().mean().backward())
        naive = timed(lambda lay=layer, x=x: per_step_exp(lay, x).square().mean().backward())
        print(f"| {n} | {1e3 * ours:.1f} | {1e3 * naive:.1f} | {naive / ours:.2f} |")


if __name__ == "__main__":
    main()
