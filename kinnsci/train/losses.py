"""Training losses as a weighted sum of named terms: data terms (relative L2/L1, MSE,
relative H1) and the PDE residual of the prediction (``pde``, PINO's physics loss).

    loss: {rel_l2: 1.0, h1: 0.5, pde: 0.1}        # run config (YAML)
    --loss rel_l2=1,h1=0.5,pde=0.1                 # command line

Each term is averaged over the batch; the terms' epoch means are logged as
``loss_<name>`` beside ``train_loss`` (the weighted sum).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from kinnsci.errors import ConfigError, DataError

if TYPE_CHECKING:
    import xarray as xr

    from kinnsci.physics.equation import Equation

LOSS_TERMS = ("rel_l2", "rel_l1", "mse", "h1", "pde")
"""The named terms a loss can combine."""
AGGREGATORS = ("softadapt", "relobralo")
"""Adaptive weightings of the terms (neuraloperator's ``SoftAdapt`` and ``Relobralo``:
each term's weight follows its relative progress), on top of the fixed weights."""


def parse_loss(spec: str | Mapping[str, Any], source: str = "loss") -> dict[str, float]:
    """``"rel_l2"`` -> ``{"rel_l2": 1.0}``; ``"rel_l2=1,pde=0.1"`` or a mapping -> the
    weights, checked.

    Raises:
        ConfigError: an unknown term, a weight that is not a finite number >= 0, or no
            term with a positive weight (one line naming it).
    """
    if isinstance(spec, str):
        weights: dict[str, Any] = {}
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            name, _, value = part.partition("=")
            if name.strip() in weights:
                raise ConfigError(f"{source}: term {name.strip()!r} is given twice")
            weights[name.strip()] = value.strip() if value else 1.0
    elif isinstance(spec, Mapping):
        weights = dict(spec)
    else:
        raise ConfigError(f"{source} must be a term name or a mapping of term names to "
                          f"weights, got {spec!r}")
    out = {}
    for name, value in weights.items():
        if name not in LOSS_TERMS:
            raise ConfigError(f"{source}: unknown term {name!r}; terms: "
                              f"{', '.join(LOSS_TERMS)}")
        try:
            weight = float(value)
        except (TypeError, ValueError):
            weight = math.nan
        if not (math.isfinite(weight) and weight >= 0):
            raise ConfigError(f"{source}: the weight of {name} must be a finite number >= 0, "
                              f"got {value!r}")
        out[name] = weight
    if not any(w > 0 for w in out.values()):
        raise ConfigError(f"{source}: give at least one term a weight > 0 (e.g. rel_l2=1)")
    return out


def h1_relative(pred: Tensor, true: Tensor) -> Tensor:
    """neuraloperator's relative H1 error (function values and first differences),
    averaged over the batch; fields (B, C, H, W) or (B, T, C, H, W)."""
    from neuralop.losses import H1Loss

    if pred.ndim == 5:
        pred, true = pred.flatten(0, 1), true.flatten(0, 1)
    loss = H1Loss(d=2, reduction="mean", periodic_in_x=False, periodic_in_y=False)
    return loss(pred, true)


class PhysicsResidual:
    """Mean square PDE residual of a prediction, in physical units and float32.

    Maps the model's channels to the equation's variables: steady runs read
    ``inputs`` from x and ``targets`` from the prediction; time-dependent runs pair the
    last history state (x's channels ``(history - 1) V .. history V``) with the predicted
    step(s) into a (B, 1 + steps, H, W) sequence per variable.

    Raises:
        DataError: the equation's variables are not all among the run's variables.
    """

    def __init__(self, equation: Equation, params: dict[str, Any], *,
                 inputs: Sequence[str] | None = None, targets: Sequence[str] | None = None,
                 variables: Sequence[str] | None = None, history: int = 1) -> None:
        self.equation, self.params = equation, params
        self.steady = variables is None
        self.inputs, self.targets = list(inputs or []), list(targets or [])
        self.variables, self.history = list(variables or []), history
        have = set(self.inputs + self.targets) if self.steady else set(self.variables)
        missing = [v for v in equation.variables if v not in have]
        if missing:
            where = "inputs or targets" if self.steady else "variables"
            raise DataError(f"loss term pde: the {equation.name} equation needs the "
                            f"variables {', '.join(equation.variables)}; the run's {where} "
                            f"lack {', '.join(missing)}")
        if self.steady != equation.steady:
            kind = "steady (inputs/targets)" if equation.steady else "time-dependent " \
                "(variables)"
            raise DataError(f"loss term pde: the {equation.name} equation is {kind}; train "
                            "it that way")

    @classmethod
    def for_data(cls, ds: xr.Dataset, **run) -> PhysicsResidual:
        """The residual of the equation of the generator that wrote ``ds``.

        Raises:
            ConfigError: the file was not written by a generator with an equation.
            DataError: the file lacks an attribute the equation needs.
        """
        from kinnsci.physics.equation import generator_of
        from kinnsci.physics.registry import EQUATIONS, get_equation

        name = generator_of(ds)
        if name is None or name not in EQUATIONS:
            known = ", ".join(sorted(EQUATIONS))
            raise ConfigError("loss term pde needs the PDE of the data: "
                              + (f"its generator {name!r} has no equation" if name else
                                 "the file names no kinnsci generator (attribute 'source')")
                              + f"; equations exist for {known} (kinnsci.physics: register "
                              "your own)")
        equation = get_equation(name)
        return cls(equation, equation.parameters(ds), **run)

    def fields(self, pred: Tensor, x: Tensor) -> dict[str, Tensor]:
        pred, x = pred.float(), x.float()
        if self.steady:
            out = {n: x[:, i] for i, n in enumerate(self.inputs)}
            out.update({n: pred[:, i] for i, n in enumerate(self.targets)})
            return out
        n = len(self.variables)
        last = x[:, (self.history - 1) * n:self.history * n]
        steps = pred if pred.ndim == 5 else pred[:, None]
        return {v: torch.cat([last[:, None, i], steps[:, :, i]], dim=1)
                for i, v in enumerate(self.variables)}

    def __call__(self, pred: Tensor, x: Tensor) -> Tensor:
        """Sum over the equation's components of the mean square residual."""
        with torch.autocast(pred.device.type, enabled=False):
            parts = self.equation.residual_tensor(self.fields(pred, x), self.params)
            return sum(r.pow(2).mean() for r in parts.values())


class CompositeLoss:
    """``sum(weight * term(pred, true))`` over the named terms; ``pde`` needs a
    :class:`PhysicsResidual`. Called as ``loss(pred, true, x)`` by the Trainer
    (``takes_inputs``); :meth:`epoch_means` returns and resets each term's mean.

    ``aggregator`` (``"softadapt"`` or ``"relobralo"``, neuraloperator's) reweights the
    fixed-weighted terms at every training step by their relative progress; its weights
    of the last step are in ``last_weights``. Its state is per process and is not saved
    in checkpoints (a resumed run starts it afresh)."""

    takes_inputs = True

    def __init__(self, weights: Mapping[str, float], physics: PhysicsResidual | None = None,
                 aggregator: str | None = None):
        from kinnsci.train.metrics import LOSSES

        if aggregator is not None and aggregator not in AGGREGATORS:
            raise ConfigError(f"loss_aggregator must be one of {', '.join(AGGREGATORS)} or "
                              f"none, got {aggregator!r}")
        self.aggregator_name, self._aggregator, self._step = aggregator, None, 0
        self.last_weights: dict[str, float] = {}
        self.weights = {k: float(v) for k, v in weights.items()}
        if "pde" in self.weights and physics is None:
            raise ConfigError("loss term pde needs the data's equation (PhysicsResidual); "
                              "kinnsci.train.build_run makes it from the data file")
        self.physics = physics
        data_terms: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
            k: LOSSES[k] for k in ("rel_l2", "rel_l1", "mse")}
        data_terms["h1"] = h1_relative
        self.terms = {k: data_terms[k] for k in self.weights if k != "pde"}
        self._sums: dict[str, Tensor] = {}
        self._count = 0

    def __call__(self, pred: Tensor, true: Tensor, x: Tensor | None = None) -> Tensor:
        values = {name: fn(pred, true) for name, fn in self.terms.items()}
        if "pde" in self.weights:
            if x is None:
                raise ConfigError("loss term pde needs the model inputs: call loss(pred, "
                                  "true, x)")
            values["pde"] = self.physics(pred, x)
        if self.aggregator_name is not None and torch.is_grad_enabled():
            total = self._aggregate(values, pred.device)
        else:
            total = sum(self.weights[k] * v for k, v in values.items())
        if torch.is_grad_enabled():  # training batches only: the logged epoch means stay
            n = len(pred)  # on the device (no sync per batch), weighted as train_loss is
            for k, v in values.items():
                self._sums[k] = self._sums.get(k, 0.0) + v.detach().double() * n
            self._count += n
        return total

    def _aggregate(self, values: dict[str, Tensor], device) -> Tensor:
        from neuralop.losses.meta_losses import Relobralo, SoftAdapt

        if self._aggregator is None:
            cls = SoftAdapt if self.aggregator_name == "softadapt" else Relobralo
            self._aggregator = cls([torch.zeros((), device=device)], len(values),
                                   weights=self.weights)
        total, lmbda = self._aggregator(values, self._step)
        self._step += 1
        self.last_weights = dict(zip(values, lmbda.detach().tolist(), strict=True))
        return total

    def epoch_means(self) -> dict[str, float]:
        """Each term's mean over the items since the last call (then reset)."""
        out = {k: float(v) / self._count for k, v in self._sums.items()} if self._count \
            else {}
        self._sums, self._count = {}, 0
        return out


def mean_residual(model: nn.Module, dataset, physics, batch_size: int = 16,
                  device: str | torch.device = "cpu") -> float:
    """The mean square PDE residual of ``model``'s one-step predictions over ``dataset``
    (every item weighted equally), in physical units."""
    from torch.utils.data import DataLoader

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for x, _ in DataLoader(dataset, batch_size=batch_size):
            x = x.to(device)
            total += float(physics(model(x), x)) * len(x)
            count += len(x)
    return total / count


def make_loss(spec: str | Mapping[str, Any], physics: PhysicsResidual | None = None,
              aggregator: str | None = None) -> str | CompositeLoss:
    """A single data term stays a name (the Trainer's plain loss); anything else, or any
    loss with an ``aggregator``, becomes a :class:`CompositeLoss`."""
    weights = parse_loss(spec)
    if len(weights) == 1 and "pde" not in weights and "h1" not in weights \
            and next(iter(weights.values())) == 1.0 and aggregator is None:
        return next(iter(weights))
    return CompositeLoss(weights, physics, aggregator)


__all__ = ["AGGREGATORS", "LOSS_TERMS", "CompositeLoss", "PhysicsResidual", "h1_relative",
           "make_loss", "mean_residual", "parse_loss"]
