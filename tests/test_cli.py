import argparse
import subprocess
import sys

from kinnsci.cli.main import main


def test_info_lists_registries(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "discretizers: adaptive, bilinear, euler, zoh" in out
    assert "kirchhoff_node" in out
    assert "CUDA:" in out


def test_info_says_which_scan_runs_and_why_a_fallback(capsys, monkeypatch):
    from kinnsci.scan import cpu_kernel

    monkeypatch.setenv("KINNSCI_DISABLE_CPU_KERNEL", "1")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "scan on CPU:  the PyTorch scan: the C++ kernel is disabled by " \
        "KINNSCI_DISABLE_CPU_KERNEL=1" in out
    assert "scan on CUDA:" in out
    monkeypatch.delenv("KINNSCI_DISABLE_CPU_KERNEL")
    monkeypatch.setattr(cpu_kernel, "_module", None)
    monkeypatch.setattr(cpu_kernel, "_error", "RuntimeError: Ninja is required")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "the C++ kernel did not build (RuntimeError: Ninja is required)" in out
    assert "pip install ninja" in out


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


HEAVY = ("torch", "neuralop", "xarray", "scipy")


def _imported_by(argv: list[str]) -> set[str]:
    """The heavy packages ``kinnsci argv`` imports, in a fresh interpreter."""
    code = "\n".join([
        "import sys", "from kinnsci.cli.main import main", "try:", f"    main({argv!r})",
        "except SystemExit:", "    pass",
        f"print('IMPORTED:' + ' '.join(m for m in {HEAVY!r} if m in sys.modules))"])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return set(out[out.rindex("IMPORTED:") + len("IMPORTED:"):].split())


def test_help_and_argument_errors_import_no_heavy_package():
    """``--help`` and argument errors answer at once: torch (1.3 s to import here),
    neuraloperator (2 s), xarray and scipy are imported only when work starts."""
    for argv in (["--help"], ["train", "--help"], ["evaluate", "--help"],
                 ["train-vision", "--help"], ["reproduce", "--help"], ["quickstart", "--help"],
                 ["info", "--help"], ["train", "--epochs", "ten"], ["generate", "--bogus"]):
        assert _imported_by(argv) == set(), argv
    # generate's help lists every generator's parameters (numpy, scipy.fft), no more
    assert _imported_by(["generate", "--help"]) <= {"scipy"}


def test_every_option_says_what_it_does_and_training_flags_their_defaults_and_choices():
    from kinnsci.cli.main import build_parser
    from kinnsci.cli.run_flags import CHOICES
    from kinnsci.train.config import RunConfig
    from kinnsci.train.vision_config import VisionConfig

    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.choices and "train" in a.choices)
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            assert action.help, f"kinnsci {name} {action.option_strings or action.dest}"
    for command, config in (("train", RunConfig()), ("train-vision", VisionConfig(data="x"))):
        sub = subparsers.choices[command]
        for action in sub._actions:
            default = getattr(config, action.dest, None)
            if action.option_strings and default not in (None, "", [], {}, False) \
                    and action.dest not in ("data", "device"):
                assert "(default: " in action.help, (command, action.dest)
                if not isinstance(action, argparse._StoreFalseAction | argparse._StoreAction) \
                        or not isinstance(default, list | dict | bool):
                    assert f"(default: {default})" in action.help, (command, action.dest)
            for choice in CHOICES[command].get(action.dest, ()):
                assert choice in action.help, (command, action.dest, choice)


def test_the_choices_listed_in_help_are_the_registries():
    import torch

    from kinnsci.cli.run_flags import CHOICES
    from kinnsci.data.normalizer import KINDS
    from kinnsci.models import MODELS, get_model
    from kinnsci.train.metrics import LOSSES
    from kinnsci.train.trainer import AMP_DTYPES, SCHEDULERS

    train, vision = CHOICES["train"], CHOICES["train-vision"]
    assert set(vision["model"]) == {n for n in MODELS if n.startswith("kinn_vision")}
    from kinnsci.train.losses import AGGREGATORS, LOSS_TERMS

    assert tuple(train["loss_aggregator"]) == AGGREGATORS

    # every term of a weighted-sum loss; cross-entropy is a classification loss
    assert set(train["loss"]) == set(LOSS_TERMS) == set(LOSSES) - {"cross_entropy"} | {
        "h1", "pde"}
    assert tuple(train["scheduler"]) == SCHEDULERS
    assert set(train["amp"]) == set(vision["amp"]) == set(AMP_DTYPES)
    assert set(train["normalizer"]) == {*KINDS, "none"}
    for name in train["model"]:  # each listed model is a grid operator train can use
        model = get_model(name, in_channels=2, out_channels=3)
        assert model(torch.zeros(1, 2, 32, 32)).shape == (1, 3, 32, 32), name
