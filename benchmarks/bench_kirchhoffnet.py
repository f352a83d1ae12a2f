"""KirchhoffNet-s vs MLP-s on scikit-learn's Diabetes regression (KirchhoffNet, Table I).

Usage: python benchmarks/bench_kirchhoffnet.py [--epochs 400] [--seeds 3]
Needs scikit-learn (pip install -e ".[bench]"); the data ship with it (no download).
Setting of the paper: min-max scaled features and target, L2 loss, 400 epochs, batch 64,
AdamW lr 5e-4; KirchhoffNet-s = 10 input + 1 output node + ground, fully connected with 2
devices per edge, Eq. (10) branches, dopri5 rtol = atol = 1e-3 (528 parameters).
Paper test MSE: KirchhoffNet-s 2.91e-2, MLP-s 2.71e-2 (mean of 10 runs).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from kinnsci.models import count_parameters, get_model


def load_diabetes_scaled(seed: int):
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    x, y = load_diabetes(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y[:, None], test_size=0.2, random_state=seed)
    sx, sy = MinMaxScaler().fit(x_tr), MinMaxScaler().fit(y_tr)
    as_t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return (as_t(sx.transform(x_tr)), as_t(sy.transform(y_tr)), as_t(sx.transform(x_te)),
            as_t(sy.transform(y_te)))


def mlp_s(in_features: int) -> torch.nn.Module:
    h = 11  # a 4-layer MLP of ~400 parameters (the paper's MLP-s has 421)
    return torch.nn.Sequential(torch.nn.Linear(in_features, h), torch.nn.ReLU(),
                               torch.nn.Linear(h, h), torch.nn.ReLU(), torch.nn.Linear(h, h),
                               torch.nn.ReLU(), torch.nn.Linear(h, 1))


def train(model, data, epochs: int, seed: int) -> tuple[float, float]:
    x_tr, y_tr, x_te, y_te = data
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4)
    g = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        for idx in torch.randperm(len(x_tr), generator=g).split(64):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x_tr[idx]), y_tr[idx]).backward()
            opt.step()
    with torch.no_grad():
        mse = torch.nn.functional.mse_loss(model(x_te), y_te).item()
    return mse, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=400)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise SystemExit("scikit-learn is needed: pip install -e '.[bench]'") from None
    rows = {"KirchhoffNet-s": [], "MLP-s": []}
    params = {}
    for seed in range(args.seeds):
        data = load_diabetes_scaled(seed)
        for name in rows:
            torch.manual_seed(seed)
            model = (get_model("kirchhoffnet", in_channels=10, out_channels=1)
                     if name == "KirchhoffNet-s" else mlp_s(10))
            params[name] = count_parameters(model)
            rows[name].append(train(model, data, args.epochs, seed))
    print(f"Diabetes, {args.epochs} epochs, {args.seeds} seeds (80/20 splits), CPU "
          f"{args.threads} threads\n")
    print("| model | params | test MSE (mean ± std) | paper | seconds / run |")
    print("|---|---:|---:|---:|---:|")
    paper = {"KirchhoffNet-s": "2.91e-2 / 528", "MLP-s": "2.71e-2 / 421"}
    for name, runs in rows.items():
        mse = np.array([r[0] for r in runs])
        sec = np.mean([r[1] for r in runs])
        print(f"| {name} | {params[name]} | {mse.mean():.3e} ± {mse.std():.1e} | {paper[name]} "
              f"| {sec:.0f} |")


if __name__ == "__main__":
    main()
