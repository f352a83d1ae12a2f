"""Vision backbone throughput at 224²: KINN-T vs the same backbone with a depthwise-conv
mixer in place of every CKB (the Kirchhoff cascade removed, all else equal).

Usage: python benchmarks/bench_vision.py [--steps 5] [--batch 8] [--res 224]
Images/s from the median of --steps after 2 warm-up steps, float32; forward without
gradients, train step = forward + cross-entropy + backward + AdamW. Ratios are CKB over
the conv baseline in the same run; each model runs in a fresh process. Also on a CUDA GPU
when one is present.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource

import torch

from kinnsci.models import count_parameters, get_model
from kinnsci.models.flops import count_flops

CONFIGS = {
    "KINN-T (CKB mixer)": {},
    "baseline (depthwise-conv mixer)": {"mixer": "conv"},
}


def measure(config: dict, steps: int, batch: int, res: int, device_name: str):
    from bench_models import make_steps, median_time

    device = torch.device(device_name)
    torch.manual_seed(0)
    model = get_model("kinn_vision_tiny", **config)
    flops = count_flops(model, (1, 3, res, res)).total
    model = model.to(device)
    x = torch.randn(batch, 3, res, res, device=device)
    y = torch.randint(0, 1000, (batch,), device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    forward, step = make_steps(model, opt, x, y, torch.nn.functional.cross_entropy)
    fwd, trn = median_time(forward, steps, device), median_time(step, steps, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        step()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return count_parameters(model), flops, batch / fwd, batch / trn, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--res", type=int, default=224)
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, float32, batch "
          f"{args.batch}, {args.res}x{args.res}, median of {args.steps} steps; peak MB is the "
          "process's max RSS on CPU, max allocated on CUDA")
    print("| device | model | params | GFLOPs | fwd img/s | step img/s | fwd / base | "
          "step / base | peak MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    ctx = mp.get_context("spawn")
    for device in devices:
        results = {}
        for label, config in CONFIGS.items():
            with ctx.Pool(1) as pool:
                results[label] = pool.apply(measure, (config, args.steps, args.batch,
                                                      args.res, device))
        base = results["baseline (depthwise-conv mixer)"]
        for label, (params, flops, fwd, trn, peak) in results.items():
            print(f"| {device} | {label} | {params / 1e6:.2f} M | {flops / 1e9:.2f} | "
                  f"{fwd:.1f} | {trn:.1f} | {fwd / base[2]:.2f} | {trn / base[3]:.2f} | "
                  f"{peak:.0f} |", flush=True)


if __name__ == "__main__":
    main()
