"""Operator backbones at 64x64: parameters, forward and train-step time, peak memory.

Usage: python benchmarks/bench_models.py [--steps 20] [--batch 16] [--res 64] [--channels-last]
Times are medians over --steps after 2 warm-up steps; ratios are to FNO in the same run.
A last line times FKNO-4's Kirchhoff scans alone (forward + backward of each KNC's scan
at the model's shapes) against the FNO step: the floor under FKNO-4's extra step time.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import time

import torch

from kinnsci.layers import CKB
from kinnsci.models import count_parameters, get_model
from kinnsci.scan import selective_scan

CONFIGS = {
    "FNO": ("fno", {}),
    "FKNO-1": ("fkno", {"directions": 1}),
    "FKNO-2": ("fkno", {"directions": 2}),
    "FKNO-4": ("fkno", {"directions": 4}),
    "UNet": ("unet", {"in_channels": 10}),
    "UKNO": ("ukno", {"in_channels": 10}),
}


def median_time(fn, steps: int, device: torch.device) -> float:
    times = []
    for i in range(steps + 2):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_steps(model, opt, x, y, loss=torch.nn.functional.mse_loss):
    """The two timed callables: a no-grad forward and one AdamW training step."""

    def forward():
        with torch.no_grad():
            model(x)

    def step():
        opt.zero_grad(set_to_none=True)
        loss(model(x), y).backward()
        opt.step()

    return forward, step


def measure(label: str, name: str, config: dict, steps: int, batch: int, res: int,
            device_name: str, channels_last: bool = False) -> tuple[int, float, float, str]:
    """Parameters, forward and train-step medians and peak memory of one model, measured
    in a fresh process so the CPU peak (max RSS) belongs to this model alone."""
    device = torch.device(device_name)
    torch.manual_seed(0)
    model = get_model(name, **config).to(device)
    x = torch.randn(batch, model.in_channels, res, res, device=device)
    if channels_last:  # as Trainer(channels_last=True) does
        model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randn(batch, 1, res, res, device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    forward, step = make_steps(model, opt, x, y)
    fwd, trn = median_time(forward, steps, device), median_time(step, steps, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        step()
        peak = f"{torch.cuda.max_memory_allocated() / 2**20:.0f}"
    else:
        peak = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
    return count_parameters(model), fwd, trn, peak


def measure_scans(name: str, config: dict, steps: int, batch: int, res: int,
                  device_name: str) -> tuple[int, tuple[int, ...], float]:
    """Forward + backward time of every selective scan one forward of the model runs,
    on random inputs of the model's scan shapes (batch, res², inner) and N states."""
    device = torch.device(device_name)
    torch.manual_seed(0)
    model = get_model(name, **config)
    ckb = next(m for m in model.modules() if isinstance(m, CKB))
    knc = ckb.kncs[0][0]
    n_scans = ckb.directions * ckb.ckb_order
    shape = (batch, res * res, knc.channels, knc.d_state)
    b, length, d, n = shape
    x, raw = (torch.randn(b, length, d, device=device) for _ in range(2))
    delta = torch.nn.functional.softplus(raw - 3)  # steps ~0.05, as after Mamba's init
    B, C = (torch.randn(b, length, n, device=device) for _ in range(2))
    params = [knc.A.detach().to(device), knc.D.detach().to(device)]
    leaves = [t.requires_grad_() for t in (x, delta, B, C, *params)]

    def scans():
        for _ in range(n_scans):
            y = selective_scan(x, delta, params[0], B, C, params[1])
            torch.autograd.grad(y.sum(), leaves)

    return n_scans, shape, median_time(scans, steps, device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--res", type=int, default=64)
    parser.add_argument("--channels-last", action="store_true",
                        help="NHWC weights and inputs for every model (Trainer(channels_last))")
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, float32, "
        f"batch {args.batch}, {args.res}x{args.res}, "
        f"{'channels-last' if args.channels_last else 'NCHW'}, median of {args.steps} steps; "
        "peak MB is "
        "the process's max RSS on CPU (torch itself ~300 MB), max allocated on CUDA"
    )
    print("| device | model | params | fwd ms | step ms | fwd / FNO | step / FNO | peak MB |")
    print("|---|---|---|---|---|---|---|---|")
    ctx = mp.get_context("spawn")
    for device in devices:
        base = None
        for label, (name, config) in CONFIGS.items():
            with ctx.Pool(1) as pool:
                params, fwd, trn, peak = pool.apply(
                    measure, (label, name, config, args.steps, args.batch, args.res, device,
                              args.channels_last))
            base = base or (fwd, trn)
            print(
                f"| {device} | {label} | {params:,} | {1e3 * fwd:.1f} | "
                f"{1e3 * trn:.1f} | {fwd / base[0]:.2f} | {trn / base[1]:.2f} | {peak} |",
                flush=True,
            )
        with ctx.Pool(1) as pool:
            n_scans, shape, scan_time = pool.apply(
                measure_scans, ("fkno", {"directions": 4}, args.steps, args.batch, args.res,
                                device))
        print(
            f"\n{device}: FKNO-4's {n_scans} Kirchhoff scans alone ({'x'.join(map(str, shape))}"
            f", forward + backward): {1e3 * scan_time:.1f} ms = {scan_time / base[1]:.2f} x "
            f"the FNO step; a step <= 1.25 x FNO leaves {1e3 * 0.25 * base[1]:.1f} ms for "
            "all of FKNO-4's extra work\n",
            flush=True,
        )


if __name__ == "__main__":
    main()
