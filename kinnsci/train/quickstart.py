"""``kinnsci quickstart``: Darcy data made on the spot, FNO vs U-Net vs UKNO, one table.

Everything runs locally (no downloads). The three models get the same budget: the same
data, epochs, batch size, optimiser and schedule. Sizes are small so the whole run takes about
70 s on two CPU cores; on a GPU it is used automatically.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from kinnsci._atomic import write_text_atomic
from kinnsci.data import generate
from kinnsci.train.config import RunConfig
from kinnsci.train.run import check_output_dir, train_run

MODELS = {
    "fno": {"hidden_channels": 32, "n_modes": [24, 23]},
    "unet": {"hidden_channels": [16, 32, 64, 128]},
    "ukno": {"hidden_channels": [16, 32, 48, 64], "res_blocks": 1, "directions": 2,
             "d_state": 8},
}


def run_quickstart(out: Path, *, n_train: int = 64, n_test: int = 16, resolution: int = 32,
                   epochs: int = 30, batch_size: int = 8, lr: float = 2e-3, seed: int = 0,
                   overwrite: bool = False, progress: bool = True) -> list[dict]:
    """Generate, train the three models, write ``table.md``/``table.json`` + PNGs to ``out``.

    Returns one row per model: params, seconds, and test rel-L2, nRMSE, max error.
    """
    check_output_dir(out, overwrite, resume=False)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "darcy.nc"
    n = n_train + n_test
    print(f"[1/4] generating {n} Darcy samples at {resolution}x{resolution} -> {data}")
    generate("darcy", data, n_samples=n, resolution=resolution, seed=seed, overwrite=True,
             progress=progress)
    rows = []
    for i, (name, model_config) in enumerate(MODELS.items(), start=2):
        print(f"[{i}/4] training {name} for {epochs} epochs")
        config = RunConfig(
            data=str(data), model=name, model_config=model_config, inputs=["a"], targets=["u"],
            split=[n_train / n, 0.0, n_test / n], epochs=epochs, batch_size=batch_size, lr=lr,
            seed=seed, out=str(out / name))
        start = time.perf_counter()
        report = train_run(config, overwrite=True, progress=progress)
        seconds = time.perf_counter() - start
        rows.append({"model": name, "params": report["parameters"],
                     "seconds": round(seconds, 1), **{k: report["test"][k] for k in
                                                      ("rel_l2", "nrmse", "max_error")}})
    plot_comparison(out, data, n_train / n, n_test / n, seed)
    write_text_atomic(out / "table.json", json.dumps(rows, indent=2))
    table = format_table(rows)
    write_text_atomic(out / "table.md", table + "\n")
    return rows


def plot_comparison(out: Path, data: Path, train_fraction: float, test_fraction: float,
                    seed: int) -> Path:
    """``out/comparison.png``: every trained model on the same test samples, one error
    colour scale for all of them."""
    from kinnsci.data import OperatorDataset, open_dataset, split_samples
    from kinnsci.models import load_model
    from kinnsci.train.plots import plot_model_comparison

    ds = open_dataset(data)
    test = split_samples(ds.sizes["sample"], (train_fraction, 0.0, test_fraction), seed)["test"]
    models = {name: load_model(out / name).model for name in MODELS}
    return plot_model_comparison(models, OperatorDataset(ds, ["a"], ["u"], test),
                                 out / "comparison.png",
                                 title="FNO, U-Net and UKNO on the same Darcy test samples")


def format_table(rows: list[dict]) -> str:
    lines = ["| model | params | train time (s) | test rel. L2 | nRMSE | max error |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['params']:,} | {r['seconds']:.1f} | "
                     f"{r['rel_l2']:.4f} | {r['nrmse']:.4f} | {r['max_error']:.3g} |")
    return "\n".join(lines)
