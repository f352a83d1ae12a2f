"""Generator plug-ins: a user's generator reaches ``kinnsci generate`` through
``KINNSCI_PLUGINS`` or a ``kinnsci.generators`` entry point; and the tests CONTRIBUTING.md
asks of a new generator, for tutorial 04's Allen-Cahn plug-in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from kinnsci.data.generators import GENERATORS, Generator, register_generator
from kinnsci.errors import ConfigError

PLUGIN = Path(__file__).resolve().parents[1] / "tutorials" / "allen_cahn.py"


def _kinnsci(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kinnsci.cli.main", *args], text=True,
                          capture_output=True, env={**os.environ, **env})


@pytest.fixture(scope="module")
def allen_cahn():
    sys.path.insert(0, str(PLUGIN.parent))
    try:
        import allen_cahn
    finally:
        sys.path.remove(str(PLUGIN.parent))
    yield allen_cahn
    GENERATORS.pop("allen_cahn", None)


# --- the plug-in's physics (what CONTRIBUTING.md asks of every generator) ------------------
def test_allen_cahn_linear_modes_grow_at_the_analytic_rate(allen_cahn):
    s, eps = 16, 0.05
    x = np.arange(s) / s
    xx, yy = np.meshgrid(x, x)
    mode = 1e-8 * np.sin(2 * np.pi * (2 * xx + yy))[None]
    grown = allen_cahn.solve_allen_cahn(mode, eps=eps, save_times=np.array([1.0]),
                                        dt=1e-3)[0, -1]
    rate = 1 - eps**2 * (2 * np.pi) ** 2 * 5
    assert np.abs(grown - mode[0] * np.exp(rate)).max() / np.abs(mode).max() < 1e-2


def test_allen_cahn_energy_never_increases(allen_cahn):
    """A gradient flow: E = ∫ ε²|∇u|²/2 + (1 − u²)²/4 decreases along every trajectory."""
    s, eps = 16, 0.1
    k = 2 * np.pi * np.fft.fftfreq(s, 1 / s)
    u = allen_cahn.solve_allen_cahn(np.random.default_rng(0).normal(0, 0.3, (1, s, s)),
                                    eps=eps, save_times=np.linspace(0, 2, 11), dt=1e-2)[0]
    ux = np.real(np.fft.ifft2(1j * k[None, None, :] * np.fft.fft2(u)))
    uy = np.real(np.fft.ifft2(1j * k[None, :, None] * np.fft.fft2(u)))
    energy = np.mean(eps**2 * (ux**2 + uy**2) / 2 + (1 - u**2) ** 2 / 4, axis=(1, 2))
    assert np.all(np.diff(energy) <= 1e-12) and energy[-1] < energy[0]


# --- reaching the command line ---------------------------------------------------------------
def test_kinnsci_plugins_makes_a_users_generator_available_to_the_cli(tmp_path):
    out = tmp_path / "ac.nc"
    args = ["generate", "allen_cahn", "--n-samples", "2", "--resolution", "16", "--param",
            "n_times=3", "--out", str(out), "--no-progress"]
    without = _kinnsci(args)
    assert without.returncode == 2 and "unknown generator 'allen_cahn'" in without.stderr
    result = _kinnsci(args, KINNSCI_PLUGINS=str(PLUGIN))
    assert result.returncode == 0, result.stderr
    ds = xr.open_dataset(out)
    assert ds["u"].shape == (2, 3, 16, 16) and ds.attrs["Conventions"] == "CF-1.8"
    assert "allen_cahn" in _kinnsci(["generate", "--help"], KINNSCI_PLUGINS=str(PLUGIN)).stdout
    # parameters are checked like a built-in generator's
    bad = _kinnsci(args[:-3] + ["--param", "eps=-1", "--out", str(tmp_path / "b.nc")],
                   KINNSCI_PLUGINS=str(PLUGIN))
    assert bad.returncode == 2 and "eps must be > 0" in bad.stderr


def test_an_installed_packages_entry_point_is_found(tmp_path):
    """A package that declares ``[project.entry-points."kinnsci.generators"]``: simulated
    with the dist-info folder pip would write."""
    site = tmp_path / "site"
    (site / "ac_plugin-0.1.dist-info").mkdir(parents=True)
    shutil.copy(PLUGIN, site / "ac_plugin.py")
    (site / "ac_plugin-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ac-plugin\nVersion: 0.1\n")
    (site / "ac_plugin-0.1.dist-info" / "entry_points.txt").write_text(
        "[kinnsci.generators]\nallen_cahn = ac_plugin:AllenCahn\n")
    result = _kinnsci(["generate", "allen_cahn", "--n-samples", "1", "--resolution", "16",
                       "--param", "n_times=2", "--out", str(tmp_path / "ep.nc"),
                       "--no-progress"], PYTHONPATH=str(site))
    assert result.returncode == 0, result.stderr
    assert xr.open_dataset(tmp_path / "ep.nc")["u"].shape == (1, 2, 16, 16)


def test_broken_plugins_get_one_clear_line(tmp_path):
    missing = _kinnsci(["generate", "allen_cahn", "--n-samples", "1", "--resolution", "16",
                        "--out", str(tmp_path / "x.nc")], KINNSCI_PLUGINS="nowhere/ac.py")
    assert missing.returncode == 2
    assert "KINNSCI_PLUGINS: cannot import plug-in 'nowhere/ac.py'" in missing.stderr
    assert "Traceback" not in missing.stderr and not (tmp_path / "x.nc").exists()


def test_register_generator_refuses_what_is_not_a_generator_or_a_taken_name():
    class NotAGenerator:
        name = "x"

    with pytest.raises(ConfigError, match="expects a Generator subclass"):
        register_generator(NotAGenerator)

    class Nameless(Generator):
        title = "no name"

    with pytest.raises(ConfigError, match="needs a class attribute name"):
        register_generator(Nameless)

    class Impostor(Generator):
        name, title = "darcy", "another darcy"

    with pytest.raises(ConfigError, match="'darcy' .* is taken by"):
        register_generator(Impostor)
    assert GENERATORS["darcy"].__name__ == "Darcy"
