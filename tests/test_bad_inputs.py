"""Bad input gets one clear line (exit 2), and no file a user already has is changed.

Each case names the command line, a phrase the error must contain, and the behaviour it
pins. The folder the command writes into holds a file of the user's beforehand; it must be
byte-for-byte the same afterwards, and nothing else may appear there.
"""

from __future__ import annotations

import pytest
import xarray as xr

from kinnsci.cli.main import main
from kinnsci.data import generate
from kinnsci.data.generators import get_generator


def run_refused(argv: list[str], message: str, folder, capsys) -> str:
    """Run ``kinnsci argv``; assert exit 2, ``message`` in stderr, no traceback, and that
    ``folder`` holds exactly what it held before."""
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, f"exit {code}; stderr: {err}"
    assert message in err, err
    assert "Traceback" not in err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
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
    run_refused(["generate", "darcy", "--n-samples", "2", "--resolution", "16", "--out",
                 str(workdir / "keep.nc"), "--no-progress"], "already exists", workdir, capsys)


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
