"""Correct where users train for real: DDP with a non-finite loss on one rank, bf16
autocast in physical units, spectral layers under autocast, model subclasses that reload
as themselves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from kinnsci.data import Normalizer
from kinnsci.models import FNO, get_model, load_model

TESTS = Path(__file__).parent


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_ddp_ranks_skip_and_stop_together_when_one_rank_sees_nan(tmp_path, optimizer):
    """Rank 1's batches turn NaN after two good steps. Both ranks apply the two good
    steps, skip the rest (the averaged gradient is NaN on both), stop together with the
    NaN message, and end with identical, finite weights; no rank waits forever."""
    torchrun = shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not on PATH")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    port = str(29540 + (optimizer == "sgd"))
    subprocess.run([torchrun, "--nproc-per-node", "2", "--master-port", port,
                    str(TESTS / "ddp_nan_worker.py"), str(tmp_path), optimizer],
                   check=True, env=env, timeout=120, capture_output=True)
    ends = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    weights = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    for end in ends:
        assert end["ended"].startswith("stopped: loss became NaN/inf"), end
        assert end["changed"], "the two good steps were applied"
    for name, w in weights[0].items():
        assert torch.isfinite(w).all(), name
        assert torch.equal(w, weights[1][name]), name


def test_normalizer_computes_in_float32_under_bf16():
    """A 300 +- 1 K field: de-normalising a bf16 backbone output in bf16 rounds to ~1 K;
    the normaliser computes in float32 whatever its input's dtype."""
    normalizer = Normalizer(torch.tensor([300.0]), torch.tensor([1.0]))
    z = torch.linspace(-2, 2, 64).reshape(1, 1, 8, 8)
    physical = normalizer.inverse_transform(z.bfloat16())
    assert physical.dtype == torch.float32
    assert float((physical - (300 + z)).abs().max()) < 0.02  # bf16 rounding of z only
    assert normalizer.transform(physical.bfloat16()).dtype == torch.float32


def test_bf16_autocast_training_on_cpu_keeps_physical_outputs_at_float32_accuracy(tmp_path):
    """``kinnsci train --amp bf16`` on a CPU, end to end, on a field far from zero (a
    temperature-like 300 + u); the trained model's outputs under bf16 autocast agree with
    its float32 outputs to a small fraction of the field's spread."""
    import xarray as xr

    from kinnsci.cli.main import main
    from kinnsci.data.generators import generate

    darcy = generate("darcy", tmp_path / "darcy.nc", n_samples=12, resolution=16, seed=0,
                     progress=False)
    with xr.open_dataset(darcy) as ds:
        warm = ds.load()
    warm["u"] = warm["u"] / float(warm["u"].std()) + 300.0
    warm.to_netcdf(tmp_path / "warm.nc")
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "warm.nc"), "--inputs", "a", "--targets",
                 "u", "--model", "fno", "--model-config",
                 '{"hidden_channels": 8, "n_modes": [6, 5], "projection_channels": 8}',
                 "--epochs", "1", "--batch-size", "4", "--amp", "bf16", "--device", "cpu",
                 "--out", str(out), "--no-progress", "--no-plots"]) == 0

    model = load_model(out).model
    x = torch.tensor(warm["a"].values[:4, None], dtype=torch.float32)
    with torch.no_grad():
        full = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = model(x)
    spread = float(warm["u"].std())
    assert mixed.dtype == torch.float32
    assert float((mixed - full).abs().max()) < 0.05 * spread


def test_spectral_convolution_runs_its_fft_in_float32_under_autocast(monkeypatch):
    """cuFFT has no bfloat16 transform (FKNO with bf16 AMP failed on an H200); the
    spectral layers compute in float32 under autocast, on every device."""
    seen = []
    rfftn = torch.fft.rfftn

    def recording(x, *args, **kwargs):
        seen.append(x.dtype)
        return rfftn(x, *args, **kwargs)

    monkeypatch.setattr(torch.fft, "rfftn", recording)
    model = get_model("fno", in_channels=3, out_channels=1, hidden_channels=8, n_modes=(6, 5))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(torch.randn(2, 3, 12, 12))
    y.float().sum().backward()
    assert seen and set(seen) == {torch.float32}


def test_a_model_subclass_without_a_name_reloads_as_itself(tmp_path):
    class MyFNO(FNO):
        def forward(self, x):
            return super().forward(x) + 1.0

    model = MyFNO(in_channels=1, out_channels=1, hidden_channels=4, n_modes=(4, 3))
    assert model.config["name"] == "myfno"
    model.save(tmp_path / "my.pt")
    again, _ = load_model(tmp_path / "my.pt")
    assert type(again) is MyFNO
    x = torch.randn(2, 1, 8, 8)
    torch.testing.assert_close(again(x), model(x))


def test_one_list_of_deciding_keys_covers_the_split_the_windows_and_the_dims():
    """Resume compares, and reproduce's run ids hash, the same keys: the split's seed (the
    run seed when no split seed is given), fractions, stride, horizon, dimension names."""
    import dataclasses

    from kinnsci.reproduce import runner
    from kinnsci.train.config import RESULT_KEYS, RESUME_KEYS, RunConfig

    base = RunConfig(data="ns.nc", variables=["w"], history=2)
    assert base.deciding()["split_seed"] == 0
    for change in ({"seed": 1}, {"split_seed": 5}, {"split": [0.5, 0.25, 0.25]},
                   {"stride": 2}, {"horizon": 3}, {"spatial_dims": ["lat", "lon"]},
                   {"time_dim": "t"}, {"sample_dim": "member"}):
        other = dataclasses.replace(base, **change)
        assert other.deciding(RESUME_KEYS) != base.deciding(RESUME_KEYS), change
    # a fixed split seed keeps the split across run seeds
    fixed = dataclasses.replace(base, split_seed=0)
    assert dataclasses.replace(fixed, seed=1).deciding(RESUME_KEYS) == fixed.deciding(
        RESUME_KEYS)
    assert set(RESUME_KEYS) <= set(RESULT_KEYS)
    assert not hasattr(runner, "RUN_ID_KEYS")  # one list, in kinnsci.train.config
