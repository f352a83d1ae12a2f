"""Trainer, metrics, rollouts, checkpoints, resume, DDP and the train/evaluate CLI."""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from kinnsci.cli.main import main as cli
from kinnsci.data import OperatorDataset, RolloutDataset, generate, open_dataset
from kinnsci.errors import ConfigError
from kinnsci.models import get_model, set_dtype
from kinnsci.train import (
    CheckpointError,
    NonFiniteLossError,
    RunConfig,
    Trainer,
    evaluate,
    load_checkpoint,
    max_error,
    nrmse,
    per_step_relative_l2,
    relative_l1,
    relative_l2,
    rmse,
    rollout,
    rollout_errors,
    save_checkpoint,
)

TESTS = Path(__file__).parent


@pytest.fixture(scope="module")
def darcy(tmp_path_factory):
    return generate("darcy", tmp_path_factory.mktemp("d") / "darcy.nc", n_samples=12,
                    resolution=16, seed=0, progress=False)


@pytest.fixture(scope="module")
def ns(tmp_path_factory):
    return generate("navier_stokes", tmp_path_factory.mktemp("n") / "ns.nc", n_samples=4,
                    resolution=16, seed=0, n_times=8, dt_save=0.05, dt=1e-2, progress=False)


def tiny_fno(**kw):
    return get_model("fno", in_channels=kw.pop("in_channels", 1), out_channels=1, hidden_channels=6,
                       n_modes=(6, 5), projection_channels=8, **kw)


# --- metrics -----------------------------------------------------------------------------

def test_metrics_match_hand_computed_values():
    true = torch.tensor([[[3.0, 4.0]], [[1.0, 0.0]]])  # two samples, norms 5 and 1
    pred = torch.tensor([[[3.0, 0.0]], [[0.0, 0.0]]])  # errors (0, 4) and (1, 0)
    assert relative_l2(pred, true).item() == pytest.approx((4 / 5 + 1 / 1) / 2)
    assert relative_l1(pred, true).item() == pytest.approx((4 / 7 + 1 / 1) / 2)
    assert rmse(pred, true).item() == pytest.approx((math.sqrt(16 / 2) + math.sqrt(1 / 2)) / 2)
    assert nrmse(pred, true).item() == pytest.approx((math.sqrt(8) / 1 + math.sqrt(0.5) / 1) / 2)
    assert max_error(pred, true).item() == 4.0
    steps = per_step_relative_l2(torch.stack([true, pred], 1), torch.stack([true, true], 1))
    torch.testing.assert_close(steps, torch.tensor([0.0, 0.9]))
    with pytest.raises(ValueError, match="same shape"):
        relative_l2(pred, true[:1])


def test_rollout_feeds_predictions_back_in_time_major_order():
    v = 2

    def doubling(window):  # next state = 2 x the newest state (last V channels)
        return 2 * window[:, -v:]

    x0 = torch.arange(3 * v * 4, dtype=torch.float64).reshape(1, 3 * v, 2, 2)
    out = rollout(doubling, x0, n_steps=4, n_variables=v)
    assert out.shape == (1, 4, v, 2, 2)
    for k in range(4):
        torch.testing.assert_close(out[:, k], 2 ** (k + 1) * x0[:, -v:])


# --- training ----------------------------------------------------------------------------

def _float64_trainer(darcy, out, epochs):
    ds = open_dataset(darcy)
    train = OperatorDataset(ds, ["a"], ["u"], list(range(8)), dtype=torch.float64)
    torch.manual_seed(0)
    model = set_dtype(tiny_fno(), torch.float64)
    return Trainer(model, train, epochs=epochs, batch_size=4, lr=5e-3, seed=3, device="cpu",
                   checkpoint_dir=out, progress=False, loss="mse")


def test_channels_last_training_matches_the_default_layout(darcy, tmp_path):
    ds = open_dataset(darcy)
    train = OperatorDataset(ds, ["a"], ["u"], list(range(8)), dtype=torch.float64)
    runs = {}
    for channels_last in (False, True):
        torch.manual_seed(0)
        model = set_dtype(get_model("unet", in_channels=1, out_channels=1, hidden_channels=[4, 8]),
                          torch.float64)
        trainer = Trainer(model, train, epochs=3, batch_size=4, lr=5e-3, seed=3, device="cpu",
                          checkpoint_dir=tmp_path / str(channels_last), progress=False,
                          loss="mse", channels_last=channels_last)
        runs[channels_last] = trainer, trainer.fit()
    nhwc, history = runs[True]
    conv = next(m for m in nhwc.model.modules()
                if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not conv.weight.is_contiguous()  # the layout really changed
    for a, b in zip(runs[False][1], history, strict=True):
        assert math.isclose(a["train_loss"], b["train_loss"], rel_tol=1e-9)
    # its checkpoint loads into a default-layout model with the same outputs
    plain = set_dtype(get_model("unet", in_channels=1, out_channels=1, hidden_channels=[4, 8]),
                      torch.float64)
    plain.load_state_dict(load_checkpoint(tmp_path / "True" / "final.pt")["model"]["state"])
    x = torch.stack([train[i][0] for i in range(2)])
    torch.testing.assert_close(plain(x), nhwc.model(x), rtol=1e-10, atol=1e-12)


def test_resume_continues_exactly(darcy, tmp_path):
    straight = _float64_trainer(darcy, tmp_path / "a", epochs=4)
    straight.fit()
    first = _float64_trainer(darcy, tmp_path / "b", epochs=4)
    first.epochs = 2  # stop after epoch 2, as a kill right after that checkpoint would
    first.fit()
    torch.manual_seed(123)  # a fresh process would start from other RNG states
    resumed = _float64_trainer(darcy, tmp_path / "c", epochs=4)
    resumed.fit(resume=tmp_path / "b" / "last.pt")
    for (name, p), q in zip(straight.model.state_dict().items(),
                            resumed.model.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert [h["train_loss"] for h in resumed.history] == [
        h["train_loss"] for h in straight.history]


def test_training_reduces_the_loss_and_checkpoints_hold_everything(darcy, tmp_path):
    trainer = _float64_trainer(darcy, tmp_path, epochs=6)
    history = trainer.fit()
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    payload = load_checkpoint(tmp_path / "final.pt", expected_model="fno")
    assert {"model", "optimizer", "scheduler", "rng", "epoch", "history", "extra"} <= set(payload)
    assert payload["epoch"] == 6 and len(payload["history"]) == 6
    assert not list(tmp_path.glob(".*.tmp"))


def test_unrolled_training_averages_the_loss_over_the_horizon(ns):
    ds = open_dataset(ns)
    data = RolloutDataset(ds, ["w"], history=2, horizon=3)
    torch.manual_seed(0)
    trainer = Trainer(tiny_fno(in_channels=2), data, epochs=1, batch_size=4, device="cpu",
                      progress=False)
    assert trainer.unroll and trainer.horizon == 3
    x, y = torch.utils.data.default_collate([data[i] for i in range(4)])
    pred = rollout(trainer.model, x, 3, 1)
    expected = relative_l2(pred, y)
    torch.testing.assert_close(trainer.compute_loss(x, y), expected)


def test_unknown_loss_name_lists_the_known_ones(darcy):
    data = OperatorDataset(open_dataset(darcy), ["a"], ["u"])
    with pytest.raises(ValueError,
                       match="unknown loss 'huber'; known losses: cross_entropy, mse, rel_l1"):
        Trainer(tiny_fno(), data, loss="huber", device="cpu", progress=False)


def test_nan_loss_stops_and_saves_the_last_good_state(darcy, tmp_path):
    calls = {"n": 0}

    def flaky_loss(pred, true):
        calls["n"] += 1
        return relative_l2(pred, true) * (float("nan") if calls["n"] == 3 else 1.0)

    ds = open_dataset(darcy)
    trainer = Trainer(tiny_fno(), OperatorDataset(ds, ["a"], ["u"]), loss=flaky_loss, epochs=2,
                      batch_size=4, device="cpu", checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, batch 2; the last good state is in "
                                                 r".*last_good.pt"):
        trainer.fit()
    good = load_checkpoint(tmp_path / "last_good.pt")
    assert all(torch.isfinite(t).all() for t in good["model"]["state"].values())


@pytest.mark.parametrize("loss", ["rel_l2", "pde"])
def test_ddp_on_two_cpu_processes_matches_single_process_training(tmp_path, loss):
    """Also with a physics loss term (relative L2 + the Poisson residual)."""
    torchrun = shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not on PATH")
    worker = str(TESTS / "ddp_train_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    (tmp_path / "ddp").mkdir()
    (tmp_path / "single").mkdir()
    port = "29533" if loss == "rel_l2" else "29534"
    subprocess.run([torchrun, "--nproc-per-node", "2", "--master-port", port, worker,
                    str(tmp_path / "ddp"), loss], check=True, env=env, timeout=240)
    subprocess.run([sys.executable, worker, str(tmp_path / "single"), loss], check=True,
                   env=env, timeout=240)
    r0 = torch.load(tmp_path / "ddp" / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "ddp" / "rank1.pt", weights_only=True)
    single = torch.load(tmp_path / "single" / "rank0.pt", weights_only=True)
    for name in single:
        assert torch.equal(r0[name], r1[name]), name
        torch.testing.assert_close(r0[name], single[name], atol=1e-6, rtol=0)
    assert any(not torch.equal(single[n], p) for n, p in
               get_model("fno", in_channels=1, out_channels=1, hidden_channels=4, n_modes=(4, 3),
                           projection_channels=8).state_dict().items())


# --- checkpoints -------------------------------------------------------------------------

def test_bad_checkpoints_give_clear_errors(darcy, tmp_path):
    trainer = _float64_trainer(darcy, tmp_path, epochs=1)
    trainer.fit()
    good = (tmp_path / "final.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(tmp_path / "cut.pt")
    with pytest.raises(CheckpointError, match="holds a 'fno' model, not 'unet'"):
        load_checkpoint(tmp_path / "final.pt", expected_model="unet")
    payload = load_checkpoint(tmp_path / "final.pt")
    save_checkpoint({**payload, "version": 99}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="newer than this kinnsci reads"):
        load_checkpoint(tmp_path / "future.pt")
    tiny_fno().save(tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="not a kinnsci training checkpoint"):
        load_checkpoint(tmp_path / "model.pt")


def test_a_killed_training_process_resumes_from_its_last_checkpoint(darcy, tmp_path):
    out = tmp_path / "run"
    args = ["train", "--model", "fno", "--data", str(darcy), "--inputs", "a", "--targets", "u",
            "--epochs", "400", "--batch-size", "2", "--out", str(out), "--no-progress",
            "--no-plots", "--model-config",
            '{"hidden_channels": 6, "n_modes": [6, 5], "projection_channels": 8}']
    proc = subprocess.Popen([sys.executable, "-m", "kinnsci.cli.main", *args],
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.time() + 120
        while not (out / "last.pt").exists() and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # let it get into the middle of a later epoch
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = load_checkpoint(out / "last.pt")["epoch"]
    assert 1 <= killed_at < 400
    resume = [a if a != "400" else str(killed_at + 2) for a in args]
    assert cli(resume + ["--resume", str(out / "last.pt")]) == 0
    final = load_checkpoint(out / "final.pt")
    assert final["epoch"] == killed_at + 2 and len(final["history"]) == killed_at + 2
    assert not list(out.glob(".*.tmp"))  # a half-written temporary was cleaned up


# --- configs and CLI ---------------------------------------------------------------------

def test_config_unknown_key_lists_the_valid_ones(tmp_path):
    (tmp_path / "run.yaml").write_text("data: x.nc\ninputs: [a]\ntargets: [u]\nepoch: 3\n")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['epoch'\]; valid keys: data, model"):
        RunConfig.from_file(tmp_path / "run.yaml")
    with pytest.raises(ValueError, match="either inputs \\+ targets"):
        RunConfig.from_mapping({"data": "x.nc"})


def test_cli_train_evaluate_and_refusals(darcy, tmp_path, capsys):
    out = tmp_path / "unet"
    base = ["train", "--model", "unet", "--data", str(darcy), "--inputs", "a", "--targets", "u",
            "--epochs", "2", "--batch-size", "4", "--out", str(out), "--no-progress",
            "--model-config", '{"hidden_channels": [4, 8]}', "--channels-last"]
    assert cli(base) == 0
    assert load_checkpoint(out / "final.pt")["extra"]["run"]["channels_last"] is True
    assert (out / "plots" / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "plots" / "predictions.png").exists() and (out / "metrics.json").exists()
    assert cli(base) == 2
    assert "already holds results" in capsys.readouterr().err
    assert cli(["train", "--model", "unet", "--data", str(darcy), "--inputs", "perm",
                "--targets", "u", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "inputs: variable(s) ['perm'] not found" in err and "available variables: a, u" in err
    assert cli(["evaluate", str(out / "final.pt"), "--data", str(darcy), "--json",
                str(tmp_path / "m.json"), "--plots", str(tmp_path / "p")]) == 0
    assert "rel_l2" in capsys.readouterr().out and (tmp_path / "p" / "predictions.png").exists()
    fine = generate("darcy", tmp_path / "fine.nc", n_samples=2, resolution=24, progress=False)
    assert cli(["evaluate", str(out / "final.pt"), "--data", str(fine)]) == 2
    assert "cannot transfer" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert cli(["evaluate", str(tmp_path / "junk.pt"), "--data", str(darcy)]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err


def test_rollout_evaluation_from_the_cli(ns, tmp_path, capsys):
    out = tmp_path / "ns"
    assert cli(["train", "--model", "fno", "--data", str(ns), "--variables", "w", "--history",
                "2", "--horizon", "2", "--epochs", "1", "--batch-size", "4", "--out", str(out),
                "--no-progress", "--rollout", "4",
                "--model-config",
                '{"hidden_channels": 6, "n_modes": [6, 5], "projection_channels": 8}']) == 0
    assert (out / "plots" / "rollout_error.png").exists()
    assert cli(["evaluate", str(out / "final.pt"), "--data", str(ns), "--rollout", "6"]) == 0
    assert "rollout rel. L2: step 1" in capsys.readouterr().out
    assert cli(["evaluate", str(out / "final.pt"), "--data", str(ns), "--rollout", "7"]) == 2
    assert "pass at most --rollout 6" in capsys.readouterr().err


def test_cli_trains_a_file_with_other_dim_names_and_order(tmp_path, capsys):
    """An ensemble file (time, lat, lon, member), as climate archives lay it out."""
    import numpy as np
    import xarray as xr

    rng = np.random.default_rng(0)
    t2m = rng.standard_normal((8, 16, 16, 10)).cumsum(axis=0)
    ds = xr.Dataset({"t2m": (("time", "lat", "lon", "member"), t2m)},
                    coords={"time": np.arange(8.0)})
    ds.to_netcdf(tmp_path / "ens.nc")
    base = ["train", "--model", "fno", "--model-config",
            '{"hidden_channels": 8, "n_modes": [8, 7]}', "--data",
            str(tmp_path / "ens.nc"), "--variables", "t2m", "--history", "2", "--epochs", "1",
            "--no-progress", "--rollout", "4"]
    assert cli(base + ["--out", str(tmp_path / "plain")]) == 2
    assert "--sample-dim, --time-dim and --spatial-dims" in capsys.readouterr().err
    dims = ["--sample-dim", "member", "--time-dim", "time", "--spatial-dims", "lat", "lon"]
    assert cli(base + dims + ["--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "rollout rel. L2: step 1" in out  # train prints the rollout it computed
    run = load_checkpoint(tmp_path / "run" / "final.pt")["extra"]["run"]
    assert (run["sample_dim"], run["spatial_dims"]) == ("member", ["lat", "lon"])
    # the samples are members: windows from the 8 members of the training split
    config = RunConfig.from_mapping({**run, "data": str(tmp_path / "ens.nc")})
    from kinnsci.train.run import build_run

    split = build_run(config, progress=False).splits["train"]
    member = split.samples[0]
    x, _ = split[0]
    assert torch.allclose(x[0].double(), torch.as_tensor(t2m[0, :, :, member]))
    assert cli(["evaluate", str(tmp_path / "run" / "final.pt"), "--data",
                str(tmp_path / "ens.nc")]) == 0


def test_resume_with_more_epochs_stretches_the_schedule_instead_of_training_at_rate_zero(
        darcy, tmp_path):
    """A 2-epoch cosine run ends at learning rate 0; resuming it with epochs=4 used to run
    the extra epochs at 0 and change nothing. Now the schedule is the one a 4-epoch run
    has from the start, and training continues from its value at epoch 2."""
    short = _float64_trainer(darcy, tmp_path / "short", epochs=2)
    short.fit()
    assert short.optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    longer = _float64_trainer(darcy, tmp_path / "longer", epochs=4)
    with pytest.warns(UserWarning, match="now spans 4 epochs"):
        longer.load_state(tmp_path / "short" / "last.pt")
    lr = longer.optimizer.param_groups[0]["lr"]
    assert lr == pytest.approx(5e-3 * (1 + math.cos(math.pi * 2 / 4)) / 2)
    weights = [p.clone() for p in longer.model.parameters()]
    longer.fit()
    assert longer.epoch == 4 and len(longer.history) == 4
    assert any(not torch.equal(a, b) for a, b in zip(weights, longer.model.parameters(),
                                                     strict=True))
    # the rates of epochs 3 and 4 are those of a 4-epoch run (closed form of the cosine)
    straight = _float64_trainer(darcy, tmp_path / "straight", epochs=4)
    rates = []
    for _ in range(4):
        rates.append(straight.optimizer.param_groups[0]["lr"])
        straight.scheduler.step()
    assert straight.optimizer.param_groups[0]["lr"] == pytest.approx(
        longer.optimizer.param_groups[0]["lr"], abs=1e-12)
    assert rates[2] == pytest.approx(lr)
    # resuming the finished 4-epoch run with epochs=2 is refused, naming the epoch
    fewer = _float64_trainer(darcy, tmp_path / "fewer", epochs=2)
    with pytest.raises(ConfigError, match="at epoch 4, beyond epochs=2"):
        fewer.load_state(tmp_path / "longer" / "last.pt")


def test_evaluation_and_rollouts_show_progress_bars(tmp_path, capsys, monkeypatch):
    """On a terminal, bars; piped (not a terminal) and by default in the library, none."""
    ns = generate("navier_stokes", tmp_path / "ns.nc", n_samples=3, resolution=16, seed=0,
                  n_times=6, dt_save=0.05, dt=1e-2, progress=False)
    data = RolloutDataset(open_dataset(ns), ["w"], history=2, horizon=1)
    model = get_model("fno", in_channels=2, out_channels=1, hidden_channels=4, n_modes=(4, 3))
    evaluate(model, data, batch_size=2, progress=True)  # captured: not a terminal
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    evaluate(model, data, batch_size=2, progress=True)
    rollout_errors(model, data, 3, batch_size=1, progress=True)
    err = capsys.readouterr().err
    assert "evaluate" in err and "rollout 3" in err and ("it/s" in err or "s/it" in err)
    evaluate(model, data, batch_size=2)  # off by default in the library
    rollout_errors(model, data, 3)
    assert capsys.readouterr().err == ""


def test_prediction_and_comparison_figures_a_reader_can_use(darcy):
    """Labelled with the file's variable, units and dims; the error panels of every row
    and model share one colour scale; each row names its sample and its error."""
    from kinnsci.train.plots import FieldInfo, comparison_figure, predictions_figure

    ds = open_dataset(darcy)
    data = OperatorDataset(ds, ["a"], ["u"], samples=[5, 2, 7])
    info = FieldInfo.of(data)
    assert info.target_name.startswith("u (") and info.input_name.startswith("a (")
    assert info.dims == ("y", "x")
    torch.manual_seed(0)
    models = {"fno": get_model("fno", in_channels=1, out_channels=1, hidden_channels=4,
                               n_modes=(4, 3)),
              "unet": get_model("unet", in_channels=1, out_channels=1, hidden_channels=[4, 8])}
    fig = comparison_figure(models, data, n_samples=3)
    errors = [im for ax in fig.axes for im in ax.get_images() if "|error|" in ax.get_title()]
    assert len(errors) == 3 * 2
    assert len({im.get_clim() for im in errors}) == 1  # one scale for all rows and models
    titles = [ax.get_title() for ax in fig.axes]
    assert any(t.startswith("sample 5") for t in titles) and any("sample 7" in t for t in titles)
    assert all("rel. L2" in im.axes.get_title() for im in errors)
    xs = torch.stack([item[0] for item in data.__getitems__([0, 1, 2])])
    ys = torch.stack([item[1] for item in data.__getitems__([0, 1, 2])])
    fig = predictions_figure(ys * 1.1, ys, inputs=xs, info=info, samples=[5, 2, 7])
    panels = [ax for ax in fig.axes if ax.get_images()]
    assert len(panels) == 3 * 4
    assert {ax.get_xlabel() for ax in panels} == {"x [m]"}  # the file's coordinates
    error_clims = [ax.get_images()[0].get_clim() for ax in panels
                   if ax.get_title() == "|u prediction − truth|"]
    assert len(error_clims) == 3 and len(set(error_clims)) == 1
    colorbar_labels = {ax.get_ylabel() for ax in fig.axes if not ax.get_images()}
    assert any(label.startswith("u (") for label in colorbar_labels)


def test_loss_figure_names_the_model_its_axes_and_the_validation_curve():
    from kinnsci.train.plots import loss_figure

    history = [{"epoch": e, "train_loss": 1 / e, "val_rel_l2": 2 / e} for e in (1, 2, 3)]
    ax = loss_figure(history, title="ukno").axes[0]
    assert ax.get_title() == "ukno: training curves"
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel()
    assert [line.get_label() for line in ax.get_lines()] == ["training loss",
                                                             "validation rel. L2"]


def test_training_says_early_how_long_the_run_will_take(darcy, tmp_path, capsys):
    ds = open_dataset(darcy)
    train = OperatorDataset(ds, ["a"], ["u"], list(range(12)) * 2)
    torch.manual_seed(0)
    trainer = Trainer(tiny_fno(), train, epochs=3, batch_size=1, lr=1e-3, device="cpu",
                      progress=True)  # 24 batches: the estimate comes after batch 6
    trainer.fit()
    err = capsys.readouterr().err
    assert "per epoch (from batches 2-6), about" in err and "for the 3 epoch(s)" in err
    assert "per epoch (the first epoch without its first batch)" in err
    assert err.count("kinnsci: about") == 2  # the first epoch only
    quiet = Trainer(tiny_fno(), train, epochs=1, batch_size=8, device="cpu", progress=False)
    quiet.fit()
    assert "kinnsci: about" not in capsys.readouterr().err


def test_only_resolution_invariant_models_evaluate_on_another_grid(tmp_path, capsys):
    """The models say whether they transfer across grids (``resolution_invariant``):
    FNO/FKNO evaluate on a finer grid, U-Net is refused with the fix."""
    coarse = generate("darcy", tmp_path / "d16.nc", n_samples=10, resolution=16, progress=False)
    fine = generate("darcy", tmp_path / "d24.nc", n_samples=2, resolution=24, progress=False)
    for model, config in (("fno", '{"hidden_channels": 4, "n_modes": [4, 3]}'),
                          ("unet", '{"hidden_channels": [4, 8]}')):
        assert cli(["train", "--model", model, "--data", str(coarse), "--inputs", "a",
                    "--targets", "u", "--epochs", "1", "--batch-size", "2", "--model-config",
                    config, "--out", str(tmp_path / model), "--no-progress",
                    "--no-plots"]) == 0
        code = cli(["evaluate", str(tmp_path / model / "final.pt"), "--data", str(fine),
                    "--no-progress"])
        err = capsys.readouterr().err
        if model == "fno":
            assert code == 0, err
        else:
            assert code == 2 and "'unet' was trained on 16x16 grids and cannot transfer" in err


def test_resume_keeps_the_first_runs_results_and_warns_in_one_line(darcy, tmp_path, capsys):
    """A run continued with more epochs writes its own final.pt/metrics.json; those of the
    run it continues are kept under epoch-N/, and the schedule note is one line."""
    import warnings

    out = tmp_path / "run"
    base = ["train", "--model", "fno", "--data", str(darcy), "--inputs", "a", "--targets",
            "u", "--model-config", '{"hidden_channels": 6, "n_modes": [6, 5]}',
            "--batch-size", "4", "--out", str(out), "--no-progress", "--no-plots"]
    assert cli(base + ["--epochs", "2"]) == 0
    first = (out / "metrics.json").read_text()
    capsys.readouterr()
    with pytest.warns(UserWarning, match="resuming at epoch 2 with epochs=3") as caught:
        assert cli(base + ["--epochs", "3", "--resume", str(out / "last.pt")]) == 0
    captured = capsys.readouterr()
    assert (out / "epoch-2" / "metrics.json").read_text() == first
    assert load_checkpoint(out / "epoch-2" / "final.pt")["epoch"] == 2
    assert load_checkpoint(out / "final.pt")["epoch"] == 3
    assert f"kept in {out / 'epoch-2'}" in captured.out
    # the command line shows it as one line, without a source path
    w = next(w for w in caught if "resuming at epoch 2" in str(w.message))
    line = warnings.formatwarning(w.message, w.category, w.filename, w.lineno)
    assert line.startswith("kinnsci: warning: resuming at epoch 2") and line.count("\n") == 1
    assert w.filename not in line


def test_piped_training_prints_one_plain_line_per_epoch(darcy, tmp_path):
    """Not a terminal: no progress bar (its carriage returns pile up in a log file), one
    line per epoch; the time estimate never says "0 s"."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "kinnsci.cli.main", "train", "--model", "fno", "--data",
         str(darcy), "--inputs", "a", "--targets", "u", "--model-config",
         '{"hidden_channels": 6, "n_modes": [6, 5]}', "--epochs", "2", "--batch-size", "4",
         "--out", str(tmp_path / "run"), "--no-plots"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("epoch ")]
    assert [ln.split(":")[0] for ln in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "train loss" in lines[0] and "val rel_l2" in lines[0]
    assert "about 0 s per epoch" not in proc.stderr


def test_rollout_figures_name_model_data_variables_times_and_coordinates(ns, tmp_path):
    """Every predicted variable gets its rows, each row the time of its predicted state,
    the axes the grid's coordinates in their units; the figure names model, checkpoint and
    data, and the rollout curve its variables."""
    import matplotlib.image

    from kinnsci.train.plots import FieldInfo, plot_rollout_error, predictions_figure

    ds = open_dataset(ns)
    data = RolloutDataset(ds, ["w"], history=2, samples=[1, 3])
    info = FieldInfo.of(data)
    x = torch.stack([data[i][0] for i in range(2)])
    y = torch.stack([data[i][1][0] for i in range(2)])
    fig = predictions_figure(y * 1.1, y, 2, "fno from run/final.pt on ns.nc", inputs=x,
                             info=info, samples=[1, 1])
    titles = [ax.get_title() for ax in fig.axes if ax.get_images()]
    times = ds.time.values
    assert f"sample 1, t = {times[2]:.4g} s: input" in titles  # window 0 predicts t[2]
    assert f"sample 1, t = {times[3]:.4g} s: input" in titles  # window 1 predicts t[3]
    assert fig.get_suptitle() == "fno from run/final.pt on ns.nc"
    panel = next(ax for ax in fig.axes if ax.get_images())
    x_units = ds.x.attrs["units"]
    assert panel.get_xlabel() == f"x [{x_units}]"
    extent = panel.get_images()[0].get_extent()
    assert extent[0] == pytest.approx(float(ds.x[0])) and extent[1] == pytest.approx(
        float(ds.x[-1]))
    path = plot_rollout_error(np.array([0.1, 0.2]), tmp_path / "r.png",
                              title="fno: 2 steps", variables="w")
    assert matplotlib.image.imread(path).shape[2] in (3, 4)


def test_rollout_step_s_is_compared_with_state_history_minus_1_plus_s(tmp_path):
    """Windows and targets line up: on w(t + 1) = 0.9 w(t), the model that applies exactly
    that map has zero error at every rollout step (off by one step it would be ~11 %)."""
    import xarray as xr

    from kinnsci.train.rollouts import rollout_errors

    w0 = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(0)).numpy()
    states = np.stack([w0[:, 0] * 0.9**t for t in range(7)], axis=1)  # (sample, time, y, x)
    xr.Dataset({"w": (("sample", "time", "y", "x"), states)},
               coords={"time": np.arange(7.0)}).to_netcdf(tmp_path / "decay.nc")
    data = RolloutDataset(open_dataset(tmp_path / "decay.nc"), ["w"], history=2)

    class Exact(torch.nn.Module):
        def forward(self, x):
            return 0.9 * x[:, -1:]  # the newest state, one step on

    errors, pred, truth = rollout_errors(Exact(), data, 5)
    assert np.all(errors < 1e-5), errors
    torch.testing.assert_close(truth[:, 0], torch.from_numpy(states[:, 2:3]).float())


def test_data_checks_are_skipped_only_for_data_that_passed_them_unchanged(tmp_path, capsys,
                                                                          monkeypatch):
    """``--skip-data-checks`` skips the pass after a first run checked the same files
    (stamp: paths, sizes, modification times, variables, split); never-checked or changed
    data is checked anyway and its NaN still stops the run."""
    import xarray as xr

    import kinnsci.data.datasets as datasets

    monkeypatch.setenv("KINNSCI_CACHE_DIR", str(tmp_path / "cache"))
    data = generate("darcy", tmp_path / "d.nc", n_samples=8, resolution=16, seed=0,
                    progress=False)
    reads = []
    real = datasets._Fields.scan
    monkeypatch.setattr(datasets._Fields, "scan",
                        lambda self, *a, **k: reads.append(self.names) or real(self, *a, **k))

    def train(name, *extra):
        return cli(["train", "--model", "fno", "--data", str(data), "--inputs", "a",
                    "--targets", "u", "--model-config", '{"hidden_channels": 4, "n_modes": '
                    '[4, 4]}', "--epochs", "1", "--batch-size", "4", "--out",
                    str(tmp_path / name), "--no-progress", "--no-plots", *extra])

    assert train("first", "--skip-data-checks") == 0  # never checked: checked now
    assert "has not passed the checks before" in capsys.readouterr().err and reads
    reads.clear()
    assert train("second", "--skip-data-checks") == 0
    assert "data checks skipped" in capsys.readouterr().err and not reads
    assert train("third") == 0 and reads  # without the flag: always checked
    with xr.open_dataset(data) as ds:
        bad = ds.load()
    bad["u"][2, 3, 3] = np.nan
    bad.to_netcdf(tmp_path / "bad.nc")
    os.replace(tmp_path / "bad.nc", data)  # the same path, changed since its check
    reads.clear()
    assert train("fourth", "--skip-data-checks") == 2
    err = capsys.readouterr().err
    assert "has not passed the checks before" in err and "NaN/inf at sample 2" in err
