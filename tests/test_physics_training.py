"""Physics in training: weighted-sum losses with a PDE term, their per-term logs, the
errors before training, and physics-only fine-tuning (kinnsci finetune)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from kinnsci.cli.main import main
from kinnsci.data import OperatorDataset, RolloutDataset, generate, open_dataset
from kinnsci.errors import ConfigError, DataError
from kinnsci.train.config import RunConfig
from kinnsci.train.losses import CompositeLoss, PhysicsResidual, make_loss, parse_loss
from kinnsci.train.metrics import relative_l2

FNO_16 = '{"n_modes": [8, 7], "hidden_channels": 8}'


@pytest.fixture(scope="module")
def darcy(tmp_path_factory):
    root = tmp_path_factory.mktemp("darcy")
    return generate("darcy", root / "darcy.nc", n_samples=16, resolution=16, seed=0,
                    progress=False)


@pytest.mark.parametrize(("spec", "expected"), [
    ("rel_l2", {"rel_l2": 1.0}),
    ("rel_l2=1, h1=0.5,pde=0.1", {"rel_l2": 1.0, "h1": 0.5, "pde": 0.1}),
    ({"mse": 2, "pde": "1e-2"}, {"mse": 2.0, "pde": 0.01}),
])
def test_loss_specs_parse_to_weights(spec, expected):
    assert parse_loss(spec) == expected


@pytest.mark.parametrize(("spec", "message"), [
    ("rel_l3", "unknown term 'rel_l3'; terms: rel_l2, rel_l1, mse, h1, pde"),
    ("rel_l2=-1", "weight of rel_l2 must be a finite number >= 0"),
    ("rel_l2=nan", "weight of rel_l2 must be a finite number >= 0"),
    ("rel_l2=0", "at least one term a weight > 0"),
    ("mse,mse=2", "term 'mse' is given twice"),
])
def test_bad_loss_specs_are_refused(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_loss(spec)
    with pytest.raises(ConfigError, match="loss"):
        RunConfig.from_mapping({"data": "x.nc", "inputs": ["a"], "targets": ["u"],
                                "loss": spec})


def test_a_single_term_stays_the_plain_loss_and_a_sum_adds_its_weighted_terms():
    assert make_loss("mse") == "mse"
    loss = make_loss({"rel_l2": 1.0, "mse": 3.0})
    pred, true = torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8)
    expected = relative_l2(pred, true) + 3 * torch.mean((pred - true) ** 2)
    torch.testing.assert_close(loss(pred, true), expected)
    means = loss.epoch_means()
    assert means["mse"] == pytest.approx(float(torch.mean((pred - true) ** 2)))
    assert loss.epoch_means() == {}  # reset after reading
    with pytest.raises(ConfigError, match="needs the data's equation"):
        CompositeLoss({"pde": 1.0})


def test_the_pde_term_vanishes_on_the_truth_steady_and_time_dependent(darcy, tmp_path):
    ds = open_dataset(darcy)
    physics = PhysicsResidual.for_data(ds, inputs=["a"], targets=["u"])
    data = OperatorDataset(ds, ["a"], ["u"])
    x, y = (torch.stack(t) for t in zip(*(data[i] for i in range(4)), strict=True))
    assert float(physics(y, x)) < 1e-9  # float32 rounding of the stencil (f = 1)
    assert float(physics(1.01 * y, x)) > 1e-5  # 1 % off: the residual sees it (1e-4)
    ns = generate("navier_stokes", tmp_path / "ns.nc", n_samples=2, resolution=16,
                  n_times=6, dt_save=0.005, dt=1e-3, seed=0, progress=False)
    ds = open_dataset(ns)
    physics = PhysicsResidual.for_data(ds, variables=["w"], history=2)
    windows = RolloutDataset(ds, ["w"], 2, 1)
    x, y = windows[0]
    true_next = y[0][None]  # (1, V, H, W)
    clean = float(physics(true_next, x[None]))
    noisy = float(physics(true_next + 0.01 * true_next.std() * torch.randn_like(true_next),
                          x[None]))
    assert noisy > 3 * clean


def test_pde_on_data_without_an_equation_or_its_attributes_is_refused_before_training(
        darcy, tmp_path, capsys):
    lr = generate("long_range", tmp_path / "lr.nc", n_samples=8, resolution=16, seed=0,
                  progress=False)
    assert main(["train", "--model", "fno", "--data", str(lr), "--inputs", "f", "--targets",
                 "u", "--loss", "rel_l2=1,pde=1", "--out", str(tmp_path / "r"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "generator 'long_range' has no equation" in err and "\n" not in err.strip()
    assert not (tmp_path / "r").exists()
    stripped = tmp_path / "stripped.nc"
    ds = open_dataset(darcy).load()
    del ds.attrs["param_forcing"]
    ds.to_netcdf(stripped)
    assert main(["train", "--model", "fno", "--data", str(stripped), "--inputs", "a",
                 "--targets", "u", "--loss", "pde=1", "--out", str(tmp_path / "r2"),
                 "--no-progress"]) == 2
    assert "param_forcing" in capsys.readouterr().err


def test_training_with_a_pde_term_logs_each_term_and_lowers_the_residual(darcy, tmp_path):
    """Physics-only training from the CLI: each term's epoch mean is in metrics.json and
    the residual falls over the epochs."""
    out = tmp_path / "run"
    assert main(["train", "--model", "fno", "--data", str(darcy), "--inputs", "a",
                 "--targets", "u", "--epochs", "8", "--batch-size", "4", "--lr", "5e-3",
                 "--loss", "rel_l2=0,pde=1", "--model-config", FNO_16, "--out", str(out),
                 "--no-progress", "--no-plots"]) == 0
    history = json.loads((out / "metrics.json").read_text())["history"]
    pde = [h["loss_pde"] for h in history]
    assert all(h["train_loss"] == pytest.approx(h["loss_pde"]) for h in history)
    assert pde[-1] < 0.85 * pde[0], pde  # measured: 1.00 -> 0.77 in 8 epochs


def test_finetune_lowers_the_residual_on_new_inputs_and_writes_a_checkpoint(darcy, tmp_path,
                                                                            capsys):
    run = tmp_path / "run"
    assert main(["train", "--model", "fno", "--data", str(darcy), "--inputs", "a",
                 "--targets", "u", "--epochs", "2", "--batch-size", "4",
                 "--model-config", FNO_16, "--out", str(run), "--no-progress",
                 "--no-plots"]) == 0
    new = generate("darcy", tmp_path / "new.nc", n_samples=4, resolution=16, seed=7,
                   progress=False)
    out = tmp_path / "ft"
    assert main(["finetune", str(run / "final.pt"), "--data", str(new), "--steps", "30",
                 "--lr", "3e-3", "--out", str(out), "--no-progress"]) == 0
    report = json.loads((out / "finetune.json").read_text())
    assert report["after"]["residual"] < report["before"]["residual"]
    assert set(report["after"]["test"]) >= {"rel_l2", "nrmse"}
    assert "darcy residual" in capsys.readouterr().out
    # the fine-tuned checkpoint evaluates like any other
    assert main(["evaluate", str(out / "final.pt"), "--data", str(new)]) == 0
    # a used output folder is refused
    assert main(["finetune", str(run / "final.pt"), "--data", str(new), "--out",
                 str(out)]) == 2
    assert "already holds files" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="steps must be an integer >= 1"):
        from kinnsci.train.finetune import finetune_checkpoint

        finetune_checkpoint(run / "final.pt", new, steps=0, out=tmp_path / "ft0")


def test_the_pde_term_needs_the_equations_variables(darcy):
    ds = open_dataset(darcy)
    with pytest.raises(DataError, match="lack a"):
        PhysicsResidual.for_data(ds, inputs=["u"], targets=["u"])
    assert np.isfinite(float(PhysicsResidual.for_data(ds, inputs=["a"], targets=["u"])(
        torch.zeros(1, 1, 16, 16), torch.ones(1, 1, 16, 16))))


# --- the physics experiments' machinery ------------------------------------------------------
def test_train_samples_trains_on_the_first_n_of_the_training_split(darcy, tmp_path):
    from kinnsci.train.run import build_run

    config = RunConfig.from_mapping({"data": str(darcy), "inputs": ["a"], "targets": ["u"],
                                     "split": [0.75, 0.125, 0.125], "split_seed": 0,
                                     "train_samples": 3, "model_config": {
                                         "n_modes": [8, 7], "hidden_channels": 8},
                                     "out": str(tmp_path / "r")})
    run = build_run(config, progress=False)
    full = build_run(RunConfig.from_mapping({**config.to_dict(), "train_samples": None}),
                     progress=False)
    assert len(run.splits["train"]) == 3
    assert list(run.splits["train"].samples) == list(full.splits["train"].samples)[:3]
    assert len(run.splits["test"]) == len(full.splits["test"])
    with pytest.raises(DataError, match="train_samples 99 exceeds the 12 samples"):
        build_run(RunConfig.from_mapping({**config.to_dict(), "train_samples": 99}),
                  progress=False)
    with pytest.raises(ConfigError, match="train_samples must be an integer >= 1"):
        RunConfig.from_mapping({**config.to_dict(), "train_samples": 0})


def test_finished_runs_keep_their_ids_and_a_new_setting_gets_its_own(monkeypatch):
    import dataclasses

    from kinnsci.reproduce import get_experiment, runner
    from kinnsci.train import config as config_module

    plan = get_experiment("darcy").plan("smoke")
    variant = plan.variant("fno")
    rid = runner.run_id(plan, variant, 1e-3, 0)
    # the hash as it was before train_samples existed
    monkeypatch.setattr(runner, "RESULT_KEYS", tuple(
        k for k in config_module.RESULT_KEYS if k != "train_samples"))
    assert runner.run_id(plan, variant, 1e-3, 0) == rid
    monkeypatch.undo()
    fewer = dataclasses.replace(variant, train_samples=4)
    assert runner.run_id(plan, fewer, 1e-3, 0) != rid
    physics = dataclasses.replace(variant, loss="rel_l2=1,pde=0.003")
    assert runner.run_id(plan, physics, 1e-3, 0) != rid


def test_a_claim_can_compare_a_model_with_itself_on_two_metrics():
    from kinnsci.reproduce import get_experiment, runner

    plan = get_experiment("physics-superres").plan("smoke")
    claim = plan.claims[0]
    assert claim.better == claim.worse and claim.worse_metric != claim.metric
    runs = [{"variant": key, "lr": 1e-3, "seed": seed, "diverged": False,
             "test": {claim.metric: 0.1 + 0.001 * seed,
                      claim.worse_metric: 0.2 + 0.001 * seed}}
            for key in ("fno", "fno-pde") for seed in range(5)]
    chosen = {key: {"rel_l2": 1e-3} for key in ("fno", "fno-pde")}
    judged = runner.judge_claims(plan, runs, chosen)
    assert judged[0]["mean_better"] == pytest.approx(0.102)
    assert judged[0]["mean_worse"] == pytest.approx(0.202)
    assert judged[0]["worse_metric"] == claim.worse_metric


@pytest.mark.parametrize("model", ["fno", "ukno"])
def test_pde_loss_and_finetuning_under_bf16_autocast_keep_a_float32_residual(darcy, tmp_path,
                                                                              model):
    """bf16 AMP on CPU: the residual is computed in float32 (its loss is finite and the
    fine-tuning lowers it) for a spectral and a convolutional Kirchhoff backbone."""
    config = FNO_16 if model == "fno" else ('{"hidden_channels": [8, 8, 8], "res_blocks": 1, '
                                            '"directions": 1, "d_state": 4, "ckb_levels": 1}')
    run = tmp_path / "run"
    assert main(["train", "--model", model, "--data", str(darcy), "--inputs", "a",
                 "--targets", "u", "--epochs", "1", "--batch-size", "4", "--amp", "bf16",
                 "--loss", "rel_l2=1,pde=0.003", "--model-config", config, "--out", str(run),
                 "--no-progress", "--no-plots"]) == 0
    history = json.loads((run / "metrics.json").read_text())["history"]
    assert np.isfinite(history[0]["loss_pde"])
    from kinnsci.train.finetune import finetune_checkpoint

    report = finetune_checkpoint(run / "final.pt", darcy, steps=10, lr=1e-3, amp="bf16",
                                 out=tmp_path / "ft")
    assert report["after"]["residual"] < report["before"]["residual"]


def test_an_adaptive_aggregator_weights_the_slower_term_up():
    """SoftAdapt (neuraloperator's): after a step where one term halved and the other did
    not move, the one that did not move gets the larger weight; Relobralo runs too."""
    from kinnsci.train.losses import CompositeLoss

    loss = CompositeLoss({"mse": 1.0, "rel_l1": 1.0}, aggregator="softadapt")
    true = torch.ones(2, 1, 4, 4)
    first = loss(torch.full_like(true, 2.0), true)  # mse 1, rel_l1 1
    torch.testing.assert_close(first, torch.tensor(2.0))
    # mse 0.25 (quartered), rel_l1 0.5 (halved): rel_l1 moved less, weigh it up
    loss(torch.full_like(true, 1.5), true)
    assert loss.last_weights["rel_l1"] > loss.last_weights["mse"]
    relo = CompositeLoss({"mse": 1.0, "rel_l1": 1.0}, aggregator="relobralo")
    for value in (2.0, 1.5, 1.2):
        assert torch.isfinite(relo(torch.full_like(true, value), true))
    with pytest.raises(ConfigError, match="loss_aggregator must be one of softadapt"):
        CompositeLoss({"mse": 1.0}, aggregator="adam")
    with pytest.raises(ConfigError, match="loss_aggregator must be one of softadapt"):
        RunConfig.from_mapping({"data": "x.nc", "inputs": ["a"], "targets": ["u"],
                                "loss_aggregator": "softadpt"})


def test_reproduce_rollouts_record_conservation_and_energy(tmp_path):
    """Every time-dependent reproduce run records, per rollout step, the error of the
    conserved spatial means and the energy ratio, and their final values."""
    import dataclasses

    from kinnsci.reproduce import get_experiment, run_experiment

    plan = get_experiment("shallow-water").plan("smoke")
    plan = dataclasses.replace(plan, variants=(plan.variant("fno"),), claims=(),
                               lrs=(1e-3,), seeds=1)
    content = run_experiment(plan, tmp_path, progress=False, log=lambda s: None)
    run = content["runs"][0]
    steps = plan.rollout_steps
    assert len(run["test_curves"]["energy_ratio"]) == steps
    assert len(run["test_curves"]["conserved_error"]) == steps
    assert run["test"]["final_energy_ratio"] == pytest.approx(
        run["test_curves"]["energy_ratio"][-1])
    assert run["test"]["final_conserved_error"] >= 0
