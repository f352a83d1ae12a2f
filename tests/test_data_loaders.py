"""Loaders on foreign files, PDEBench layouts, datasets, normalisers and bad input."""

from __future__ import annotations

from pathlib import Path

import h5py
import netCDF4
import numpy as np
import pytest
import torch
import xarray as xr
from torch.utils.data import DataLoader

from kinnsci.data import (
    DataError,
    Normalizer,
    OperatorDataset,
    RolloutDataset,
    generate,
    open_dataset,
    split_samples,
)
from kinnsci.errors import InputNotFoundError

FOREIGN = Path(__file__).parent / "data" / "foreign"


@pytest.fixture(scope="module")
def darcy_file(tmp_path_factory):
    return generate("darcy", tmp_path_factory.mktemp("d") / "darcy.nc", n_samples=10,
                    resolution=16, seed=3, progress=False)


@pytest.fixture(scope="module")
def ns_file(tmp_path_factory):
    return generate("navier_stokes", tmp_path_factory.mktemp("n") / "ns.nc", n_samples=3,
                    resolution=16, seed=3, n_times=7, dt_save=0.05, dt=1e-2, progress=False)


def test_reads_scipy_netcdf3_file_into_operator_pairs():
    ds = open_dataset(FOREIGN / "scipy_example_1.nc")
    data = OperatorDataset(ds, ["rh"], ["rh"], sample_dim="time", spatial_dims=("lat", "lon"))
    assert len(data) == 1 and data.spatial_shape == (5, 10)
    x, y = data[0]
    expected = xr.open_dataset(FOREIGN / "scipy_example_1.nc")["rh"].values[0]
    np.testing.assert_array_equal(x[0].numpy(), expected)
    assert torch.equal(x, y)


def test_never_written_records_of_a_foreign_file_are_missing_not_data():
    """scipy's example_1.nc declares `temp` but never writes it: every value is netCDF's
    default fill 9.97e36 (netCDF4 masks them all; xarray does not). Reading them as
    temperatures was a silently wrong result."""
    import netCDF4

    with netCDF4.Dataset(FOREIGN / "scipy_example_1.nc") as nc:
        assert nc["temp"][:].mask.all()
    ds = open_dataset(FOREIGN / "scipy_example_1.nc").isel(time=0)
    data = OperatorDataset(ds, ["temp"], ["temp"], sample_dim="level",
                           spatial_dims=("lat", "lon"))
    with pytest.raises(DataError, match=r"'temp'.*NaN/inf at sample 2.*drop_isel\(level="):
        data[2]


def test_reads_xarray_hdf5_file_and_selects_variables():
    ds = open_dataset(FOREIGN / "xarray_bears.nc", variables=["cross", "aloan"])
    assert set(ds.data_vars) == {"cross", "aloan"}
    data = OperatorDataset(ds, ["cross"], ["aloan"], sample_dim=None, spatial_dims=("i", "j"))
    x, y = data[0]
    np.testing.assert_allclose(x[0].numpy(), ds["cross"].values.astype(np.float32))
    np.testing.assert_allclose(y[0].numpy(), ds["aloan"].values)


def test_fill_values_in_a_foreign_file_are_reported_as_missing_data():
    ds = open_dataset(FOREIGN / "scipy_example_3_maskedvals.nc")
    data = OperatorDataset(ds, ["var7_2d"], ["var7_2d"], sample_dim=None,
                           spatial_dims=("dim1", "dim2"))
    with pytest.raises(DataError, match=r"var7_2d.*NaN/inf at sample 0, \(row, column\) = "
                                        r"\(0, 0\)"):
        data[0]


def test_pdebench_darcy_layout(tmp_path):
    rng = np.random.default_rng(0)
    tensor, nu = rng.random((3, 1, 8, 6)), rng.random((3, 8, 6))
    with h5py.File(tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5", "w") as fh:
        fh["tensor"], fh["nu"] = tensor, nu
        fh["x-coordinate"], fh["y-coordinate"] = np.linspace(0, 1, 8), np.linspace(0, 1, 6)
    ds = open_dataset(tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5")
    x, y = OperatorDataset(ds, ["nu"], ["u"])[1]
    np.testing.assert_allclose(x[0].numpy(), nu[1].T, rtol=1e-6)  # PDEBench (x, y) -> (y, x)
    np.testing.assert_allclose(y[0].numpy(), tensor[1, 0].T, rtol=1e-6)


def test_pdebench_per_seed_group_layout(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.random((2, 5, 8, 6, 1)).astype(np.float32)
    with h5py.File(tmp_path / "2D_rdb_NA_NA.h5", "w") as fh:
        for s in range(2):
            g = fh.create_group(f"{s:04d}")
            g["data"] = data[s]
            g["grid/x"], g["grid/y"] = np.arange(8.0), np.arange(6.0)
            g["grid/t"] = np.linspace(0, 1, 5)
    ds = open_dataset(tmp_path / "2D_rdb_NA_NA.h5")
    windows = RolloutDataset(ds, ["data"], history=2, horizon=1)
    assert len(windows) == 2 * 3
    x, y = windows[4]  # sample 1, window start 1
    np.testing.assert_array_equal(x.numpy(), data[1, 1:3, :, :, 0].transpose(0, 2, 1))
    np.testing.assert_array_equal(y[0, 0].numpy(), data[1, 3, :, :, 0].T)


def test_rollout_windows_match_the_file(ns_file):
    ds = open_dataset(ns_file)
    w = xr.open_dataset(ns_file)["w"].values
    data = RolloutDataset(ds, ["w"], history=3, horizon=2, samples=[0, 2])
    assert len(data) == 2 * 3
    x, y = data[4]  # sample 2, start 1
    np.testing.assert_allclose(x.numpy(), w[2, 1:4], rtol=1e-6)
    np.testing.assert_allclose(y[:, 0].numpy(), w[2, 4:6], rtol=1e-6)
    np.testing.assert_allclose(data.trajectory(1)[:, 0].numpy(), w[2], rtol=1e-6)


def test_batched_reads_match_single_reads_and_work_in_worker_processes(darcy_file):
    data = OperatorDataset(open_dataset(darcy_file), ["a"], ["u"], samples=[7, 1, 4, 8])
    batch = data.__getitems__([2, 0, 3])
    for (x, y), i in zip(batch, [2, 0, 3], strict=True):
        assert torch.equal(x, data[i][0]) and torch.equal(y, data[i][1])
    loader = DataLoader(data, batch_size=2, num_workers=2)
    xs = torch.cat([x for x, _ in loader])
    assert torch.equal(xs, torch.stack([data[i][0] for i in range(4)]))


@pytest.mark.parametrize("lazy", [False, True])
def test_rollout_batches_equal_single_windows_with_one_read_per_variable(ns_file, lazy,
                                                                         monkeypatch, tmp_path):
    """``RolloutDataset.__getitems__`` (what DataLoader calls) returns exactly the windows
    ``__getitem__`` does, for duplicates, negative indices and strides, reading each
    variable once per batch; windows far apart in time are read per sample instead."""
    ds = open_dataset(ns_file)
    if lazy:  # the xarray path (not the engine's own reader)
        ds = ds.isel(x=slice(None, None, -1))
    data = RolloutDataset(ds, ["w"], history=2, horizon=2, samples=[2, 0, 1], stride=1)
    assert (data.fields._plans[0] is None) == lazy
    reads = []
    real = data.fields._read_arrays
    monkeypatch.setattr(data.fields, "_read_arrays", lambda key: reads.append(key) or real(key))
    rng = np.random.default_rng(0)
    for indices in ([0], [5, 1, 5, -1], list(rng.permutation(len(data))[:7]),
                    list(range(len(data)))):
        reads.clear()
        batch = data.__getitems__(indices)
        assert len(reads) == 1, reads
        for (x, y), i in zip(batch, indices, strict=True):
            x1, y1 = data[i]
            assert torch.equal(x, x1) and torch.equal(y, y1)
    # windows at both ends of long trajectories: the covering span would be mostly
    # unused, so each distinct sample is read once over its own span
    long_file = generate("navier_stokes", tmp_path / "long.nc", n_samples=2, resolution=8,
                         n_times=30, dt_save=0.05, dt=1e-2, progress=False)
    far = RolloutDataset(open_dataset(long_file), ["w"], history=1, horizon=1, stride=2)
    real_far = far.fields._read_arrays
    monkeypatch.setattr(far.fields, "_read_arrays",
                        lambda key: reads.append(key) or real_far(key))
    last = far.windows_per_sample - 1
    for indices, n_reads in (([0, last + 1], 1), ([0, 2 * last + 1], 2),
                             ([0, last, 2 * last + 1, last + 1], 2)):
        reads.clear()
        batch = far.__getitems__(indices)
        assert len(reads) == n_reads, (indices, reads)
        for (x, y), i in zip(batch, indices, strict=True):
            assert torch.equal(x, far[i][0]) and torch.equal(y, far[i][1])
    with pytest.raises(IndexError, match="out of range"):
        data.__getitems__([0, len(data)])
    loader = DataLoader(data, batch_size=4, shuffle=False)
    xs = torch.cat([x for x, _ in loader])
    assert torch.equal(xs, torch.stack([data[i][0] for i in range(len(data))]))


@pytest.mark.parametrize("change", ["reverse x", "permute samples", "sort y descending",
                                    "rechunk", "not dask"])
def test_a_changed_dataset_is_read_as_changed_not_from_its_file(ns_file, darcy_file, change):
    """A lazily reindexed dataset keeps its file's encoding and shape; reading the file
    directly would silently return the unchanged values (the 0.1 bug: a permutation of
    samples or a reversed axis trained on the original order)."""
    def apply(ds):
        return {"reverse x": lambda d: d.isel(x=slice(None, None, -1)),
                "permute samples": lambda d: d.isel(sample=[2, 0, 1]),
                "sort y descending": lambda d: d.sortby("y", ascending=False),
                "rechunk": lambda d: d.chunk({"sample": 1}),
                "not dask": lambda d: d.load().isel(x=slice(None, None, -1))}[change](ds)

    ds = apply(open_dataset(ns_file))
    windows = RolloutDataset(ds, ["w"], history=2, horizon=1)
    x, y = windows[windows.windows_per_sample]  # sample 1 of the changed dataset, start 0
    np.testing.assert_allclose(x.numpy(), ds["w"].values[1, 0:2], rtol=1e-6)
    np.testing.assert_allclose(y[0, 0].numpy(), ds["w"].values[1, 2], rtol=1e-6)
    batch = windows.__getitems__([windows.windows_per_sample])
    assert torch.equal(batch[0][0], x)
    darcy = apply(open_dataset(darcy_file).isel(sample=slice(0, 3)))
    pairs = OperatorDataset(darcy, ["a"], ["u"])
    np.testing.assert_allclose(pairs[1][1][0].numpy(), darcy["u"].values[1], rtol=1e-6)
    np.testing.assert_allclose(pairs.__getitems__([1])[0][0][0].numpy(), darcy["a"].values[1],
                               rtol=1e-6)


def test_datasets_read_lazily(darcy_file):
    ds = open_dataset(darcy_file)
    data = OperatorDataset(ds, ["a"], ["u"])
    for i in range(len(data)):
        data[i]
    assert ds["u"].chunks is not None  # still a dask array: nothing was loaded into ds


def test_transformed_variables_are_read_through_xarray(darcy_file):
    ds = open_dataset(darcy_file)
    ds["u"] = ds["u"] * 2  # a derived variable must not be read from the file
    x, y = OperatorDataset(ds, ["a"], ["u"])[0]
    np.testing.assert_allclose(y.numpy(), 2 * xr.open_dataset(darcy_file)["u"].values[:1],
                               rtol=1e-6)


def test_variables_merged_from_two_files_are_each_read_from_their_own(darcy_file, tmp_path):
    other = generate("darcy", tmp_path / "other.nc", n_samples=10, resolution=16, seed=9,
                     progress=False)
    ds = xr.merge([open_dataset(darcy_file)[["a"]], open_dataset(other)[["u"]]])
    x, y = OperatorDataset(ds, ["a"], ["u"])[2]
    np.testing.assert_allclose(x[0].numpy(), xr.open_dataset(darcy_file)["a"].values[2])
    np.testing.assert_allclose(y[0].numpy(), xr.open_dataset(other)["u"].values[2], rtol=1e-6)


def test_normalizer_is_fitted_on_the_training_split_only(ns_file):
    ds = open_dataset(ns_file)
    split = split_samples(3, (2 / 3, 1 / 3, 0.0), seed=0)
    norm = Normalizer.fit(ds, ["w"], split["train"])
    w = xr.open_dataset(ns_file)["w"].values[split["train"]]
    assert norm.shift.item() == pytest.approx(w.mean(), abs=1e-12)
    assert norm.scale.item() == pytest.approx(w.std(), rel=1e-12)
    assert norm.scale.item() != pytest.approx(Normalizer.fit(ds, ["w"]).scale.item(), rel=1e-6)
    x = torch.randn(4, 6, 16, 16, dtype=torch.float64)  # a history of 6 states, 1 variable
    torch.testing.assert_close(norm.inverse_transform(norm.transform(x)), x)
    restored = Normalizer.identity(1)
    restored.load_state_dict(norm.state_dict())
    torch.testing.assert_close(restored.transform(x), norm.transform(x))


def test_minmax_normalizer_maps_training_data_to_the_unit_interval(darcy_file):
    ds = open_dataset(darcy_file)
    norm = Normalizer.fit(ds, ["a", "u"], kind="minmax")
    x = torch.from_numpy(np.stack([ds["a"].values, ds["u"].values], axis=1))
    z = norm.transform(x)
    assert z.min().item() == pytest.approx(0.0) and z.max().item() == pytest.approx(1.0)


def test_split_is_seeded_disjoint_and_complete():
    a, b = split_samples(50, seed=1), split_samples(50, seed=1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["train"], split_samples(50, seed=2)["train"])
    together = np.concatenate(list(a.values()))
    assert sorted(together) == list(range(50)) and [len(v) for v in a.values()] == [40, 5, 5]


# --- bad input ---------------------------------------------------------------------------

def test_missing_file_and_non_netcdf_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.nc does not exist"):
        open_dataset(tmp_path / "nothere.nc")
    (tmp_path / "notes.nc").write_text("hello")
    with pytest.raises(DataError, match="notes.nc is not a netCDF, HDF5 or Zarr file"):
        open_dataset(tmp_path / "notes.nc")


def test_missing_variable_lists_the_available_ones(darcy_file):
    with pytest.raises(DataError, match=r"\['pressure'\] not found in .*darcy.nc.*available "
                                        r"variables: a, u"):
        open_dataset(darcy_file, variables=["pressure"])
    with pytest.raises(DataError, match="targets"):
        OperatorDataset(open_dataset(darcy_file), ["a"], ["p"])


def test_wrong_dims_order_suggests_transpose(darcy_file):
    ds = open_dataset(darcy_file).transpose("sample", "x", "y")
    with pytest.raises(DataError, match=r"dims \('sample', 'x', 'y'\).*transpose\('sample', "
                                        r"'y', 'x'\)"):
        OperatorDataset(ds, ["a"], ["u"])


def test_nan_in_a_field_is_reported_with_its_position(tmp_path):
    u = np.zeros((3, 4, 5, 6))
    u[1, 2, 3, 4] = np.nan
    path = tmp_path / "bad.nc"
    with netCDF4.Dataset(path, "w") as nc:  # written by hand, as another code would
        for d, n in zip(("sample", "time", "y", "x"), u.shape, strict=True):
            nc.createDimension(d, n)
        nc.createVariable("u", "f8", ("sample", "time", "y", "x"))[:] = u
    data = RolloutDataset(open_dataset(path), ["u"], history=2, horizon=1)
    data[0]
    with pytest.raises(DataError, match=r"'u' in .*bad.nc has NaN/inf at sample 1, time "
                                        r"index 2, \(row, column\) = \(3, 4\)"):
        data[3]  # sample 1, window 1: times 1..3


def test_non_monotonic_time_and_too_short_trajectories(ns_file):
    ds = open_dataset(ns_file)
    shuffled = ds.isel(time=[0, 2, 1, 3, 4, 5, 6])
    with pytest.raises(DataError, match=r"not strictly increasing.*sortby\('time'\)"):
        RolloutDataset(shuffled, ["w"], history=2, horizon=1)
    with pytest.raises(DataError, match=r"7 time steps, fewer than history \+ horizon = 5 \+ 3"):
        RolloutDataset(ds, ["w"], history=5, horizon=3)
    with pytest.raises(ValueError, match="history must be a positive integer"):
        RolloutDataset(ds, ["w"], history=0)


# --- files other tools write: LZF, PDEBench CFD and incompressible NS ---------------------------
def _train_one_epoch(path, variables, tmp_path, history=2):
    from kinnsci.cli.main import main

    argv = ["train", "--data", str(path), "--model", "fno", "--model-config",
            '{"hidden_channels": 8, "n_modes": [8, 7]}', "--epochs", "1", "--batch-size", "4",
            "--no-progress", "--history", str(history), "--out", str(tmp_path / "run"),
            "--variables", *variables]
    assert main(argv) == 0
    assert (tmp_path / "run" / "final.pt").exists()


@pytest.mark.parametrize("writer", ["h5py", "xarray-h5netcdf"])
def test_lzf_compressed_hdf5_is_read_through_h5py(tmp_path, writer):
    rng = np.random.default_rng(3)
    w = rng.random((10, 6, 16, 16))
    path = tmp_path / "lzf.h5"
    if writer == "h5py":
        with h5py.File(path, "w") as fh:
            fh.create_dataset("w", data=w, compression="lzf")
    else:
        xr.Dataset({"w": (("sample", "time", "y", "x"), w)}).to_netcdf(
            path, engine="h5netcdf", encoding={"w": {"compression": "lzf"}})
    ds = open_dataset(path)
    if writer == "h5py":  # plain HDF5 has no dimension names
        ds = ds.rename(dict(zip(ds["w"].dims, ("sample", "time", "y", "x"), strict=True)))
    data = RolloutDataset(ds, ["w"], history=2)
    x, y = data[1]
    np.testing.assert_allclose(x.numpy(), w[0, 1:3], rtol=1e-6)
    np.testing.assert_allclose(y[0, 0].numpy(), w[0, 3], rtol=1e-6)
    if writer == "xarray-h5netcdf":
        _train_one_epoch(path, ["w"], tmp_path)


def test_pdebench_2d_cfd_layout(tmp_path):
    rng = np.random.default_rng(4)
    n, nt, nx, ny = 10, 6, 16, 12
    fields = {k: rng.random((n, nt, nx, ny)).astype(np.float32)
              for k in ("density", "pressure", "Vx", "Vy")}
    path = tmp_path / "2D_CFD_Rand_M0.1_Eta0.01_Zeta0.01_periodic_128_Train.hdf5"
    with h5py.File(path, "w") as fh:  # as PDEBench's CFD writer lays it out
        for k, v in fields.items():
            fh[k] = v
        fh["t-coordinate"] = np.linspace(0, 1, nt + 1)
        fh["x-coordinate"], fh["y-coordinate"] = np.linspace(0, 1, nx), np.linspace(0, 1, ny)
    ds = open_dataset(path)
    assert ds["density"].dims == ("sample", "time", "y", "x")
    np.testing.assert_allclose(ds["time"].values, np.linspace(0, 1, nt + 1)[:nt])
    data = RolloutDataset(ds, ["density", "Vx"], history=2)
    x, _ = data[0]
    np.testing.assert_array_equal(x[1].numpy(), fields["Vx"][0, 0].T)  # (x, y) -> (y, x)
    _train_one_epoch(path, ["density", "pressure", "Vx", "Vy"], tmp_path)


def test_pdebench_incompressible_ns_layout_with_lzf(tmp_path):
    rng = np.random.default_rng(5)
    n, nt, nx = 10, 6, 16
    velocity = rng.random((n, nt, nx, nx, 2)).astype(np.float32)
    particles = rng.random((n, nt, nx, nx, 1)).astype(np.float32)
    force = rng.random((n, nx, nx, 2)).astype(np.float32)
    path = tmp_path / "ns_incom_inhom_2d_512-0.h5"
    with h5py.File(path, "w") as fh:  # PDEBench's writer: LZF-compressed datasets
        for name, value in (("velocity", velocity), ("particles", particles),
                            ("force", force), ("t", np.tile(np.arange(nt) * 0.05, (n, 1)))):
            fh.create_dataset(name, data=value, compression="lzf")
    ds = open_dataset(path)
    np.testing.assert_array_equal(ds["velocity_y"].values[2, 3], velocity[2, 3, :, :, 1].T)
    np.testing.assert_array_equal(ds["force_x"].values[1], force[1, :, :, 0].T)
    np.testing.assert_allclose(ds["time"].values, np.arange(nt) * 0.05)
    _train_one_epoch(path, ["velocity_x", "velocity_y"], tmp_path)


def test_closing_a_pdebench_dataset_closes_the_hdf5_file_it_reads(tmp_path):
    """The PDEBench readers keep an h5py handle open for dask's lazy reads; ``ds.close()``
    (or ``with open_dataset(...)``) must release it, as for files xarray opens itself."""
    with h5py.File(tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5", "w") as fh:
        fh["tensor"] = np.arange(32.0).reshape(2, 1, 4, 4)
        fh["nu"] = np.ones((2, 4, 4))
    with h5py.File(tmp_path / "2D_rdb_NA_NA.h5", "w") as fh:
        fh.create_group("0000")["data"] = np.arange(48.0).reshape(3, 4, 4, 1)
    open_files = len(h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE))
    for name, total in (("2D_DarcyFlow_beta1.0_Train.hdf5", 496.0),
                        ("2D_rdb_NA_NA.h5", 1128.0)):
        with open_dataset(tmp_path / name) as ds:
            assert len(h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE)) == open_files + 1
            # a lazy read through the open handle returns the file's values
            assert float(ds[next(iter(ds.data_vars))].sum()) == total
        assert len(h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE)) == open_files


def test_a_set_of_files_opens_as_one_dataset_joined_along_sample(tmp_path):
    """A glob, a folder or a list of files (e.g. a data set generated in parts with several
    seeds) is one lazy dataset; files that do not match are refused, naming the file."""
    parts = [generate("darcy", tmp_path / "set" / f"darcy_{s}.nc", n_samples=3, resolution=16,
                      seed=s, progress=False) for s in range(3)]
    expected = np.concatenate([xr.open_dataset(p)["u"].values for p in parts])
    for spec in (str(tmp_path / "set" / "darcy_*.nc"), tmp_path / "set", parts):
        ds = open_dataset(spec)
        assert ds.sizes["sample"] == 9 and "2 more file(s)" in ds.encoding["source"]
        np.testing.assert_array_equal(ds["u"].values, expected)
        pairs = OperatorDataset(ds, ["a"], ["u"])
        np.testing.assert_allclose(pairs[7][1][0].numpy(), expected[7], rtol=1e-6)
        ds.close()
    with pytest.raises(InputNotFoundError, match="no file matches"):
        open_dataset(str(tmp_path / "set" / "nothing_*.nc"))
    other = generate("poisson", tmp_path / "bad" / "poisson.nc", n_samples=2, resolution=16,
                     progress=False)
    with pytest.raises(DataError, match=r"poisson.nc has variables \['f', 'u'\] where"):
        open_dataset([parts[0], other])
    finer = generate("darcy", tmp_path / "bad" / "darcy_24.nc", n_samples=2, resolution=24,
                     progress=False)
    with pytest.raises(DataError, match="darcy_24.nc has sizes .* the files' grids differ"):
        open_dataset([parts[0], finer])


def test_kinnsci_train_reads_a_glob_of_files(tmp_path, capsys):
    for s in range(2):
        generate("darcy", tmp_path / f"part_{s}.nc", n_samples=6, resolution=16, seed=s,
                 progress=False)
    from kinnsci.cli.main import main

    code = main(["train", "--model", "fno", "--data", str(tmp_path / "part_*.nc"), "--inputs",
                 "a", "--targets", "u", "--epochs", "1", "--batch-size", "4",
                 "--model-config", '{"hidden_channels": 4, "n_modes": [4, 3]}',
                 "--out", str(tmp_path / "run"), "--no-progress", "--no-plots"])
    assert code == 0, capsys.readouterr().err
    report = __import__("json").loads((tmp_path / "run" / "metrics.json").read_text())
    assert np.isfinite(report["test"]["rel_l2"])


def test_data_checks_stream_in_bounded_reads_and_find_zero_targets_in_the_same_pass(
        ns_file, monkeypatch):
    """``check_finite`` reads every (sample, time) once in reads of at most the budget
    (a trajectory larger than it a time window at a time); the zero-target windows it
    finds equal the definition (targets read through a DataLoader)."""
    import kinnsci.data.datasets as datasets

    ds = open_dataset(ns_file).load()
    ds["w"][1, 4:6] = 0.0  # two states of trajectory 1 are zero everywhere
    data = RolloutDataset(ds, ["w"], history=2, horizon=2, samples=[2, 1, 0], stride=1)
    fields = data.fields
    state = 16 * 16 * (8 + 4)  # float64 file values + their float32 copy
    reads = []
    real = fields.read
    monkeypatch.setattr(fields, "read", lambda s, t=None: reads.append((s, t)) or real(s, t))
    monkeypatch.setattr(datasets, "CHECK_BLOCK_BYTES", 3 * state)
    for budget in (3 * state, 7 * state, 100 * state):
        reads.clear()
        zero = fields.scan(data.samples, budget=budget)
        seen = np.zeros((3, 7), dtype=int)
        for sample, time in reads:
            block = real(sample, time)
            assert block.numel() * 12 // 4 <= max(budget, state)  # bounded
            seen[np.atleast_1d(sample)[:, None], np.arange(7)[time or slice(None)]] += 1
        assert (seen == 1).all()  # one pass
        assert zero.shape == (3, 7) and zero[1, 4:6].all() and zero.sum() == 2
    expected = [i for i, (_, y) in enumerate(DataLoader(data, batch_size=1))
                if float(y.abs().max()) == 0]
    data.check_finite()
    assert data.zero_target_items() == expected == [data.windows_per_sample + 2]


def test_a_nan_in_a_late_time_window_is_located_in_file_coordinates(ns_file, monkeypatch):
    import kinnsci.data.datasets as datasets

    ds = open_dataset(ns_file).load()
    ds["w"][2, 6, 3, 5] = np.nan
    data = RolloutDataset(ds, ["w"], history=2, samples=[0, 2])
    monkeypatch.setattr(datasets, "CHECK_BLOCK_BYTES", 2 * 16 * 16 * 12)  # 2 states a read
    with pytest.raises(DataError, match=r"sample 2, time index 6, \(row, column\) = \(3, 5\)"):
        data.check_finite()


def test_operator_zero_targets_come_from_the_check_pass(darcy_file):
    ds = open_dataset(darcy_file).load()
    ds["u"][3] = 0.0
    data = OperatorDataset(ds, ["a"], ["u"], samples=[5, 3, 1])
    data.check_finite()
    assert data.zero_target_items() == [1]


def test_the_netcdf4_reader_follows_the_engines_file_handle(darcy_file):
    """Batches of a netCDF-4 file read the netcdf4 engine's own variable; after the
    dataset is closed (its file manager closes the file) they reopen it through the
    engine and read the same values."""
    from kinnsci.data.direct import _NetCDF4Variable

    ds = open_dataset(darcy_file)
    data = OperatorDataset(ds, ["a"], ["u"], samples=[4, 1, 7])
    assert isinstance(data.inputs._plans[0].parts[0][0], _NetCDF4Variable)
    before = data.__getitems__([0, 2])
    ds.close()
    after = data.__getitems__([0, 2])
    for (x0, y0), (x1, y1) in zip(before, after, strict=True):
        assert torch.equal(x0, x1) and torch.equal(y0, y1)
