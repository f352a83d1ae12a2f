"""The long-range generator against analytic solutions and an ODE solver, and its
experiment's plan (FKNO-1 with its state-cut twin, FNO, U-Net)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.integrate import solve_ivp

from kinnsci.data import generate
from kinnsci.data.generators import row_response


def _x(s):
    return np.linspace(0.0, 1.0, s)


def test_running_integral_and_mean_converge_at_second_order():
    errors = []
    for s in (33, 65, 129):
        x = _x(s)
        f = np.cos(3 * x)[None]
        exact = np.sin(3 * x) / 3
        u = row_response(f, "integral")[0]
        errors.append(np.abs(u - exact).max())
        mean = row_response(f, "mean")[0]
        np.testing.assert_allclose(mean[1:], u[1:] / x[1:])
        assert mean[0] == f[0, 0]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 1.9), orders


def test_decay_is_an_rc_node_driven_by_f():
    """u' = (f - u) / memory, u(0) = 0: exact for piecewise-linear f, against solve_ivp for
    a smooth one."""
    s, memory = 65, 0.1
    x = _x(s)
    linear = (2 * x - 0.5)[None]
    ref = solve_ivp(lambda t, u: (2 * t - 0.5 - u) / memory, (0, 1), [0.0], t_eval=x,
                    rtol=1e-11, atol=1e-12).y[0]
    np.testing.assert_allclose(row_response(linear, "decay", memory)[0], ref, atol=1e-9)
    smooth = np.sin(7 * x)[None]
    ref = solve_ivp(lambda t, u: (np.sin(7 * t) - u) / memory, (0, 1), [0.0], t_eval=x,
                    rtol=1e-11, atol=1e-12).y[0]
    assert np.abs(row_response(smooth, "decay", memory)[0] - ref).max() < 1e-3


def test_the_generator_is_causal_along_rows(tmp_path):
    """Changing f at a column changes u only at that column and to its right."""
    path = generate("long_range", tmp_path / "lr.nc", n_samples=2, resolution=16, seed=3,
                    progress=False)
    with xr.open_dataset(path) as ds:
        f, u = ds["f"].values, ds["u"].values
        assert ds.attrs["param_mode"] == "mean" and ds["u"].attrs["units"] == "1"
    np.testing.assert_allclose(u, row_response(f, "mean"))
    g = f.copy()
    g[:, :, 9] += 1.0
    changed = np.abs(row_response(g, "mean") - u).max(axis=(0, 1)) > 0
    assert not changed[:9].any() and changed[9:].all()


def test_unknown_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="parameter mode must be one of"):
        generate("long_range", tmp_path / "x.nc", n_samples=1, resolution=8, mode="sideways",
                 progress=False)
    assert not (tmp_path / "x.nc").exists()


def test_long_range_plan_has_the_state_cut_twin_and_its_claim():
    from kinnsci.reproduce import get_experiment

    plan = get_experiment("long-range").plan("small")
    keys = {v.key for v in plan.variants}
    assert {"fkno", "fkno-cut", "fno", "unet"} <= keys
    cut = plan.variant("fkno-cut")
    assert cut.model_config["ckb_kwargs"]["state_cut"] is True
    assert any(c.better == "fkno" and c.worse == "fkno-cut" for c in plan.claims)
    assert plan.lrs == (2e-3, 8e-3, 1.6e-2) and plan.seeds >= 5


def test_transfer_metrics_evaluate_the_same_weights_on_finer_grids(tmp_path):
    """resolution-transfer: rel. L2 at each finer grid, and for an FKNO with Δ scaling the
    same weights without it; the model is left as it was."""
    import torch

    from kinnsci.data import Normalizer
    from kinnsci.models import get_model
    from kinnsci.reproduce import get_experiment
    from kinnsci.reproduce.runner import transfer_metrics
    from kinnsci.train import NormalizedOperator

    plan = get_experiment("resolution-transfer").plan("smoke")
    assert plan.transfer == (32, 64)
    assert {v.key for v in plan.variants} == {"fkno", "fkno-fixed-dt", "fno", "fkno-cut"}
    torch.manual_seed(0)
    backbone = get_model("fkno", in_channels=1, out_channels=1, hidden_channels=8,
                         n_modes=(6, 5), d_state=4, reference_resolution=16)
    model = NormalizedOperator(backbone, Normalizer.identity(1), Normalizer.identity(1))
    metrics = transfer_metrics(plan, model, "cpu", tmp_path)
    assert set(metrics) == {"rel_l2@32", "rel_l2@32_fixed_dt", "rel_l2@64",
                            "rel_l2@64_fixed_dt"}
    assert metrics["rel_l2@64"] != metrics["rel_l2@64_fixed_dt"]
    assert backbone.reference_resolution == 16


def test_darcy_matched_compares_ukno_with_baselines_of_its_size():
    from kinnsci.models import count_parameters, get_model
    from kinnsci.reproduce import get_experiment

    plan = get_experiment("darcy-matched").plan("small")
    sizes = {v.key: count_parameters(get_model(v.model, in_channels=1, out_channels=1,
                                               **v.model_config))
             for v in plan.variants if not v.key.endswith("-cut")}
    for key in ("unet-matched", "fno-matched"):
        assert abs(sizes[key] / sizes["ukno"] - 1) < 0.05, sizes
    assert plan.variant("ukno") == get_experiment("darcy").plan("small").variant("ukno")


def test_a_kept_run_gets_the_transfer_evaluations_it_lacks(tmp_path):
    """A run trained for an experiment without transfer evaluations is reused by one with
    them: its saved weights are evaluated at the finer grids, not left without numbers."""
    import dataclasses

    from kinnsci.reproduce import get_experiment, run_experiment

    full = get_experiment("resolution-transfer").plan("smoke", seeds=1, lrs=(1e-3,))
    plan = dataclasses.replace(full, variants=(full.variant("fno"),), claims=())
    quiet = {"progress": False, "log": lambda s: None}
    first = run_experiment(dataclasses.replace(plan, transfer=(), experiment="plain"),
                           tmp_path, **quiet)
    assert not any("rel_l2@32" in r["test"] for r in first["runs"])
    second = run_experiment(plan, tmp_path, **quiet)
    assert {r["id"] for r in second["runs"]} == {r["id"] for r in first["runs"]}  # kept
    for run in second["runs"]:
        assert run["test"]["rel_l2@32"] > 0 and run["test"]["rel_l2@64"] > 0


def test_transfer_claims_are_judged_at_the_validation_choice():
    """rel_l2@SIZE has no validation value: its claims use the plan's own selection
    metric, never an arbitrary first grid point."""
    from kinnsci.reproduce import get_experiment
    from kinnsci.reproduce.runner import selection_metrics

    plan = get_experiment("resolution-transfer").plan("small")
    assert selection_metrics(plan) == ("rel_l2",)
