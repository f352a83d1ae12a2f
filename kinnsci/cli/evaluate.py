"""``kinnsci evaluate``: metrics (and plots) of a checkpoint on a data file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kinnsci.errors import OutputExistsError

EXAMPLES = """examples:
  kinnsci evaluate runs/fno/final.pt --data darcy_test.nc
  kinnsci evaluate runs/ns/final.pt --data ns.nc --rollout 40 --plots eval_plots --json m.json
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate", help="evaluate a trained checkpoint on a data file",
        description="Print a metrics table for CHECKPOINT on every sample of --data, and "
        "optionally write JSON and PNG plots.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path,
                   help="a checkpoint written by kinnsci train (OUT/final.pt or last.pt)")
    p.add_argument("--data", type=Path, required=True,
                   help="netCDF/HDF5 file with the variables the model was trained on")
    p.add_argument("--rollout", type=int, metavar="N",
                   help="also evaluate N-step rollouts (time-dependent models)")
    p.add_argument("--plots", type=Path, metavar="FOLDER",
                   help="write PNG plots (predictions, rollout error) to this folder")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the metrics to this file")
    p.add_argument("--batch-size", type=int, default=16,
                   help="samples per evaluation batch (default: 16)")
    p.add_argument("--overwrite", action="store_true", help="replace existing --json/--plots")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def _physics_plots(report, model, dataset, physics, args, model_name, device) -> None:
    """physics.png (error map, residual map, energy spectra of the first item) and, for
    rollouts, conservation.png (drift of the spatial means, energy ratio)."""
    import torch

    from kinnsci.physics.plots import plot_conservation, plot_physics

    x, y = dataset[0]
    y = y[0] if y.ndim == x.ndim + 1 else y
    model.eval()
    with torch.no_grad():
        pred = model(x[None].to(device))[0].cpu()
    residual = None
    if physics is not None:
        with torch.no_grad():
            parts = physics.equation.residual_tensor(physics.fields(pred[None], x[None]),
                                                     physics.params)
        residual = next(iter(parts.values()))[0]
        residual = residual[0] if residual.ndim == 3 else residual
    plot_physics(pred, y, args.plots / "physics.png", residual,
                 title=f"{model_name} on {args.data}: first item")
    if "rollout" in report:
        names = list(getattr(getattr(dataset, "fields", None), "names", []) or [])
        plot_conservation({"conserved_error": report["rollout_conserved_error"],
                           "energy_ratio": report["rollout_energy_ratio"]},
                          args.plots / "conservation.png", names or None,
                          title=f"{model_name}: {args.rollout}-step rollouts on {args.data}")


def run(args: argparse.Namespace) -> int:
    import torch

    from kinnsci._atomic import write_text_atomic
    from kinnsci._paths import check_output_path
    from kinnsci.cli.errors import report as report_error
    from kinnsci.cli.errors import user_errors
    from kinnsci.cli.interrupt import run_interruptible
    from kinnsci.cli.tables import format_metrics
    from kinnsci.train import evaluate_checkpoint

    try:
        if args.json is not None:
            check_output_path(args.json, "--json")
        if args.plots is not None:
            check_output_path(args.plots, "--plots", folder=True)
        for target in (args.json, args.plots):
            if target is not None and target.exists() and not args.overwrite and (
                    target.is_file() or any(target.iterdir())):
                raise OutputExistsError(f"{target} exists", path=target)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        evaluation = run_interruptible(lambda: evaluate_checkpoint(
            args.checkpoint, args.data, rollout=args.rollout, batch_size=args.batch_size,
            device=device, progress=not args.no_progress), "evaluate",
            hint="nothing was written")
        report, model, dataset = evaluation
    except user_errors() as exc:
        report_error(exc, "evaluate")
        return 2
    print(format_metrics(report["test"], title=f"{args.checkpoint} on {args.data}"))
    if "rollout" in report:
        errs = report["rollout"]
        print(f"rollout rel. L2: step 1 {errs[0]:.4g}, step {len(errs)} {errs[-1]:.4g}")
        energy = report["rollout_energy_ratio"]
        print(f"rollout energy / true energy: step 1 {energy[0]:.4g}, step {len(energy)} "
              f"{energy[-1]:.4g}")
    if args.json:
        write_text_atomic(args.json, json.dumps(report, indent=2))
    if args.plots:
        from kinnsci.train import plots

        args.plots.mkdir(parents=True, exist_ok=True)
        model_name = getattr(model.backbone, "name", type(model.backbone).__name__)
        plots.plot_dataset_predictions(
            model, dataset, args.plots / "predictions.png", device=device,
            title=f"{model_name} from {args.checkpoint} on {args.data}")
        if "rollout" in report:
            import numpy as np

            names = getattr(getattr(dataset, "fields", None), "names", [])
            plots.plot_rollout_error(
                np.asarray(report["rollout"]), args.plots / "rollout_error.png",
                title=f"{model_name} from {args.checkpoint}: {args.rollout}-step rollouts "
                f"on {args.data}", variables=", ".join(names))
        _physics_plots(report, model, dataset, evaluation.physics, args, model_name, device)
        print(f"plots in {args.plots.resolve()}")
    return 0
