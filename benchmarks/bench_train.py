"""Trainer overhead: samples/s through ``Trainer`` vs a bare hand-written loop.

Usage: python benchmarks/bench_train.py [--res 32] [--batch 8] [--samples 64] [--epochs 3]
Both loops train the same model (same init, data, AdamW, gradient clipping, relative-L2
loss) for the same epochs in one run; the Trainer adds sampling, progress bar, checkpoints
are off. Overhead = 1 - trainer / bare (target <= 5 %).
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from kinnsci.models import get_model
from kinnsci.train import Trainer, relative_l2

CONFIGS = {
    "FNO": ("fno", {"hidden_channels": 20, "n_modes": [16, 15]}),
    "FKNO-4": ("fkno", {"hidden_channels": 20, "n_modes": [16, 15], "directions": 4}),
    "UKNO": ("ukno", {"hidden_channels": [16, 32, 48, 64], "res_blocks": 1, "directions": 2,
                      "d_state": 8}),
}


def bare_loop(model, data, epochs: int, batch: int, seed: int) -> float:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(data, batch_size=batch, shuffle=True, generator=g)
    start = time.perf_counter()
    for _ in range(epochs):
        for x, y in loader:
            opt.zero_grad(set_to_none=True)
            loss = relative_l2(model(x), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            float(loss)  # the Trainer logs every loss too
    return epochs * len(data) / (time.perf_counter() - start)


def trainer_loop(model, data, epochs: int, batch: int, seed: int) -> float:
    trainer = Trainer(model, data, epochs=epochs, batch_size=batch, seed=seed, device="cpu",
                      scheduler="none", progress=True)
    start = time.perf_counter()
    trainer.fit()
    return epochs * len(data) / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--res", type=int, default=32)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.samples, 1, args.res, args.res, generator=g)
    data = TensorDataset(x, torch.tanh(x))
    print(f"{args.samples} samples {args.res}x{args.res}, batch {args.batch}, {args.epochs} "
          f"epochs, CPU {args.threads} threads (best of 2 runs each, alternating)\n")
    print("| model | bare loop (samples/s) | Trainer (samples/s) | Trainer overhead |")
    print("|---|---:|---:|---:|")
    for label, (name, config) in CONFIGS.items():
        torch.manual_seed(0)
        base = get_model(name, in_channels=1, out_channels=1, **config)
        bare, ours = [], []
        for _ in range(2):
            bare.append(bare_loop(copy.deepcopy(base), data, args.epochs, args.batch, 0))
            ours.append(trainer_loop(copy.deepcopy(base), data, args.epochs, args.batch, 0))
        b, t = max(bare), max(ours)
        print(f"| {label} | {b:.1f} | {t:.1f} | {100 * (1 - t / b):+.1f} % |")


if __name__ == "__main__":
    main()
