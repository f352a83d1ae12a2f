"""``kinnsci generate``: run a PDE simulator and write one CF netCDF file."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from kinnsci.errors import ConfigError

RECIPE_KEYS = ("generator", "n_samples", "resolution", "seed", "out", "params")

EXAMPLES = """examples:
  kinnsci generate darcy --n-samples 64 --resolution 32 --seed 0 --out darcy.nc
  kinnsci generate navier_stokes --n-samples 8 --resolution 64 --out ns.nc \\
      --param n_times=50 --param dt_save=1.0
  kinnsci generate --config datasets/darcy_128.yaml --out darcy_128.nc
"""


def _description() -> str:
    from kinnsci.data.generators import GENERATORS, load_plugins

    load_plugins()
    return ("Simulate a PDE (seeded, bit-reproducible) and write one netCDF file. Physical "
            "parameters are set with --param NAME=VALUE; each generator's parameters and "
            "defaults are listed below.\n\n" + "\n".join(
                f"  {name}: " + ", ".join(f"{k}={v}" for k, v in cls.parameters().items())
                for name, cls in GENERATORS.items()))


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "generate",
        help="simulate a PDE and write a CF-1.8 netCDF file",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # The generators (numpy, scipy, xarray) are imported only when the help is shown or a
    # run starts, so ``kinnsci --help`` and argument errors answer at once.
    format_help = p.format_help

    def format_help_with_generators() -> str:
        p.description = _description()
        return format_help()

    p.format_help = format_help_with_generators
    p.add_argument("generator", nargs="?", metavar="GENERATOR",
                   help="which PDE (the generators and their parameters are listed below; plug-ins "
                        "from KINNSCI_PLUGINS or the kinnsci.generators entry points too)")
    p.add_argument("--config", type=Path, help="YAML recipe with keys " + ", ".join(RECIPE_KEYS))
    p.add_argument("--n-samples", type=int, help="number of samples (trajectories)")
    p.add_argument("--resolution", type=int, help="grid points per side")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--out", type=Path, help="output netCDF file")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="generator parameter (repeatable)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def load_recipe(path: Path) -> dict:
    """Read a generation recipe with ``yaml.safe_load``; unknown keys are an error."""
    from kinnsci._yaml import read_yaml_mapping

    recipe = read_yaml_mapping(path)
    unknown = sorted(set(recipe) - set(RECIPE_KEYS))
    if unknown:
        raise ConfigError(f"--config: unknown key(s) {unknown} in {path}; valid keys: "
                         f"{', '.join(RECIPE_KEYS)}")
    return recipe


def _parse_params(items: list[str]) -> dict:
    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--param expects NAME=VALUE, got {item!r}")
        try:
            params[name.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:  # not a YAML scalar: keep the text, the type check names it
            params[name.strip()] = value
    return params


def run(args: argparse.Namespace) -> int:
    from kinnsci.cli.errors import report, user_errors
    from kinnsci.cli.interrupt import run_interruptible
    from kinnsci.data import generate

    try:
        recipe = load_recipe(args.config) if args.config else {}
        params = {**recipe.get("params", {}), **_parse_params(args.param)}
        # A value on the command line always wins over the recipe, 0 included (it then
        # gets the range error, not the recipe's value).
        choice = {key: value if value is not None else recipe.get(key) for key, value in (
            ("generator", args.generator), ("n_samples", args.n_samples),
            ("resolution", args.resolution), ("out", args.out))}
        missing = [k for k, v in choice.items() if v is None]
        if missing:
            flags = ", ".join("--" + k.replace("_", "-") if k != "generator" else "GENERATOR"
                              for k in missing)
            raise ConfigError(f"missing {flags} (give them on the command line or in --config)")
        seed = args.seed if args.seed is not None else recipe.get("seed", 0)
        path = run_interruptible(lambda: generate(
            choice["generator"], choice["out"], n_samples=int(choice["n_samples"]),
            resolution=int(choice["resolution"]), seed=int(seed), overwrite=args.overwrite,
            progress=not args.no_progress, **params), "generate")
    except user_errors() as exc:
        report(exc, "generate")
        return 2
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0
