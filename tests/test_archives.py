"""The archives people already have: The Well, POSEIDON-style channels, Zarr, PDEBench and
multi-file sets. Files are written the way each archive's writer lays them out; values
are compared with a direct h5py/netCDF4/zarr read, and each format trains from the CLI."""

from __future__ import annotations

import json

import h5py
import netCDF4
import numpy as np
import pytest
import torch
import xarray as xr
from archives import write_poseidon, write_the_well

from kinnsci.cli.main import main
from kinnsci.data import RolloutDataset, open_dataset
from kinnsci.data.direct import plan_for
from kinnsci.data.formats.engines import PDEBenchBackendEntrypoint, TheWellBackendEntrypoint
from kinnsci.errors import ConfigError, DataError

zarr = pytest.importorskip("zarr")


def _yx(a: np.ndarray) -> np.ndarray:
    """The Well/POSEIDON store (…, x, y); kinnsci presents (…, y, x)."""
    return np.swapaxes(a, -1, -2)


def _train(tmp_path, data, *extra, name="run") -> dict:
    out = tmp_path / name
    argv = ["train", "--data", str(data), "--model", "fno", "--model-config",
            '{"hidden_channels": 8, "n_modes": [8, 7]}', "--epochs", "1", "--batch-size", "2",
            "--no-progress", "--out", str(out), *extra]
    assert main(argv) == 0
    assert (out / "final.pt").exists()
    return json.loads((out / "metrics.json").read_text())


# --- The Well ----------------------------------------------------------------------------

@pytest.mark.parametrize("opener", ["kinnsci", "xarray engine"])
def test_the_well_fields_equal_a_direct_h5py_read(tmp_path, opener):
    path = tmp_path / "toy_flow_00.hdf5"
    stored = write_the_well(path)
    ds = (open_dataset(path) if opener == "kinnsci" else
          xr.open_dataset(path, engine="the_well"))
    with h5py.File(path) as fh:  # the direct read, by the specification
        np.testing.assert_array_equal(ds["pressure"].values, _yx(fh["t0_fields/pressure"][()]))
        velocity = fh["t1_fields/velocity"][()]
        stress = fh["t2_fields/stress"][()]
    assert ds["pressure"].dims == ("sample", "time", "y", "x")
    np.testing.assert_array_equal(ds["velocity_x"].values, _yx(velocity[..., 0]))
    np.testing.assert_array_equal(ds["velocity_y"].values, _yx(velocity[..., 1]))
    # a symmetric tensor: its upper triangle only
    assert {"stress_xx", "stress_xy", "stress_yy"} <= set(ds.data_vars)
    assert "stress_yx" not in ds.data_vars
    np.testing.assert_array_equal(ds["stress_xy"].values, _yx(stress[..., 0, 1]))
    # not time_varying: a coefficient without a time dim
    assert ds["viscosity"].dims == ("sample", "y", "x")
    np.testing.assert_array_equal(ds["viscosity"].values, _yx(stored["viscosity"]))
    # not sample_varying: the same field for every sample
    for s in range(4):
        np.testing.assert_array_equal(ds["forcing"].values[s], _yx(stored["forcing"]))
    # not varying along y: repeated along y
    np.testing.assert_array_equal(ds["inflow"].values,
                                  np.repeat(stored["inflow"][:, :, None, :], 12, axis=2))
    np.testing.assert_array_equal(ds["energy"].values, stored["energy"])
    np.testing.assert_allclose(ds["time"].values, np.linspace(0, 1, 6), rtol=1e-6)
    np.testing.assert_allclose(ds["y"].values, np.linspace(0, 2, 12), rtol=1e-6)
    assert ds.attrs["Reynolds"] == 100.0 and ds.attrs["dataset_name"] == "toy_flow"
    assert ds.attrs["bc_x_periodic"] == "PERIODIC on x" and ds.attrs["bc_y_wall"] == "WALL on y"


def test_the_well_lazy_indexing_matches_numpy(tmp_path):
    """Outer indexing with unsorted and repeated indices, ints and steps, on every kind
    of stored/broadcast axis."""
    path = tmp_path / "w.hdf5"
    write_the_well(path)
    lazy = xr.open_dataset(path, engine="the_well")
    full = lazy.load()
    picks = {"sample": [3, 0, 0, 2], "time": slice(1, 6, 2), "y": 5, "x": [7, 1]}
    for name in ("pressure", "forcing", "inflow", "velocity_y", "viscosity", "energy"):
        reopened = xr.open_dataset(path, engine="the_well")[name]
        key = {d: v for d, v in picks.items() if d in reopened.dims}
        np.testing.assert_array_equal(reopened.isel(key).values, full[name].isel(key).values)


def test_the_well_windows_read_without_dask_equal_the_dask_read(tmp_path):
    path = tmp_path / "w.hdf5"
    write_the_well(path)
    ds = open_dataset(path)
    data = RolloutDataset(ds, ["pressure", "velocity_x"], history=2, horizon=1,
                          static_inputs=["viscosity"])
    assert all(p is not None for p in data.fields._plans)  # the fast path is taken
    reference = RolloutDataset(ds.chunk({"sample": 1}), ["pressure", "velocity_x"],
                               history=2, static_inputs=["viscosity"])
    assert all(p is None for p in reference.fields._plans)  # a transformed dataset is not
    batch = [7, 0, 13, 7, 2]
    for (x, y), (rx, ry) in zip(data.__getitems__(batch), reference.__getitems__(batch),
                                strict=True):
        torch.testing.assert_close(x, rx, rtol=0, atol=0)
        torch.testing.assert_close(y, ry, rtol=0, atol=0)


def test_the_well_train_valid_folders_train_from_the_cli(tmp_path):
    for split, seed in (("train", 0), ("train", 1), ("valid", 2)):
        (tmp_path / split).mkdir(exist_ok=True)
        write_the_well(tmp_path / split / f"toy_flow_{seed}.hdf5", seed=seed)
    ds = open_dataset(str(tmp_path / "train" / "*.hdf5"))
    assert ds.sizes["sample"] == 8
    metrics = _train(tmp_path, str(tmp_path / "train" / "*.hdf5"), "--variables", "pressure",
                     "velocity_x", "velocity_y", "--static-inputs", "viscosity", "--rollout", "3")
    assert np.isfinite(metrics["test"]["rel_l2"]) and len(metrics["rollout"]) == 3


def test_a_file_that_breaks_the_well_specification_is_refused(tmp_path):
    path = tmp_path / "bad.hdf5"
    write_the_well(path)
    with h5py.File(path, "a") as fh:  # says it varies in time, but has no time axis
        fh["t0_fields/viscosity"].attrs["time_varying"] = True
    with pytest.raises(DataError, match=r"viscosity has shape \(4, 16, 12\).*time_varying=True"):
        open_dataset(path)
    assert main(["train", "--data", str(path), "--variables", "pressure", "--out",
                 str(tmp_path / "run"), "--no-progress"]) == 2


def test_engines_are_registered_and_recognise_their_files(tmp_path):
    engines = xr.backends.list_engines()
    assert isinstance(engines["the_well"], TheWellBackendEntrypoint)
    assert isinstance(engines["pdebench"], PDEBenchBackendEntrypoint)
    write_the_well(tmp_path / "w.hdf5")
    with h5py.File(tmp_path / "darcy.hdf5", "w") as fh:
        fh["tensor"], fh["nu"] = np.zeros((2, 1, 4, 4)), np.ones((2, 4, 4))
    xr.Dataset({"u": ("x", np.zeros(3))}).to_netcdf(tmp_path / "plain.nc")
    assert engines["the_well"].guess_can_open(tmp_path / "w.hdf5")
    assert not engines["the_well"].guess_can_open(tmp_path / "darcy.hdf5")
    assert engines["pdebench"].guess_can_open(tmp_path / "darcy.hdf5")
    for name in ("the_well", "pdebench"):
        assert not engines[name].guess_can_open(tmp_path / "plain.nc")
        assert not engines[name].guess_can_open(tmp_path / "missing.hdf5")


def test_pdebench_engine_gives_what_open_dataset_gives(tmp_path):
    rng = np.random.default_rng(2)
    tensor, nu = rng.random((3, 1, 8, 6)), rng.random((3, 8, 6))
    path = tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5"
    with h5py.File(path, "w") as fh:
        fh["tensor"], fh["nu"] = tensor, nu
    ds = xr.open_dataset(path, engine="pdebench", drop_variables="nu")
    assert list(ds.data_vars) == ["u"]
    np.testing.assert_array_equal(ds["u"].values, _yx(tensor[:, 0]))
    xr.testing.assert_identical(ds["u"], open_dataset(path)["u"].compute())


# --- POSEIDON-style channels and static inputs --------------------------------------------

def test_channels_split_by_index_label_or_new_name(tmp_path):
    path = tmp_path / "CE-RP.nc"
    stored = write_poseidon(path)
    with netCDF4.Dataset(path) as nc:
        direct = nc["data"][:].data
    ds = open_dataset(path, channel_dim="channel", sample_dim="trajectory")
    assert [n for n in ds.data_vars if n.startswith("data")] == [f"data_{c}" for c in range(4)]
    for c in range(4):
        np.testing.assert_array_equal(ds[f"data_{c}"].values, direct[:, :, c])
    np.testing.assert_array_equal(ds["c"].values, stored["c"])
    named = open_dataset(path, channel_dim="channel", channels={"rho": 0, "p": 3})
    assert {"rho", "p", "c"} == set(named.data_vars)
    np.testing.assert_array_equal(named["p"].values, direct[:, :, 3])
    labelled = xr.open_dataset(path).assign_coords(channel=["rho", "u", "v", "p"])
    labelled.to_netcdf(tmp_path / "labelled.nc")
    picked = open_dataset(tmp_path / "labelled.nc", channel_dim="channel", channels=["v", 0])
    assert {"data_v", "data_rho", "c"} == set(picked.data_vars)
    np.testing.assert_array_equal(picked["data_v"].values, direct[:, :, 2])


@pytest.mark.parametrize("kwargs, match", [
    ({"channel_dim": "component"}, "no variable .* has a dimension 'component'"),
    ({"channel_dim": "channel", "channels": [4]}, "index 4 is out of range"),
    ({"channel_dim": "channel", "channels": ["rho"]}, "'rho' is neither an index"),
    ({"channels": [0]}, "pass channel_dim= too"),
])
def test_bad_channel_selections_are_refused(tmp_path, kwargs, match):
    write_poseidon(tmp_path / "d.nc")
    with pytest.raises((DataError, ConfigError), match=match):
        open_dataset(tmp_path / "d.nc", **kwargs)


def test_poseidon_channels_train_from_the_cli_with_a_static_coefficient(tmp_path):
    path = tmp_path / "Wave-Layer.nc"
    write_poseidon(path)
    metrics = _train(tmp_path, path, "--sample-dim", "trajectory", "--channel-dim", "channel",
                     "--channels", "0", "3", "--variables", "data_0", "data_3",
                     "--static-inputs", "c", "--history", "2", "--horizon", "2",
                     "--rollout", "2")  # unrolled: the static block is kept at each step
    assert np.isfinite(metrics["test"]["rel_l2"]) and len(metrics["rollout"]) == 2
    payload = torch.load(tmp_path / "run" / "final.pt", weights_only=True)
    assert payload["model"]["config"]["in_channels"] == 2 * 2 + 1  # k·V + S
    # evaluate reads the channels and the static input as the run did
    assert main(["evaluate", str(tmp_path / "run" / "final.pt"), "--data", str(path),
                 "--rollout", "2", "--json", str(tmp_path / "eval.json"), "--no-progress"]) == 0
    evaluated = json.loads((tmp_path / "eval.json").read_text())
    assert len(evaluated["rollout"]) == 2 and np.isfinite(evaluated["test"]["rel_l2"])


def test_static_inputs_enter_every_window_and_every_rollout_step(tmp_path):
    from kinnsci.train.rollouts import rollout

    path = tmp_path / "wave.nc"
    stored = write_poseidon(path)
    ds = open_dataset(path, channel_dim="channel").transpose("trajectory", "time", "y", "x")
    data = RolloutDataset(ds, ["data_0"], history=2, sample_dim="trajectory",
                          static_inputs=["c"])
    assert data.n_static == 1
    assert data.input_layout.groups == (("states", 2), ("static", 1))
    x, _ = data[data.windows_per_sample * 3 + 1]  # trajectory 3, window 1
    parts = data.input_layout.split(x, dim=0)  # named blocks, not channel positions
    np.testing.assert_array_equal(parts["static"][0].numpy(), _yx(stored["c"][3]))
    np.testing.assert_array_equal(parts["states"][0].numpy(), _yx(stored["data"][3, 1, 0]))
    assert torch.equal(data.input_layout.join(parts, dim=0), x)
    with pytest.raises(ValueError, match=r"inputs have 2 channels on axis 0; the layout"):
        data.input_layout.split(x[:2], dim=0)
    seen = []

    def model(inputs):
        seen.append(inputs[:, -1].clone())
        return inputs[:, :1]

    c = data.static_inputs(3)[None]
    rollout(model, x[None, :2], 3, 1, c)
    assert len(seen) == 3 and all(torch.equal(s, c[:, 0]) for s in seen)


def test_a_static_input_with_a_time_axis_is_refused(tmp_path):
    path = tmp_path / "d.nc"
    write_poseidon(path)
    code = main(["train", "--data", str(path), "--sample-dim", "trajectory", "--channel-dim",
                 "channel", "--variables", "data_0", "--static-inputs", "data_1", "--out",
                 str(tmp_path / "run"), "--no-progress"])
    assert code == 2 and not (tmp_path / "run").exists()


# --- Zarr ----------------------------------------------------------------------------------

def _zarr_store(tmp_path, kind):
    rng = np.random.default_rng(7)
    w = rng.random((8, 5, 8, 8)).astype(np.float32)
    ds = xr.Dataset({"w": (("sample", "time", "y", "x"), w)}, coords={"time": np.arange(5.0)})
    if kind == "zip":
        path = tmp_path / "w.zarr.zip"
        store = zarr.storage.ZipStore(path, mode="w")
        ds.to_zarr(store, zarr_format=3)
        store.close()
    else:
        path = tmp_path / f"w_v{kind}.zarr"
        ds.to_zarr(path, zarr_format=int(kind))
    return path, w


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("kind", ["2", "3", "zip"])
def test_zarr_stores_read_lazily_and_train(tmp_path, kind):
    path, w = _zarr_store(tmp_path, kind)
    ds = open_dataset(path)
    assert ds["w"].chunks is not None  # lazy, through dask
    if kind == "zip":
        group = zarr.open_group(zarr.storage.ZipStore(path, mode="r"), mode="r")
    else:
        group = zarr.open_group(path, mode="r")
    np.testing.assert_array_equal(ds["w"].values, group["w"][...])
    data = RolloutDataset(ds, ["w"], history=2)
    assert data.fields._plans[0] is not None
    x, y = data[5]  # sample 1, window 2
    np.testing.assert_array_equal(x.numpy(), w[1, 2:4])
    _train(tmp_path, path, "--variables", "w", "--history", "2")


def test_zarr_without_the_package_says_how_to_install_it(tmp_path, monkeypatch):
    import builtins

    path, _ = _zarr_store(tmp_path, "3")
    real_import = builtins.__import__

    def no_zarr(name, *args, **kwargs):
        if name == "zarr":
            raise ImportError("No module named 'zarr'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_zarr)
    with pytest.raises(DataError, match=r"pip install 'kinnsci\[zarr\]'"):
        open_dataset(path)


def test_a_folder_that_is_not_a_zarr_store_is_a_folder_of_files(tmp_path):
    path, w = _zarr_store(tmp_path, "2")
    ds = open_dataset(tmp_path)  # the folder holding the store
    np.testing.assert_array_equal(ds["w"].values, w)


# --- Multi-file sets -----------------------------------------------------------------------

def test_a_set_of_files_reads_across_file_boundaries_without_dask(tmp_path):
    rng = np.random.default_rng(3)
    w = rng.random((7, 6, 8, 8))
    for i, (lo, hi) in enumerate(((0, 3), (3, 4), (4, 7))):
        xr.Dataset({"w": (("sample", "time", "y", "x"), w[lo:hi])}).to_netcdf(
            tmp_path / f"part_{i}.nc")
    ds = open_dataset(str(tmp_path / "part_*.nc"))
    plan = plan_for(ds["w"].variable)
    assert plan is not None and len(plan.parts) == 3
    np.testing.assert_array_equal(plan.read((np.array([1, 3, 4, 6]), slice(2, 5))),
                                  w[[1, 3, 4, 6], 2:5])
    np.testing.assert_array_equal(plan.read((5,)), w[5])
    data = RolloutDataset(ds, ["w"], history=2)
    for (x, y), i in zip(data.__getitems__([0, 5, 9, 27]), [0, 5, 9, 27], strict=True):
        s, t = divmod(i, data.windows_per_sample)
        np.testing.assert_allclose(x.numpy(), w[s, t:t + 2], rtol=1e-6)
        np.testing.assert_allclose(y[0, 0].numpy(), w[s, t + 2], rtol=1e-6)
    assert plan_for(ds.isel(sample=[6, 0])["w"].variable) is None


class NpzEngine(xr.backends.BackendEntrypoint):
    """A third-party format, as a user would plug it in: numpy ``.npz`` files whose arrays
    are (sample, y, x) fields, read lazily through xarray's BackendArray."""

    description = "numpy .npz fields (a test's example plugin)"

    def open_dataset(self, filename_or_obj, *, drop_variables=None):
        arrays = np.load(filename_or_obj)
        data = {name: (("sample", "y", "x"), xr.core.indexing.LazilyIndexedArray(
            _NpzArray(arrays, name))) for name in arrays.files}
        return xr.Dataset(data)

    def guess_can_open(self, filename_or_obj):
        return str(filename_or_obj).endswith(".npz")


class _NpzArray(xr.backends.BackendArray):
    def __init__(self, arrays, name):
        self.arrays, self.name = arrays, name
        self.shape, self.dtype = arrays[name].shape, arrays[name].dtype

    def __getitem__(self, key):
        return xr.core.indexing.explicit_indexing_adapter(
            key, self.shape, xr.core.indexing.IndexingSupport.BASIC,
            lambda k: self.arrays[self.name][k])


def test_a_third_party_engine_reads_through_the_same_path(tmp_path, monkeypatch):
    """A user's format is an xarray engine: passed by class, or installed (its entry point
    lists it in ``xr.backends.list_engines``) and picked by its ``guess_can_open``; the
    datasets then read it like any other file, missing values checked."""
    from kinnsci.data import OperatorDataset
    from kinnsci.errors import DataError

    rng = np.random.default_rng(3)
    a, u = rng.random((6, 8, 8)), rng.random((6, 8, 8))
    np.savez(tmp_path / "fields.npz", a=a, u=u)
    by_class = OperatorDataset(open_dataset(tmp_path / "fields.npz", engine=NpzEngine),
                               ["a"], ["u"])
    x, y = zip(*by_class.__getitems__([4, 1]), strict=True)
    np.testing.assert_allclose(torch.stack(x)[:, 0].numpy(), a[[4, 1]], rtol=1e-6)
    np.testing.assert_allclose(torch.stack(y)[:, 0].numpy(), u[[4, 1]], rtol=1e-6)
    with pytest.raises(DataError, match="not a netCDF, HDF5 or Zarr file"):
        open_dataset(tmp_path / "fields.npz")  # not installed: the format error
    installed = {**xr.backends.list_engines(), "npz": NpzEngine()}
    monkeypatch.setattr(xr.backends, "list_engines", lambda: installed)
    guessed = open_dataset(tmp_path / "fields.npz")
    np.testing.assert_allclose(guessed["u"].values, u)
    u[2, 3, 4] = np.nan
    np.savez(tmp_path / "gap.npz", a=a, u=u)
    data = OperatorDataset(open_dataset(tmp_path / "gap.npz", engine=NpzEngine), ["a"], ["u"])
    with pytest.raises(DataError, match=r"'u'.*sample 2, \(row, column\) = \(3, 4\)"):
        data.check_finite()
