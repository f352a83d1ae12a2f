import subprocess
import sys

from kinnsci.cli.main import main


def test_info_lists_registries(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "discretizers: zoh, euler, bilinear, adaptive" in out
    assert "kirchhoff_node" in out
    assert "CUDA:" in out


def test_console_script_help_lists_subcommands():
    out = subprocess.run(
        [sys.executable, "-m", "kinnsci.cli.main", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert "info" in out.stdout and "quickstart" in out.stdout


def test_generate_writes_a_file_and_refuses_to_overwrite(tmp_path, capsys):
    import xarray as xr

    out = tmp_path / "ns.nc"
    argv = ["generate", "navier_stokes", "--n-samples", "2", "--resolution", "16", "--seed",
            "3", "--out", str(out), "--param", "n_times=3", "--param", "dt_save=0.02",
            "--param", "dt=0.01", "--no-progress"]
    assert main(argv) == 0
    with xr.open_dataset(out) as ds:
        assert ds["w"].shape == (2, 3, 16, 16)
        assert ds.attrs["param_n_times"] == 3 and ds.attrs["param_seed"] == 3
    before = out.read_bytes()
    assert main(argv) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(argv + ["--overwrite"]) == 0


def test_generate_reads_a_yaml_recipe_and_rejects_unknown_keys(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("generator: poisson\nn_samples: 2\nresolution: 16\nparams: {alpha: 2.5}\n")
    assert main(["generate", "--config", str(recipe), "--out", str(tmp_path / "p.nc")]) == 0
    recipe.write_text("generator: poisson\nsamples: 2\n")
    assert main(["generate", "--config", str(recipe), "--out", str(tmp_path / "q.nc")]) == 2
    assert "unknown key(s) ['samples']" in capsys.readouterr().err
