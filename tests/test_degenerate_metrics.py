"""Metrics and losses that stay honest on degenerate fields: any scale, zero targets,
constant targets."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
import xarray as xr

from kinnsci.train.evaluation import evaluate
from kinnsci.train.metrics import nrmse, relative_l1, relative_l2, rmse


@pytest.mark.parametrize("scale", [1e-20, 1e-30, 1e20])
def test_relative_metrics_do_not_depend_on_the_fields_scale(scale):
    g = torch.Generator().manual_seed(0)
    true = torch.randn(3, 2, 8, 8, generator=g)
    pred = true + 0.1 * torch.randn(3, 2, 8, 8, generator=g)
    for fn in (relative_l2, relative_l1, nrmse):
        torch.testing.assert_close(fn(pred * scale, true * scale), fn(pred, true),
                                   rtol=1e-5, atol=0)
    torch.testing.assert_close(rmse(pred * scale, true * scale) / scale, rmse(pred, true),
                               rtol=1e-5, atol=0)


def test_a_zero_target_makes_the_relative_error_undefined_not_huge():
    true = torch.ones(2, 1, 4, 4)
    true[1] = 0
    pred = true + 0.5
    per_sample = relative_l2(pred, true, reduction="none")
    assert per_sample[0] == pytest.approx(0.5) and torch.isnan(per_sample[1])
    assert torch.isnan(relative_l2(pred, true))
    constant = torch.full((1, 1, 4, 4), 3.0)
    assert torch.isnan(nrmse(constant + 1, constant))


def test_evaluate_averages_over_defined_samples_and_says_how_many_were_not():
    x = torch.randn(4, 1, 4, 4)
    y = torch.ones(4, 1, 4, 4)
    y[2] = 0
    data = torch.utils.data.TensorDataset(x, y)

    def model(inp):
        return torch.full_like(inp, 1.5)

    model.training, model.eval, model.train = False, lambda: None, lambda mode: None
    with pytest.warns(UserWarning, match=r"rel_l2 is undefined for 1 of 4 sample\(s\), whose "
                      "target is zero everywhere"):
        metrics = evaluate(model, data, batch_size=3)
    assert metrics["rel_l2"] == pytest.approx(0.5)  # the three defined samples
    assert np.isfinite(metrics["rmse"])


def test_training_on_a_field_of_size_1e_20_learns_as_at_size_1(tmp_path, capsys):
    """The loss is the same scale-free function: a Darcy set whose u is scaled by 1e-20
    trains to the same relative error (it used to report 6e-10 and learn nothing)."""
    from kinnsci.cli.main import main
    from kinnsci.data import generate

    darcy = generate("darcy", tmp_path / "d.nc", n_samples=12, resolution=16, seed=0,
                     progress=False)
    with xr.open_dataset(darcy) as ds:
        tiny = ds.load()
    tiny["u"] = tiny["u"] * 1e-20
    tiny.to_netcdf(tmp_path / "tiny.nc")
    results = {}
    for name, path in (("one", darcy), ("tiny", tmp_path / "tiny.nc")):
        argv = ["train", "--data", str(path), "--inputs", "a", "--targets", "u", "--model",
                "fno", "--model-config", '{"hidden_channels": 8, "n_modes": [6, 5]}',
                "--epochs", "3", "--batch-size", "4", "--out", str(tmp_path / name),
                "--no-progress", "--no-plots"]
        assert main(argv) == 0
        results[name] = json.loads((tmp_path / name / "metrics.json").read_text())
    capsys.readouterr()
    one, tiny_ = (results[k]["test"]["rel_l2"] for k in ("one", "tiny"))
    assert tiny_ == pytest.approx(one, rel=0.02)
    assert 0.01 < tiny_ < 1.5


def test_a_relative_loss_on_zero_targets_is_refused_before_training(tmp_path, capsys):
    from kinnsci.cli.main import main
    from kinnsci.data import generate

    darcy = generate("darcy", tmp_path / "d.nc", n_samples=12, resolution=16, seed=0,
                     progress=False)
    with xr.open_dataset(darcy) as ds:
        zero = ds.load()
    zero["u"][:] = 0.0
    zero.to_netcdf(tmp_path / "zero.nc")
    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["train", "--data", str(tmp_path / "zero.nc"), "--inputs", "a",
                     "--targets", "u", "--epochs", "1", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "loss rel_l2 is undefined for" in err and "--loss mse" in err
    assert not out.exists() or not any(out.iterdir())
