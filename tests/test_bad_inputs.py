"""Bad input gets one clear line (exit 2), and no file a user already has is changed.

Each case names the command line, a phrase the error must contain, and the behaviour it
pins. The folder the command writes into holds a file of the user's beforehand; it must be
byte-for-byte the same afterwards, and nothing else may appear there.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr

from kinnsci.cli.main import main
from kinnsci.data import generate
from kinnsci.data.generators import get_generator


def run_refused(argv: list[str], message: str, folder, capsys) -> str:
    """Run ``kinnsci argv``; assert exit 2, ``message`` in stderr, no traceback, and that
    ``folder`` holds exactly what it held before."""
    def snapshot():
        return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
                for p in folder.rglob("*")}

    before = snapshot()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, f"exit {code}; stderr: {err}"
    assert message in err, err
    assert "Traceback" not in err
    assert snapshot() == before
    return err


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "keep.nc").write_bytes(b"the user's own file")
    return tmp_path


GENERATE_CASES = [
    # (generator, --param list or extra flags, message)
    ("navier_stokes", ["--param", "nu=-1e-3"], "nu must be > 0"),
    ("navier_stokes", ["--param", "nu=0"], "nu must be > 0"),
    ("navier_stokes", ["--param", "nu=abc"], "nu must be a number"),
    ("navier_stokes", ["--param", "dt_save=0"], "dt_save must be > 0"),
    ("navier_stokes", ["--param", "n_times=0"], "n_times must be >= 1"),
    ("navier_stokes", ["--param", "n_times=2.5"], "n_times must be an integer"),
    ("navier_stokes", ["--param", "dt=0.3"], "dt must be a divisor of dt_save"),
    ("navier_stokes", ["--param", "dt=2"], "dt must be > 0 and <= dt_save"),
    ("navier_stokes", ["--param", "forced=maybe"], "forced must be true or false"),
    ("shallow_water", ["--param", "g=-1"], "g must be > 0"),
    ("shallow_water", ["--param", "h_out=-0.5"], "h_out must be > 0"),
    ("shallow_water", ["--param", "h_in=0"], "h_in must be > 0"),
    ("shallow_water", ["--param", "n_times=0"], "n_times must be >= 2"),
    ("shallow_water", ["--param", "t_end=0"], "t_end must be > 0"),
    ("shallow_water", ["--param", "cfl=0.9"], "cfl must be in (0, 0.5]"),
    ("shallow_water", ["--param", "radius_min=0.8"], "radius_min must be > 0 and <="),
    ("shallow_water", ["--param", "radius_max=3"], "radius_max must be < domain_half_width"),
    ("shallow_water", ["--param", "boundary=open"], "boundary must be one of"),
    ("darcy", ["--param", "a_low=-3"], "a_low must be > 0"),
    ("darcy", ["--param", "tau=0"], "tau must be > 0"),
    ("darcy", ["--param", "a_high=twelve"], "a_high must be a number"),
    ("poisson", ["--param", "alpha=-1"], "alpha must be > 0"),
    ("darcy", ["--param", "depth=3"], "unknown parameter(s) ['depth']"),
    ("darcy", ["--param", "a_high"], "--param expects NAME=VALUE"),
    ("darcy", ["--n-samples", "0"], "n_samples must be a positive integer, got 0"),
    ("darcy", ["--n-samples", "-4"], "n_samples must be a positive integer, got -4"),
    ("darcy", ["--resolution", "0"], "resolution must be an integer >= 8"),
    ("darcy", ["--resolution", "4"], "resolution must be an integer >= 8"),
]


@pytest.mark.parametrize(("generator", "extra", "message"), GENERATE_CASES)
def test_generate_refuses_nonphysical_or_malformed_parameters(generator, extra, message,
                                                              workdir, capsys):
    argv = ["generate", generator, "--n-samples", "2", "--resolution", "16", "--out",
            str(workdir / "new.nc"), "--no-progress"]
    # later flags win in argparse, so extra --n-samples/--resolution replace the defaults
    run_refused(argv + extra, message, workdir, capsys)


@pytest.mark.parametrize(("flag", "message"), [
    ("--n-samples", "n_samples must be a positive integer, got 0"),
    ("--resolution", "resolution must be an integer >= 8"),
])
def test_command_line_zero_beats_the_recipe(flag, message, workdir, capsys):
    recipe = workdir / "recipe.yaml"
    recipe.write_text("generator: darcy\nn_samples: 4\nresolution: 16\n"
                      f"out: {workdir / 'new.nc'}\n")
    run_refused(["generate", "--config", str(recipe), flag, "0", "--no-progress"], message,
                workdir, capsys)


def test_generate_refuses_an_existing_file(workdir, capsys):
    err = run_refused(["generate", "darcy", "--n-samples", "2", "--resolution", "16", "--out",
                       str(workdir / "keep.nc"), "--no-progress"], "already exists", workdir,
                      capsys)
    assert "pass --overwrite to replace it" in err and "overwrite=True" not in err


@pytest.mark.parametrize(("argv", "flags", "not_offered"), [
    (["quickstart", "--epochs", "1", "--no-progress"], "pass --overwrite to replace them",
     "--resume"),
    (["train", "--model", "fno", "--data", "x.nc", "--inputs", "a", "--targets", "u",
      "--no-progress"], "--resume OUT/last.pt to continue", "resume="),
    (["reproduce", "darcy", "--scale", "smoke", "--no-progress"], "pass --resume to continue",
     "resume=True"),
])
def test_an_existing_output_is_described_with_the_flags_of_the_command(argv, flags,
                                                                       not_offered, workdir,
                                                                       capsys):
    """Each command offers its own flags: quickstart has no --resume, the library's
    Python wording (overwrite=True, resume=...) never reaches the command line."""
    out = workdir / "results"
    out.mkdir()
    (out / "darcy").mkdir()
    (out / "darcy" / "results.json").write_text("{}")
    (out / "metrics.json").write_text("{}")
    err = run_refused(argv + ["--out", str(out)], flags, workdir, capsys)
    assert not_offered not in err and "overwrite=True" not in err


def test_integer_parameters_of_real_physics_are_floats(tmp_path):
    """--param a_high=12 --param a_low=3 used to make an int64 coefficient and u == 0."""
    path = generate("darcy", tmp_path / "d.nc", n_samples=2, resolution=16, progress=False,
                    a_high=12, a_low=3)
    reference = generate("darcy", tmp_path / "f.nc", n_samples=2, resolution=16,
                         progress=False, a_high=12.0, a_low=3.0)
    with xr.open_dataset(path) as ds, xr.open_dataset(reference) as ref:
        assert ds["a"].dtype.kind == "f" and ds["u"].dtype.kind == "f"
        assert float(abs(ds["u"]).max()) > 0
        xr.testing.assert_identical(ds[["a", "u"]], ref[["a", "u"]])


def test_parameter_checks_run_before_the_simulation(monkeypatch):
    generator = get_generator("navier_stokes")

    def fail(*args, **kwargs):
        raise AssertionError("simulated despite a bad parameter")

    monkeypatch.setattr(generator, "simulate", fail)
    with pytest.raises(ValueError, match="nu must be > 0"):
        generator(2, 16, nu=-1.0)


# --- training on data that would give a silently wrong model ---------------------------------
TRAIN = ["--model", "fno", "--model-config", '{"hidden_channels": 8, "n_modes": [8, 7]}',
         "--epochs", "1",
         "--batch-size", "4", "--no-progress"]


@pytest.fixture(scope="module")
def darcy_file(tmp_path_factory):
    return generate("darcy", tmp_path_factory.mktemp("d") / "darcy.nc", n_samples=10,
                    resolution=16, progress=False)


@pytest.fixture(scope="module")
def ns_file(tmp_path_factory):
    return generate("navier_stokes", tmp_path_factory.mktemp("n") / "ns.nc", n_samples=10,
                    resolution=16, progress=False, n_times=6, dt=0.01)


def with_value(source, target, variable, index, value):
    """A copy of ``source`` with ``variable[index] = value``."""
    with xr.open_dataset(source) as ds:
        ds = ds.load()
    data = ds[variable].values.copy()
    data[index] = value
    ds[variable] = (ds[variable].dims, data, ds[variable].attrs)
    ds.to_netcdf(target)
    return target


def steady(data, out):
    return ["train", "--data", str(data), "--inputs", "a", "--targets", "u", "--out", str(out),
            *TRAIN]


def test_one_sample_is_not_evaluated_on_its_own_training_sample(darcy_file, workdir, capsys):
    with xr.open_dataset(darcy_file) as ds:
        ds.isel(sample=[0]).load().to_netcdf(workdir / "one.nc")
    err = run_refused(steady(workdir / "one.nc", workdir / "run"),
                      "leaves the val and test split(s) empty", workdir, capsys)
    assert "evaluates on the validation split" in err
    assert "use at least 8 samples" in err
    from kinnsci.data import split_samples

    assert all(len(split_samples(8, (0.8, 0.1, 0.1))[k]) for k in ("train", "val", "test"))
    assert not len(split_samples(7, (0.8, 0.1, 0.1))["test"])


def test_a_split_without_training_samples_is_refused():
    from kinnsci.data import DataError
    from kinnsci.train.run import check_split_sizes

    with pytest.raises(DataError, match="gives no samples to training"):
        check_split_sizes((0.0, 0.5, 0.5), {"train": [], "val": [0], "test": [1]}, "f.nc")


def test_an_empty_validation_split_only_warns(darcy_file, tmp_path):
    from kinnsci.train.run import check_split_sizes

    with pytest.warns(UserWarning, match="without validation metrics"):
        check_split_sizes((0.8, 0.1, 0.1), {"train": [0, 1, 2], "val": [], "test": [3]},
                          "f.nc")


def test_no_split_to_evaluate_on_is_refused_before_training(darcy_file, workdir, tmp_path,
                                                             capsys):
    import yaml

    config = tmp_path.parent / f"{tmp_path.name}-run.yaml"  # outside the watched folder
    config.write_text(yaml.safe_dump({
        "data": str(darcy_file), "model": "fno", "inputs": ["a"], "targets": ["u"],
        "out": str(workdir / "run"), "model_config": {"hidden_channels": 8, "n_modes": [8, 7]},
        "epochs": 1,
        "split": [1.0, 0.0, 0.0]}))
    run_refused(["train", "--config", str(config), "--no-progress"],
                "neither a test nor a validation split", workdir, capsys)


@pytest.mark.parametrize(("index", "value", "where"), [
    ((3, 5, 7), np.inf, "sample 3"),
    ((8, 0, 0), np.nan, "sample 8"),
    ((0, 15, 15), -np.inf, "sample 0"),
])
def test_nan_or_inf_anywhere_is_refused_before_the_first_epoch(darcy_file, workdir, capsys,
                                                                index, value, where):
    bad = with_value(darcy_file, workdir / "bad.nc", "u", index, value)
    err = run_refused(steady(bad, workdir / "run"), "has NaN/inf at", workdir, capsys)
    assert where in err and "'u'" in err


def test_normalizer_refuses_non_finite_statistics(darcy_file, tmp_path):
    from kinnsci.data import DataError, Normalizer

    bad = with_value(darcy_file, tmp_path / "bad.nc", "a", (2, 1, 1), np.inf)
    with xr.open_dataset(bad) as ds, pytest.raises(DataError, match=r"\['a'\] hold NaN/inf"):
        Normalizer.fit(ds, ["a"], [0, 1, 2])


def test_too_long_rollout_is_refused_before_training(ns_file, workdir, capsys):
    argv = ["train", "--data", str(ns_file), "--variables", "w", "--history", "2",
            "--rollout", "5", "--out", str(workdir / "run"), *TRAIN]
    run_refused(argv, "pass at most --rollout 4", workdir, capsys)


@pytest.mark.parametrize(("change", "message"), [
    (["--model-config", '{"hidden_channels": 12, "n_modes": [8, 7]}'],
     "model_config: {'hidden_channels': 8"),
    (["--inputs", "u", "--targets", "a"], "inputs: ['a'] in the checkpoint, ['u'] now"),
    (["--normalizer", "minmax"], "normalizer: 'gaussian' in the checkpoint"),
    # the split is drawn with the seed: another seed would put test samples in training
    (["--seed", "3"], "split_seed: 0 in the checkpoint, 3 now"),
])
def test_resume_from_another_run_is_refused(darcy_file, tmp_path, capsys, change, message):
    first = tmp_path / "first"
    assert main(steady(darcy_file, first)) == 0
    capsys.readouterr()
    workdir = tmp_path / "second"
    workdir.mkdir()
    argv = steady(darcy_file, workdir / "run") + change + ["--resume", str(first / "last.pt")]
    err = run_refused(argv, "belongs to another run", workdir, capsys)
    assert message in err and "size mismatch" not in err


# --- files that cannot be read, paths that cannot be written ----------------------------------
@pytest.mark.parametrize("fmt", ["NETCDF4", "NETCDF3_64BIT"])
def test_truncated_files_are_named_as_such(darcy_file, workdir, capsys, fmt):
    whole = workdir.parent / f"{workdir.name}-whole.nc"
    with xr.open_dataset(darcy_file) as ds:
        ds.load().to_netcdf(whole, format=fmt)
    cut = workdir.parent / f"{workdir.name}-cut.nc"
    cut.write_bytes(whole.read_bytes()[:2000])
    run_refused(steady(cut, workdir / "run"), "it may be truncated", workdir, capsys)


@pytest.mark.parametrize(("extra", "message"), [
    (["--device", "cuda"], "needs CUDA"),
    (["--model-config", '{"in_channels": 3}'], "model_config sets ['in_channels']"),
    (["--model-config", '{"hidden_channels": 8, "n_modes": [8, 7], "out_channels": 2}'],
     "model_config sets ['out_channels']"),
])
def test_settings_a_run_cannot_honour(darcy_file, workdir, capsys, extra, message):
    if "cuda" in extra:
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
    run_refused(steady(darcy_file, workdir / "run") + extra, message, workdir, capsys)


def test_rollout_of_zero_or_fewer_steps(ns_file, workdir, capsys):
    argv = ["train", "--data", str(ns_file), "--variables", "w", "--history", "2",
            "--rollout", "-1", "--out", str(workdir / "run"), *TRAIN]
    run_refused(argv, "rollout_steps must be a positive number of steps, got -1", workdir,
                capsys)


def test_a_pickled_module_is_never_unpickled(darcy_file, workdir, capsys):
    import torch

    pickled = workdir.parent / f"{workdir.name}-module.pt"
    torch.save(torch.nn.Linear(2, 2), pickled)
    err = run_refused(["evaluate", str(pickled), "--data", str(darcy_file)],
                      "holds pickled Python objects", workdir, capsys)
    assert "weights_only" not in err  # one line, not torch's documentation


@pytest.mark.parametrize(("argv", "message"), [
    (lambda d, w: steady(d, w / "keep.nc"), "--out {w}/keep.nc is a file, not a folder"),
    (lambda d, w: steady(d, w / "keep.nc" / "run"), "{w}/keep.nc is a file, not a folder"),
    (lambda d, w: ["evaluate", str(w / "missing.pt"), "--data", str(d), "--json",
                   str(w / "keep.nc" / "m.json")], "keep.nc is a file, not a folder"),
    (lambda d, w: ["evaluate", str(w / "missing.pt"), "--data", str(d), "--plots",
                   str(w / "keep.nc")], "--plots {w}/keep.nc is a file, not a folder"),
    (lambda d, w: ["generate", "darcy", "--n-samples", "2", "--resolution", "16", "--out",
                   str(w / "keep.nc" / "x.nc")], "keep.nc is a file, not a folder"),
    (lambda d, w: ["generate", "darcy", "--n-samples", "2", "--resolution", "16", "--out",
                   str(w)], "is a folder; give the path of a file"),
    (lambda d, w: ["generate", "darcy", "--n-samples", "2", "--resolution", "16", "--out",
                   "/proc/kinnsci/x.nc"], "cannot be written: no write access to /proc"),
    (lambda d, w: ["reproduce", "darcy", "--scale", "smoke", "--out", str(w / "keep.nc")],
     "--out {w}/keep.nc is a file, not a folder"),
])
def test_output_paths_are_checked_before_any_work(darcy_file, workdir, capsys, argv,
                                                  message):
    run_refused(argv(darcy_file, workdir), message.format(w=workdir), workdir, capsys)


def test_written_files_get_the_umask_mode_or_keep_the_old_one(tmp_path):
    import os
    import stat

    from kinnsci._atomic import write_text_atomic

    old = os.umask(0o022)
    try:
        new = write_text_atomic(tmp_path / "new.json", "{}")
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        kept = tmp_path / "kept.json"
        kept.write_text("{}")
        kept.chmod(0o640)
        write_text_atomic(kept, "[]")
        assert stat.S_IMODE(kept.stat().st_mode) == 0o640 and kept.read_text() == "[]"
        nc = generate("darcy", tmp_path / "d.nc", n_samples=2, resolution=16, progress=False)
        assert stat.S_IMODE(nc.stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_overwrite_leaves_no_mix_of_old_and_new_run_files(darcy_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(steady(darcy_file, out)) == 0
    (out / "notes.txt").write_text("mine")
    # the new run fails before training: none of the old run's results may remain
    bad = with_value(darcy_file, tmp_path / "bad.nc", "u", (0, 0, 0), np.nan)
    assert main(steady(bad, out) + ["--overwrite"]) == 2
    capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


# --- configs ----------------------------------------------------------------------------------
def write_config(tmp_path, workdir, data, text):
    config = tmp_path.parent / f"{tmp_path.name}-run.yaml"  # outside the watched folder
    config.write_text(f"data: {data}\nmodel: fno\n"
                      "model_config: {hidden_channels: 8, n_modes: [8, 7]}\n"
                      f"inputs: [a]\ntargets: [u]\nout: {workdir / 'run'}\n" + text)
    return config


@pytest.mark.parametrize(("text", "message"), [
    ("epochs: ten\n", "epochs must be an integer, got 'ten'"),
    ("epochs: 2.5\n", "epochs must be an integer, got 2.5"),
    ("lr: fast\n", "lr must be a number, got 'fast'"),
    ("split: [0.8, x, 0.1]\n", "split[1] must be a number, got 'x'"),
    ("static_inputs: a\n", "static_inputs must be a list or null, got 'a'"),
    # a key written twice is refused, not silently the last one
    ("lr: 1e-3\nlr: 5\n", "key 'lr' is written twice (lines"),
    # numbers in range, from YAML as from flags; a negative clip norm is gradient ascent
    ("grad_clip: -1\n", "grad_clip must be a finite gradient norm > 0"),
    ("lr: .nan\n", "lr must be a finite learning rate > 0"),
    ("split: [0.5, 0.6, 0.1]\n", "split must be three fractions (train, val, test)"),
    ("weight_decay: -0.1\n", "weight_decay must be a finite number >= 0"),
    ("plots: maybe\n", "plots must be true or false, got 'maybe'"),
    ("epochs: [1\n", "is not valid YAML (line 8"),
    ("epoch: 3\n", "unknown key(s) ['epoch']"),
])
def test_config_values_are_checked_against_their_types(darcy_file, workdir, tmp_path, capsys,
                                                       text, message):
    config = write_config(tmp_path, workdir, darcy_file, text)
    err = run_refused(["train", "--config", str(config), "--no-progress"], message, workdir,
                      capsys)
    assert str(config) in err


def test_yaml_numbers_without_a_dot_are_numbers(darcy_file, workdir, tmp_path, capsys):
    """PyYAML reads `lr: 1e-3` as the string '1e-3'; the run must train at 0.001."""
    from kinnsci.train import load_checkpoint

    config = write_config(tmp_path, workdir, darcy_file, "lr: 1e-3\nepochs: 1\n")
    assert main(["train", "--config", str(config), "--no-progress"]) == 0
    capsys.readouterr()
    run = load_checkpoint(workdir / "run" / "final.pt")["extra"]["run"]
    assert run["lr"] == 0.001 and isinstance(run["lr"], float)


def test_recipe_yaml_syntax_error_names_the_line(workdir, tmp_path, capsys):
    recipe = tmp_path.parent / f"{tmp_path.name}-recipe.yaml"
    recipe.write_text("generator: darcy\nn_samples: [4\n")
    run_refused(["generate", "--config", str(recipe)], "is not valid YAML (line 3", workdir,
                capsys)


# --- time axes ----------------------------------------------------------------------------
def _trajectories(times):
    w = np.random.default_rng(0).random((2, len(times), 8, 8))
    return xr.Dataset({"w": (("sample", "time", "y", "x"), w)}, coords={"time": times})


@pytest.mark.parametrize("calendar", ["noleap", "360_day", "standard"])
def test_cftime_time_axes_work(calendar):
    import warnings

    import cftime

    from kinnsci.data import RolloutDataset

    times = cftime.num2date(np.arange(6.0), "days since 2001-02-27", calendar=calendar)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # even daily steps: no warning
        data = RolloutDataset(_trajectories(times), ["w"], history=2)
    assert len(data) == 2 * 4


def test_uneven_time_steps_are_reported():
    from kinnsci.data import RolloutDataset

    times = np.array(["2000-01-01", "2000-01-02", "2000-01-03", "2000-01-05"],
                     dtype="datetime64[ns]")
    with pytest.warns(UserWarning, match="uneven steps \\(step 2 is 172800 s"):
        RolloutDataset(_trajectories(times), ["w"], history=2)


def test_a_time_axis_of_text_is_an_error():
    from kinnsci.data import DataError, RolloutDataset

    with pytest.raises(DataError, match="neither numbers nor dates"):
        RolloutDataset(_trajectories(np.array(["a", "b", "c", "d"], dtype=object)), ["w"],
                       history=2)


# --- missing values in files other tools wrote -------------------------------------------------
@pytest.fixture(params=["NETCDF3_CLASSIC", "NETCDF4"])
def netcdf3_with_gaps(tmp_path, request):
    """A netCDF file whose `u` has unwritten records (netCDF's default fill 9.97e36, no
    attribute says so) and whose `t` has a value outside its valid_range."""
    import netCDF4

    rng = np.random.default_rng(0)
    path = tmp_path / "gaps.nc"
    with netCDF4.Dataset(path, "w", format=request.param) as nc:
        nc.createDimension("sample", None)
        nc.createDimension("y", 8)
        nc.createDimension("x", 8)
        for name in ("a", "u", "t"):
            nc.createVariable(name, "f4", ("sample", "y", "x"))
        nc["t"].valid_range = np.array([0.0, 10.0], "f4")
        nc["a"][0:10] = rng.random((10, 8, 8))
        nc["u"][0:7] = rng.random((7, 8, 8))  # records 7, 8, 9 are never written
        t = rng.random((10, 8, 8)).astype("f4")
        t[5, 2, 3] = 50.0
        nc["t"][0:10] = t
    return path


@pytest.mark.parametrize("path_kind", ["engine's own reader", "xarray/dask reader"])
@pytest.mark.parametrize(("variable", "where"), [("u", "sample 7, (row, column) = (0, 0)"),
                                                 ("t", "sample 5, (row, column) = (2, 3)")])
def test_fill_values_and_invalid_values_are_missing_on_both_read_paths(
        netcdf3_with_gaps, path_kind, variable, where):
    from kinnsci.data import DataError, OperatorDataset, open_dataset
    from kinnsci.data.direct import _NetCDF4Variable
    from kinnsci.data.open import file_format

    ds = open_dataset(netcdf3_with_gaps)
    if path_kind == "xarray/dask reader":
        ds = ds.isel(sample=slice(0, 9))  # a slice: no longer the file's own variable
    data = OperatorDataset(ds, ["a"], [variable])
    plan = data.targets._plans[0]
    if path_kind == "xarray/dask reader":
        assert plan is None
    elif file_format(netcdf3_with_gaps) == "hdf5":  # netCDF-4: read straight through netCDF4
        assert isinstance(plan.parts[0][0], _NetCDF4Variable)
    with pytest.raises(DataError, match=rf"'{variable}'.*NaN/inf at {re.escape(where)}.*"
                                        r"drop_isel"):
        data.check_finite()


def test_normalizer_ignores_fill_values_like_the_readers(netcdf3_with_gaps):
    import netCDF4

    from kinnsci.data import Normalizer, open_dataset

    with netCDF4.Dataset(netcdf3_with_gaps) as nc:  # netCDF4 masks what it knows is missing
        u, t = nc["u"][:], nc["t"][:]
    fitted = Normalizer.fit(open_dataset(netcdf3_with_gaps), ["u", "t"], list(range(10)))
    np.testing.assert_allclose(fitted.shift.numpy(), [u.mean(), t.mean()], rtol=1e-6)


def test_the_suggested_fix_works_on_a_lazy_dataset(netcdf3_with_gaps):
    from kinnsci.data import DataError, OperatorDataset, open_dataset

    ds = open_dataset(netcdf3_with_gaps)
    for _ in range(4):  # apply the message's own fix until no sample is missing values
        try:
            OperatorDataset(ds, ["a"], ["u", "t"]).check_finite()
            break
        except DataError as exc:
            fix = str(exc).split("leave the sample out lazily: ")[1]
            namespace = {"ds": ds}
            exec(fix, namespace)  # the test runs the message's code; user files never are
            ds = namespace["ds"]
    assert ds.sizes["sample"] == 6
    OperatorDataset(ds, ["a"], ["u", "t"]).check_finite()


# --- which errors become one line: the KinnsciError hierarchy -------------------------------
def test_every_user_error_class_is_a_kinnsci_error_and_keeps_its_builtin_base():
    from kinnsci import errors
    from kinnsci.data import DataError as data_error
    from kinnsci.reproduce import ResultsError
    from kinnsci.train import CheckpointError as checkpoint_error
    from kinnsci.train import NonFiniteLossError

    builtin = {errors.ConfigError: ValueError, errors.DataError: ValueError,
               errors.CheckpointError: ValueError, errors.OutputExistsError: FileExistsError,
               errors.InputNotFoundError: FileNotFoundError,
               errors.TrainingError: RuntimeError}
    for cls, base in builtin.items():
        assert issubclass(cls, errors.KinnsciError) and issubclass(cls, base), cls
    # the names users imported before 0.2 are the same classes
    assert data_error is errors.DataError and checkpoint_error is errors.CheckpointError
    assert issubclass(ResultsError, errors.DataError)
    assert issubclass(NonFiniteLossError, errors.TrainingError)


@pytest.mark.parametrize(("call", "expected"), [
    (lambda p: generate("navier_stokes", p / "a.nc", n_samples=1, resolution=16, nu=-1.0),
     "ConfigError"),
    (lambda p: generate("darcy", p / "keep.nc", n_samples=1, resolution=16),
     "OutputExistsError"),
    (lambda p: __import__("kinnsci.data", fromlist=["open_dataset"]).open_dataset(
        p / "missing.nc"), "InputNotFoundError"),
    (lambda p: __import__("kinnsci.data", fromlist=["open_dataset"]).open_dataset(
        p / "keep.nc"), "DataError"),
    (lambda p: __import__("kinnsci.train", fromlist=["load_checkpoint"]).load_checkpoint(
        p / "keep.nc"), "CheckpointError"),
    (lambda p: __import__("kinnsci.models", fromlist=["get_model"]).get_model(
        "fno", depth=3), "ConfigError"),
])
def test_user_errors_raise_the_matching_kinnsci_error(call, expected, workdir):
    from kinnsci import errors

    with pytest.raises(errors.KinnsciError) as info:
        call(workdir)
    assert expected in [c.__name__ for c in type(info.value).__mro__], type(info.value)


def test_a_bug_keeps_its_traceback_while_a_user_error_is_one_line(workdir, monkeypatch,
                                                                  capsys):
    """Only KinnsciError becomes ``error: ...``; a plain ValueError from a bug propagates."""
    import kinnsci.data
    from kinnsci.errors import DataError

    argv = ["generate", "darcy", "--n-samples", "2", "--resolution", "16", "--out",
            str(workdir / "new.nc"), "--no-progress"]

    def bug(*args, **kwargs):
        raise ValueError("an internal bug")

    monkeypatch.setattr(kinnsci.data, "generate", bug)
    with pytest.raises(ValueError, match="an internal bug"):
        main(argv)

    def user_problem(*args, **kwargs):
        raise DataError("the user's file is bad")

    monkeypatch.setattr(kinnsci.data, "generate", user_problem)
    run_refused(argv, "kinnsci generate: error: the user's file is bad", workdir, capsys)


# --- sizes: a data set that cannot fit is refused before any work ---------------------------
def test_generate_refuses_a_data_set_larger_than_memory_with_the_numbers(workdir, capsys,
                                                                         monkeypatch):
    """The shipped shallow_water_128 recipe holds 39.7 GB of float64 fields: on a machine
    with 8 GB available it must stop at once, saying how much it needs."""
    from kinnsci.data.generators import size

    monkeypatch.setattr(size, "available_memory", lambda: 8 * 10**9)
    t0 = __import__("time").perf_counter()
    err = run_refused(["generate", "--config", "datasets/shallow_water_128.yaml", "--out",
                       str(workdir / "sw.nc"), "--no-progress"],
                      "holds 39.71 GB of fields and needs about 178.72 GB of memory", workdir,
                      capsys)
    assert "8.00 GB are available" in err and "--seed" in err
    assert __import__("time").perf_counter() - t0 < 5  # refused before simulating


def test_generate_refuses_a_file_larger_than_the_free_disk(workdir, capsys, monkeypatch):
    from kinnsci.data.generators import size

    monkeypatch.setattr(size, "free_disk", lambda path: 10**6)
    # 64 samples x 2 fields x 64^2 float64 = 4.19 MB of fields, 0.41 of it on disk
    run_refused(["generate", "darcy", "--n-samples", "64", "--resolution", "64", "--out",
                 str(workdir / "d.nc"), "--no-progress"],
                "file will take about 1.7 MB but the disk of", workdir, capsys)


def test_size_estimate_matches_the_fields_a_generator_writes(tmp_path):
    """``nbytes`` is what the file's data variables hold as float64, for every generator."""
    from kinnsci.data.generators import GENERATORS

    small = {"navier_stokes": {"n_times": 3, "dt_save": 0.01, "dt": 0.005},
             "shallow_water": {"n_times": 3, "t_end": 0.05}}
    for name, cls in GENERATORS.items():
        gen = cls()
        params = small.get(name, {})
        ds = gen(2, 16, progress=False, **params)
        full = gen.checked_parameters(2, 16, params)
        assert gen.nbytes(2, 16, full) == sum(8 * v.size for v in ds.data_vars.values()), name
        assert len(ds.data_vars) == gen.n_fields, name


def test_under_torchrun_the_one_line_error_is_the_failure_reports_root_cause(
        workdir, capsys, monkeypatch):
    """torchrun prints a long failure report after a worker exits 2; the worker's error
    file (TORCHELASTIC_ERROR_FILE) puts kinnsci's one line in it as the root cause."""
    import json

    error_file = workdir.parent / "error.json"
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(error_file))
    err = run_refused(["generate", "darcy", "--n-samples", "2", "--resolution", "16",
                       "--out", str(workdir / "keep.nc"), "--no-progress"], "already exists",
                      workdir, capsys)
    recorded = json.loads(error_file.read_text())
    assert recorded["message"] == err.strip() and int(recorded["timestamp"]) > 0


# --- the 0.2 vocabulary and the scan backends: refusals that name the fix ----------------
def _scan_inputs():
    import torch

    return (torch.randn(1, 4, 2), torch.rand(1, 4, 2) + 0.1, -torch.rand(2, 3),
            torch.randn(1, 4, 3), torch.randn(1, 4, 3))


@pytest.mark.parametrize(("call", "message"), [
    (lambda: __import__("kinnsci.models", fromlist=["FNO"]).FNO(width=4, hidden_channels=4),
     r"FNO got both width= \(deprecated\) and hidden_channels=; pass only hidden_channels="),
    (lambda: __import__("kinnsci.models", fromlist=["FNO"]).FNO(n_modes=(4, 4, 4)),
     r"n_modes must be an int or \(modes_y, modes_x\)"),
    (lambda: __import__("kinnsci.discretize", fromlist=["Adaptive"]).Adaptive(method="rk5"),
     r"method must be one of torchdiffeq's .*got 'rk5'"),
    (lambda: __import__("kinnsci.scan", fromlist=["selective_scan"]).selective_scan(
        *_scan_inputs(), backend="cuda"), r"backend must be one of \('auto', 'cpp', "),
    (lambda: __import__("kinnsci.scan", fromlist=["selective_scan"]).selective_scan(
        *_scan_inputs(), discretizer="adaptive", backend="cpp"),
     r"backend='cpp' cannot run this scan: it implements exactly .* use backend='pytorch'"),
    (lambda: __import__("kinnsci.cells", fromlist=["get_cell"]).get_cell(
        "kirchhoff_node", channels=2)(0.0, __import__("torch").zeros(1, 2)),
     r"has 2 inputs: call it as cell\(t, h, u\)"),
    (lambda: __import__("kinnsci.data", fromlist=["open_dataset"]).open_dataset(
        "any.nc", engine="netcdf5"),
     r"engine 'netcdf5' is not an installed xarray engine; installed: .*netcdf4.*"
     r"BackendEntrypoint class"),
    (lambda: __import__("kinnsci.data", fromlist=["InputLayout"]).InputLayout(
        (("states", 2),)).split(__import__("torch").zeros(1, 3, 4, 4)),
     r"inputs have 3 channels on axis 1; the layout \{'states': 2\} has 2"),
    (lambda: __import__("kinnsci.models", fromlist=["load_model"]).load_model(
        __import__("tempfile").mkdtemp()),
     r"is a folder without final.pt, best.pt, last.pt \(it holds no .pt file\)"),
])
def test_new_api_refusals_name_the_problem_and_the_fix(call, message):
    from kinnsci.errors import KinnsciError

    with pytest.raises(KinnsciError, match=message):
        call()


# --- one writer per output, nothing written by a refused run -----------------------------
def test_a_second_generate_into_an_output_being_written_refuses(workdir, capsys):
    from kinnsci._lock import output_lock

    out = workdir / "busy.nc"
    with output_lock(out):  # another process would hold it while it simulates
        run_refused(["generate", "darcy", "--n-samples", "2", "--resolution", "8", "--out",
                     str(out)], "is being written by another kinnsci process", workdir,
                    capsys)
    assert not out.exists()
    assert main(["generate", "darcy", "--n-samples", "2", "--resolution", "8", "--out",
                 str(out), "--no-progress"]) == 0  # the lock went with its holder


def test_a_second_train_into_a_folder_being_written_refuses(darcy_file, workdir, capsys):
    from kinnsci._lock import output_lock

    with output_lock(workdir / "run"):
        run_refused(steady(darcy_file, workdir / "run"),
                    "is being written by another kinnsci process", workdir, capsys)


def test_a_model_refusing_the_grid_writes_nothing_and_advises_a_value_it_takes(
        darcy_file, workdir, capsys):
    """16x16 grids: n_modes (24, 23) is refused before config.yaml is written, and the
    advised largest n_modes is accepted (it used to advise (17, 16), then refuse it)."""
    big = ["--model", "fno", "--model-config", '{"hidden_channels": 8, "n_modes": [24, 23]}']
    err = run_refused(steady(darcy_file, workdir / "run") + big, "keep fewer modes",
                      workdir, capsys)
    advised = err.split("n_modes <= ")[1].split(")")[0] + ")"
    y, x = (int(v) for v in advised.strip("()").split(","))
    ok = ["--model", "fno", "--model-config",
          f'{{"hidden_channels": 8, "n_modes": [{y}, {x}]}}']
    assert main(steady(darcy_file, workdir / "run") + ok) == 0


def test_an_hdf5_file_of_float16_opens_instead_of_crashing(workdir):
    """netCDF-C segfaults on h5netcdf's float16 variables: such files go to h5py. In a
    subprocess, so a crash would fail the test rather than end the test run."""
    import subprocess
    import sys

    path = workdir / "half.nc"
    code = f"""
import h5netcdf, numpy as np
with h5netcdf.File({str(path)!r}, "w") as f:
    f.dimensions = {{"sample": 2, "y": 4, "x": 4}}
    for name in ("a", "u"):
        f.create_variable(name, ("sample", "y", "x"), dtype="f2")[:] = np.ones((2, 4, 4))
from kinnsci.data import OperatorDataset, open_dataset
data = OperatorDataset(open_dataset({str(path)!r}), ["a"], ["u"])
x, y = data[1]
print(float(y.sum()))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "16.0"


def test_messages_name_the_real_cause(workdir, capsys, darcy_file):
    import netCDF4
    import xarray as xr

    # a variable inside a netCDF group: say where the variables are, not "(none)"
    with netCDF4.Dataset(workdir / "grouped.nc", "w") as nc:
        group = nc.createGroup("model")
        group.createDimension("x", 3)
        group.createVariable("u", "f4", ("x",))[:] = 1.0
    run_refused(steady(workdir / "grouped.nc", workdir / "run"),
                "keeps variables in group(s) model", workdir, capsys)
    # a float64 value float32 cannot hold: say it overflows, not "NaN/inf"
    with xr.open_dataset(darcy_file) as ds:
        big = ds.load()
    big["u"][0, 1, 1] = 1e39
    big.to_netcdf(workdir / "big.nc")
    run_refused(steady(workdir / "big.nc", workdir / "run"), "holds 1e+39, which overflows "
                "float32", workdir, capsys)
    # a folder given as --config
    run_refused(["train", "--config", str(workdir)], "is a folder; pass the YAML/JSON file",
                workdir, capsys)


# --- physics in training, fine-tuning, tables ---------------------------------------------------
@pytest.fixture(scope="module")
def trained_darcy(darcy_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("trained") / "run"
    assert main(steady(darcy_file, out) + ["--no-plots"]) == 0
    return out / "final.pt"


@pytest.mark.parametrize(("extra", "message"), [
    (["--loss", "rel_l3"], "unknown term 'rel_l3'; terms: rel_l2, rel_l1, mse, h1, pde"),
    (["--loss", "rel_l2=1,pde=nan"], "the weight of pde must be a finite number >= 0"),
    (["--loss", "rel_l2=0"], "give at least one term a weight > 0"),
    (["--loss", "rel_l2=1,pde=1", "--loss-aggregator", "adam"],
     "loss_aggregator must be one of softadapt, relobralo"),
])
def test_bad_loss_settings_are_refused_before_training(darcy_file, workdir, capsys, extra,
                                                         message):
    run_refused(steady(darcy_file, workdir / "run") + extra, message, workdir, capsys)


def test_a_pde_loss_on_a_file_without_the_equations_attributes(darcy_file, workdir, capsys):
    with xr.open_dataset(darcy_file) as ds:
        ds = ds.load()
    del ds.attrs["param_forcing"]
    stripped = workdir.parent / "stripped.nc"
    ds.to_netcdf(stripped)
    run_refused(steady(stripped, workdir / "run") + ["--loss", "rel_l2=1,pde=1"],
                "needs the file attributes param_forcing", workdir, capsys)


@pytest.mark.parametrize(("extra", "message"), [
    (["--steps", "0"], "steps must be an integer >= 1, got 0"),
    (["--lr", "0"], "lr must be a finite learning rate > 0"),
    (["--lr", "nan"], "lr must be a finite learning rate > 0"),
])
def test_finetune_refuses_bad_settings(trained_darcy, darcy_file, workdir, capsys, extra,
                                       message):
    run_refused(["finetune", str(trained_darcy), "--data", str(darcy_file), "--out",
                 str(workdir / "ft"), *extra], message, workdir, capsys)


def test_finetune_never_writes_into_a_folder_that_holds_files(trained_darcy, darcy_file,
                                                              workdir, capsys):
    run_refused(["finetune", str(trained_darcy), "--data", str(darcy_file), "--out",
                 str(workdir)], "already holds files", workdir, capsys)


def test_a_table_with_text_in_a_column_is_refused(workdir, capsys):
    table = workdir.parent / "table.csv"
    table.write_text("a,b,y\n1,2,3\n4,five,6\n")
    run_refused(["reproduce", "kirchhoffnet", "--data", str(table), "--scale", "smoke",
                 "--out", str(workdir / "repro")],
                "column 'b' is not numeric (row 3 of the file holds 'five')", workdir, capsys)
