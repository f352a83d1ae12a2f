"""The KINN paper's PDE experiments as plans, one builder per experiment and scale.

Scales:
- ``smoke``: 16x16 grids, two epochs; seconds per experiment (CI checks the machinery).
- ``small``: 32x32 grids, a few hundred samples or a few dozen trajectories, sizes chosen so
  each experiment with 3 seeds and a 3-point learning-rate sweep fits in 30 minutes on
  two CPU cores (measured times in ``ESTIMATED_MINUTES``).
- ``paper``: the resolutions and model sizes of the paper (datasets/ recipes), for GPUs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from kinnsci.errors import ConfigError
from kinnsci.reproduce import papers
from kinnsci.reproduce.plan import SCALES, Claim, DataRecipe, Plan, Variant

STEADY_METRICS = ("rel_l2", "rel_l1", "nrmse", "max_error")
PHYSICS_METRICS = ("pde_residual", "frmse_low", "frmse_mid", "frmse_high", "crmse", "brmse")
"""Physics-aware test metrics every run records (``kinnsci.physics.metrics``; the
residual where the data has an equation); the physics experiments report them."""
ROLLOUT_METRICS = ("rollout_rel_l2", "rollout_nrmse", "rollout_max_error", "final_rel_l2",
                   "rel_l2", "nrmse", "max_error")

# Per scale: lr grid, seeds, epochs, batch; the smoke scale only exercises the machinery.
BUDGET = {
    "smoke": dict(lrs=(1e-3, 4e-3), seeds=2, epochs=2, batch_size=4),
    "small": dict(lrs=(5e-4, 2e-3, 8e-3), seeds=5, epochs=30, batch_size=8),
    "paper": dict(lrs=(5e-4, 1e-3, 2e-3), seeds=3, epochs=100, batch_size=16),
}


def fno_config(scale: str) -> dict:
    # n_modes (2m, 2m - 1) is Li et al.'s one-sided modes = m
    return {"smoke": {"hidden_channels": 8, "n_modes": [8, 7]},
            "small": {"hidden_channels": 20, "n_modes": [16, 15]},
            "paper": {"hidden_channels": 20, "n_modes": [24, 23]}}[scale]


def fkno_config(scale: str, directions: int, **extra) -> dict:
    d_state = {"smoke": 4, "small": 8, "paper": 16}[scale]
    return {**fno_config(scale), "directions": directions, "d_state": d_state, **extra}


def unet_config(scale: str) -> dict:
    return {"smoke": {"hidden_channels": [8, 16]},
            "small": {"hidden_channels": [16, 32, 64, 128]},
            "paper": {"hidden_channels": [32, 64, 128, 256]}}[scale]


def ukno_config(scale: str, **extra) -> dict:
    base = {"smoke": {"hidden_channels": [8, 8, 8, 8], "res_blocks": 1, "directions": 1,
                      "d_state": 4},
            "small": {"hidden_channels": [16, 32, 48, 64], "res_blocks": 1, "directions": 2,
                      "d_state": 8},
            "paper": {}}[scale]
    return {**base, **extra}


def _budget(scale: str, **override) -> dict:
    return {**BUDGET[scale], **override}


KIRCHHOFF_MODELS = ("fkno", "ukno")
"""Models with KNCs: each gets a state-cut twin in every experiment."""


def state_cut_config(config: dict) -> dict:
    """``config`` of a Kirchhoff model with every KNC's state path removed (the control:
    output D x through the same gating, convolutions and residuals; same parameters)."""
    return {**config, "ckb_kwargs": {**config.get("ckb_kwargs", {}), "state_cut": True}}


def with_state_cut_twins(variants: tuple[Variant, ...], claims: tuple[Claim, ...],
                         metric: str) -> tuple[tuple[Variant, ...], tuple[Claim, ...]]:
    """``variants`` plus a "state-cut" twin of each Kirchhoff model (its own learning-rate
    selection, as every model's), and ``claims`` plus one per twin: "the Kirchhoff state
    helps (model vs its state-cut twin)" on the metric of the first claim the model wins
    in the plan (else ``metric``)."""
    twins, twin_claims = [], []
    for v in variants:
        if v.model not in KIRCHHOFF_MODELS or not v.twin:
            continue
        twins.append(Variant(f"{v.key}-cut", f"{v.label} state-cut", v.model,
                             state_cut_config(v.model_config), horizon=v.horizon,
                             lr_from=None if v.lr_from is None else f"{v.lr_from}-cut"))
        twin_claims.append(Claim(f"The Kirchhoff state helps {v.label} (vs its state-cut "
                                 "twin)", "implied by the KNC design (state-cut control)",
                                 v.key, f"{v.key}-cut",
                                 next((c.metric for c in claims if c.better == v.key),
                                      metric)))
    return variants + tuple(twins), claims + tuple(twin_claims)


# --- data ---------------------------------------------------------------------------------
def darcy_data(scale: str) -> DataRecipe:
    n, res = {"smoke": (16, 16), "small": (400, 32), "paper": (1200, 128)}[scale]
    return DataRecipe("darcy", n, res)


def poisson_data(scale: str) -> DataRecipe:
    n, res = {"smoke": (16, 16), "small": (240, 32), "paper": (2000, 64)}[scale]
    return DataRecipe("poisson", n, res)


def navier_stokes_data(scale: str) -> DataRecipe:
    n, res, n_times, dt = {"smoke": (6, 16, 8, 2e-3), "small": (40, 32, 50, 2e-3),
                           "paper": (1200, 64, 50, 1e-3)}[scale]
    return DataRecipe("navier_stokes", n, res, {"nu": 1e-3, "n_times": n_times, "dt": dt})


def shallow_water_data(scale: str, long: bool = False) -> DataRecipe:
    n, res, n_times, t_end = {"smoke": (6, 16, 8, 0.5), "small": (60, 32, 41, 2.0),
                              "paper": (1000, 128, 101, 1.0)}[scale]
    if long:  # twice the time span: errors of long rollouts
        n_times, t_end = 2 * n_times - 1, 2 * t_end
    return DataRecipe("shallow_water", n, res, {"n_times": n_times, "t_end": t_end})


def _history(scale: str) -> int:
    return 2 if scale == "smoke" else 10


def _time_plan(scale: str, data: DataRecipe, small_stride: int = 4, **kwargs) -> dict:
    history = _history(scale)
    stride = {"smoke": 2, "small": small_stride, "paper": 1}[scale]
    return dict(data=data, history=history, stride=stride,
                rollout_steps=data.params["n_times"] - history,
                split=(0.6, 0.2, 0.2), metrics=ROLLOUT_METRICS,
                selection_metric="rollout_rel_l2", **kwargs)


# --- the experiments ------------------------------------------------------------------------
def darcy(scale: str) -> Plan:
    variants = (Variant("ukno", "UKNO", "ukno", ukno_config(scale)),
                Variant("unet", "U-Net", "unet", unet_config(scale)),
                Variant("fno", "FNO", "fno", fno_config(scale) | (
                    {"n_modes": [24, 23]} if scale == "small" else {})))
    claims = (
        Claim("UKNO beats U-Net on Darcy (nRMSE)", "Table 1: 4.5x lower nRMSE than U-Net",
              "ukno", "unet", "nrmse"),
        Claim("UKNO beats FNO on Darcy (nRMSE)", "Table 1: 6.4x lower nRMSE than FNO",
              "ukno", "fno", "nrmse"),
        Claim("UKNO has the lowest Darcy max error (vs FNO)",
              "Table 1: max error nearly 3x lower than the baselines", "ukno", "fno",
              "max_error"),
    )
    return Plan("darcy", scale, "Darcy flow: UKNO vs U-Net vs FNO", "KINN Table 1",
                darcy_data(scale), variants, claims, STEADY_METRICS, inputs=("a",),
                targets=("u",), split=(0.7, 0.15, 0.15), **_budget(scale))


MATCHED = {"unet": {"hidden_channels": [8, 16, 32, 56]},            # 109,377 parameters
           "fno": {"hidden_channels": 10, "n_modes": [23, 22]}}      # 112,457
"""Baselines cut to UKNO's size at the small scale (110,603 parameters)."""


def darcy_matched(scale: str) -> Plan:
    """Darcy's UKNO against U-Net and FNO of its size (the `darcy` baselines are 4x
    larger): "beats" must not mean "is bigger". The UKNO runs are `darcy`'s own."""
    small = scale == "small"
    variants = (Variant("ukno", "UKNO", "ukno", ukno_config(scale)),
                Variant("unet-matched", "U-Net (UKNO's size)", "unet",
                        MATCHED["unet"] if small else unet_config(scale)),
                Variant("fno-matched", "FNO (UKNO's size)", "fno",
                        MATCHED["fno"] if small else fno_config(scale)))
    claims = (
        Claim("UKNO beats a U-Net of its size on Darcy (nRMSE)",
              "Table 1: 4.5x lower nRMSE than U-Net (sizes not matched)", "ukno",
              "unet-matched", "nrmse"),
        Claim("UKNO beats an FNO of its size on Darcy (nRMSE)",
              "Table 1: 6.4x lower nRMSE than FNO (sizes not matched)", "ukno",
              "fno-matched", "nrmse"),
    )
    return Plan("darcy-matched", scale, "Darcy flow at matched sizes: UKNO vs U-Net and FNO "
                "of UKNO's parameter count", "KINN Table 1, sizes matched",
                darcy_data(scale), variants, claims, STEADY_METRICS, inputs=("a",),
                targets=("u",), split=(0.7, 0.15, 0.15), **_budget(scale))


def routing(scale: str) -> Plan:
    variants = (Variant("series", "UKNO series", "ukno", ukno_config(scale)),
                Variant("parallel", "UKNO parallel", "ukno",
                        ukno_config(scale, routing="parallel")))
    claims = (Claim("A series CKB cascade beats a parallel one", "Table 7 (ImageNet): series "
                    "+0.6 / +0.9 top-1 over baseline, parallel +0.3", "series", "parallel",
                    "rel_l2"),)
    return Plan("routing", scale, "CKB routing on Darcy: series vs parallel cascade",
                "KINN Table 7 (the routing switch, tested here on a PDE)", darcy_data(scale),
                variants, claims, STEADY_METRICS, inputs=("a",), targets=("u",),
                split=(0.7, 0.15, 0.15), **_budget(scale),
                note="Table 7 measured routing on ImageNet; this repeats the switch on "
                     "Darcy with the darcy experiment's UKNO.")


def poisson_order(scale: str) -> Plan:
    orders = (1, 2, 3, 4)
    variants = tuple(Variant(f"order-{k}", f"UKNO order {k}", "ukno",
                             ukno_config(scale, ckb_order=k)) for k in orders)
    variants += (Variant("unet", "U-Net", "unet", unet_config(scale)),)
    claims = (
        Claim("CKB order 2 beats order 1 on Poisson (rel. L1)",
              "Table 3: rel. L1 0.307 % -> 0.292 %", "order-2", "order-1", "rel_l1"),
        Claim("CKB order 4 beats order 1 on Poisson (rel. L1)",
              "Table 3: rel. L1 0.307 % -> 0.268 % (best)", "order-4", "order-1", "rel_l1"),
        Claim("UKNO (order 2) beats U-Net on Poisson (rel. L1)",
              "Table 3: U-Net baseline worse than every order", "order-2", "unet", "rel_l1"),
    )
    return Plan("poisson-order", scale, "Poisson: UKNO with CKB order 1-4 vs U-Net",
                "KINN Table 3", poisson_data(scale), variants, claims, STEADY_METRICS,
                inputs=("f",), targets=("u",), split=(0.7, 0.15, 0.15),
                **_budget(scale, epochs=24 if scale == "small" else BUDGET[scale]["epochs"]))


def _small_epochs(scale: str, small: int) -> dict:
    return _budget(scale, **({"epochs": small} if scale == "small" else {}))


def shallow_water(scale: str) -> Plan:
    directions = 1 if scale == "smoke" else 4
    variants = (Variant("fkno", f"FKNO-{directions}", "fkno", fkno_config(scale, directions)),
                Variant("fno", "FNO", "fno", fno_config(scale)),
                Variant("unet", "U-Net", "unet", unet_config(scale)))
    claims = (
        Claim("FKNO beats FNO on shallow water (rollout nRMSE)",
              "Table 2: FKNO has the lowest nRMSE", "fkno", "fno", "rollout_nrmse"),
        Claim("FKNO beats U-Net on shallow water (rollout nRMSE)",
              "Table 2: U-Net 'struggles to maintain coherent wave structures'", "fkno",
              "unet", "rollout_nrmse"),
        Claim("FKNO beats FNO on shallow water (one-step nRMSE)",
              "Table 2: FKNO has the lowest nRMSE", "fkno", "fno", "nrmse"),
    )
    return Plan("shallow-water", scale, "Shallow water: FKNO vs FNO vs U-Net", "KINN Table 2",
                variants=variants, claims=claims, variables=("h", "u", "v"),
                **_time_plan(scale, shallow_water_data(scale)), **_small_epochs(scale, 24))


def discretizer_variants(scale: str) -> tuple[Variant, ...]:
    """FKNO-1 with each discretizer, everything else the same; one state-cut twin (zoh's:
    without the state, the discretizer has nothing to act on)."""
    return tuple(Variant(name, f"FKNO-1 {name}", "fkno", fkno_config(scale, 1, discretizer=name),
                         twin=name == "zoh")
                 for name in ("zoh", "euler", "bilinear"))


def discretizer(scale: str) -> Plan:
    variants = discretizer_variants(scale)
    claims = (
        Claim("Exact ZOH beats Euler on long rollouts (final-step rel. L2)",
              "Sec. 'Shallow-water forecasting': ZOH updates are A-stable and suppress error "
              "growth over long rollouts", "zoh", "euler", "final_rel_l2"),
        Claim("Exact ZOH beats bilinear on long rollouts (final-step rel. L2)",
              "same argument (exact integration vs a discrete update)", "zoh", "bilinear",
              "final_rel_l2"),
    )
    return Plan("discretizer", scale, "Discretizer of the Kirchhoff scan: ZOH vs Euler vs "
                "bilinear on long shallow-water rollouts", "KINN Sec. 'Shallow-Water "
                "Forecasting' (stability argument)", variants=variants, claims=claims,
                variables=("h", "u", "v"),
                **_time_plan(scale, shallow_water_data(scale, long=True), small_stride=8),
                **_small_epochs(scale, 24),
                note="The scan runs over space inside each step; the discretizer sets how "
                     "the Kirchhoff state moves along the grid, not the time stepping.")


def ns_rollout(scale: str) -> Plan:
    directions = 4 if scale == "paper" else 1
    horizons = (1, 2, 3) if scale == "smoke" else (3, 5, 10)
    variants = ()
    for model, label, config in (
            ("fkno", f"FKNO-{directions}", fkno_config(scale, directions)),
            ("fno", "FNO", fno_config(scale))):
        for h in horizons:
            variants += (Variant(f"{model}-h{h}", f"{label}, {h}-step training", model,
                                 config, horizon=h,
                                 lr_from=None if h == horizons[0] else
                                 f"{model}-h{horizons[0]}"),)
    claims = tuple(
        Claim(f"FKNO beats FNO in 40-step rollouts after {h}-step training",
              f"Table 4: FKNO below FNO for {h}-step unrolled training", f"fkno-h{h}",
              f"fno-h{h}", "rollout_rel_l2") for h in horizons)
    return Plan("ns-rollout", scale, "Navier-Stokes rollouts: FKNO vs FNO after 3-, 5- and "
                "10-step unrolled training", "KINN Table 4", variants=variants, claims=claims,
                variables=("w",), **_time_plan(scale, navier_stokes_data(scale), small_stride=8),
                **_small_epochs(scale, 12),
                note="Each model's learning rate is swept with its shortest training horizon "
                     "and reused for the longer ones." + (
                         " At the small scale FKNO-1 (one scan direction) stands in for "
                         "FKNO-4 to fit the CPU budget." if scale == "small" else ""))


def ns_directions(scale: str) -> Plan:
    variants = (Variant("fno", "FNO", "fno", fno_config(scale)),) + tuple(
        Variant(f"fkno-{d}", f"FKNO-{d}", "fkno", fkno_config(scale, d)) for d in (1, 2, 4))
    claims = (
        Claim("FKNO-1 beats FNO on Navier-Stokes", "Table 5: FNO > FKNO-1 test error",
              "fkno-1", "fno", "rel_l2"),
        Claim("FKNO-4 beats FKNO-1 on Navier-Stokes", "Table 5: FKNO-4 best, then FKNO-2",
              "fkno-4", "fkno-1", "rel_l2"),
        Claim("FKNO-4 beats FNO on Navier-Stokes", "Table 5: FKNO-4 has the lowest test error",
              "fkno-4", "fno", "rel_l2"),
        Claim("FKNO-4 beats FNO in rollouts", "Table 5: FKNO-4 best", "fkno-4", "fno",
              "rollout_rel_l2"),
    )
    return Plan("ns-directions", scale, "Navier-Stokes: FNO vs FKNO-1/2/4 (scan directions)",
                "KINN Table 5", variants=variants, claims=claims, variables=("w",),
                **_time_plan(scale, navier_stokes_data(scale), small_stride=4),
                **_small_epochs(scale, 20))


SCAN_LRS = (2e-3, 8e-3, 1.6e-2)
"""The learning-rate grid of the experiments where a scan should matter (a row scan won
only at the higher rates in the pilot)."""


def _scan_budget(scale: str) -> dict:
    return _budget(scale, lrs=SCAN_LRS, **({"epochs": 20} if scale == "small" else {}))


def long_range_data(scale: str, resolution: int | None = None) -> DataRecipe:
    n, res = {"smoke": (16, 16), "small": (240, 32), "paper": (1000, 64)}[scale]
    return DataRecipe("long_range", n, resolution or res, {"mode": "mean"})


def _long_range(scale: str, resolution: int | None, name: str) -> Plan:
    variants = (Variant("fkno", "FKNO-1", "fkno", fkno_config(scale, 1)),
                Variant("fno", "FNO", "fno", fno_config(scale)),
                Variant("unet", "U-Net", "unet", unet_config(scale)))
    claims = (
        Claim("FKNO-1 beats FNO on a causal long-range problem (rel. L2)",
              "not in the paper: a row running mean, which a row scan represents exactly",
              "fkno", "fno", "rel_l2"),
        Claim("FKNO-1 beats U-Net on a causal long-range problem (rel. L2)",
              "not in the paper (as above)", "fkno", "unet", "rel_l2"),
    )
    data = long_range_data(scale, resolution)
    return Plan(name, scale, f"Causal long-range rows at {data.resolution}x{data.resolution}: "
                "FKNO-1 (and its state-cut twin) vs FNO vs U-Net", "a test bed for the "
                "Kirchhoff state (issue: does the state do anything?)", data, variants,
                claims, STEADY_METRICS, inputs=("f",), targets=("u",),
                split=(0.7, 0.15, 0.15),
                **_scan_budget(scale),
                note="u(x, y) is the running mean of a random field f along its row: every "
                     "point depends on everything to its left, which a causal row scan "
                     "represents exactly and a local or band-limited operator does not.")


def long_range(scale: str) -> Plan:
    return _long_range(scale, None, "long-range")


def long_range_64(scale: str) -> Plan:
    return _long_range(scale, 64 if scale == "small" else None, "long-range-64")


def resolution_transfer(scale: str) -> Plan:
    train = long_range_data(scale).resolution
    sizes = (2 * train, 4 * train)
    variants = (Variant("fkno", "FKNO-1, Δ scaled", "fkno",
                        fkno_config(scale, 1, reference_resolution=train)),
                # its state-cut twin would be the Δ-scaled one's (no scan, no Δ)
                Variant("fkno-fixed-dt", "FKNO-1, Δ fixed", "fkno", fkno_config(scale, 1),
                        twin=False),
                Variant("fno", "FNO", "fno", fno_config(scale)))
    claims = tuple(
        claim for size in sizes for claim in (
            Claim(f"FKNO-1 (Δ scaled) beats FNO at {size}² after training at {train}²",
                  "KINN: a continuous-time cell keeps its time constants on any grid; FNO "
                  "is the resolution-invariant baseline", "fkno", "fno", f"rel_l2@{size}"),
            Claim(f"Scaling Δ with the grid spacing helps FKNO-1 at {size}²",
                  "the reference_resolution option (FKNO)", "fkno", "fkno-fixed-dt",
                  f"rel_l2@{size}")))
    return Plan("resolution-transfer", scale, f"Resolution transfer: trained at {train}², "
                f"evaluated at {sizes[0]}² and {sizes[1]}²", "KINN's resolution argument, "
                "on the causal long-range problem", long_range_data(scale), variants, claims,
                (*STEADY_METRICS, *(f"rel_l2@{n}" for n in sizes)), inputs=("f",),
                targets=("u",), split=(0.7, 0.15, 0.15), transfer=sizes,
                **_scan_budget(scale),
                note="The same weights evaluated on new samples of the same problem at finer "
                     "grids. 'Δ scaled' runs the scan with steps of grid spacing / training "
                     "spacing; 'Δ fixed' is the same architecture trained without it (at the "
                     "training grid both are the same computation).")


def discretizer_long_range(scale: str) -> Plan:
    variants = discretizer_variants(scale)
    claims = (
        Claim("Exact ZOH beats Euler where the state carries weight (rel. L2)",
              "KINN: exact integration vs a discrete update", "zoh", "euler", "rel_l2"),
        Claim("Exact ZOH beats bilinear where the state carries weight (rel. L2)",
              "as above", "zoh", "bilinear", "rel_l2"),
    )
    return Plan("discretizer-long-range", scale, "Discretizer of the Kirchhoff scan on the "
                "causal long-range problem: ZOH vs Euler vs bilinear", "KINN Sec. "
                "'Shallow-Water Forecasting' (stability argument), rerun where a scan matters",
                long_range_data(scale), variants, claims, STEADY_METRICS, inputs=("f",),
                targets=("u",), split=(0.7, 0.15, 0.15),
                **_scan_budget(scale),
                note="`kinnsci inspect` on each run's final.pt reports the |A|Δ the models "
                     "reach and the state's share of each KNC's output.")


PHYSICS_LOSS = "rel_l2=1,pde=0.003"
"""The data + PDE loss of the physics experiments. The weight was set from one pilot run
before any experiment run, so that both terms are of one size: an FNO trained on 100
Darcy samples with the data loss alone ends at rel. L2 0.028 with a mean square residual
of 7.8 (0.003 x 7.8 = 0.023)."""


def physics_few_labels(scale: str) -> Plan:
    sizes = (4, 8) if scale == "smoke" else (25, 100)
    variants = ()
    for model, label, config in (("fno", "FNO", fno_config(scale)),
                                 ("ukno", "UKNO", ukno_config(scale))):
        for n in sizes:
            variants += (
                Variant(f"{model}-{n}", f"{label}, {n} samples, data loss", model, config,
                        twin=False, train_samples=n),
                Variant(f"{model}-{n}-pde", f"{label}, {n} samples, data + PDE loss", model,
                        config, twin=False, train_samples=n, loss=PHYSICS_LOSS))
    claims = tuple(
        Claim(f"A PDE loss helps {label} trained on {n} labelled samples (rel. L2)",
              "PINO: the physics loss improves operators trained with little data",
              f"{model}-{n}-pde", f"{model}-{n}", "rel_l2")
        for model, label in (("fno", "FNO"), ("ukno", "UKNO")) for n in sizes)
    return Plan("physics-few-labels", scale, "Darcy with few labelled samples: data loss "
                "vs data + PDE residual loss (FNO, UKNO)", "PINO (Li et al.), Darcy",
                darcy_data(scale), variants, claims, STEADY_METRICS + PHYSICS_METRICS,
                inputs=("a",),
                targets=("u",), split=(0.7, 0.15, 0.15),
                **_budget(scale, lrs=(1e-3, 4e-3) if scale == "small" else
                          BUDGET[scale]["lrs"]),
                note=f"Each model is trained on the first N samples of the training split "
                     f"(its normalisers fitted on those N) with the relative L2 loss, or "
                     f"with {PHYSICS_LOSS.replace(',', ' + ')} x the mean square residual "
                     "of -div(a grad u) = f on its predictions (kinnsci.physics, the "
                     "generator's stencil); the PDE term acts on the labelled inputs only. "
                     "Validation and test use the full splits.")


def physics_superres(scale: str) -> Plan:
    train = darcy_data(scale).resolution
    size = 2 * train
    steps = {"smoke": 2, "small": 50, "paper": 200}[scale]
    variants = (Variant("fno", "FNO, data loss", "fno", fno_config(scale)),
                Variant("fno-pde", "FNO, data + PDE loss", "fno", fno_config(scale),
                        loss=PHYSICS_LOSS))
    claims = (
        Claim(f"Physics fine-tuning improves FNO's zero-shot error at {size}² (trained at "
              f"{train}²)", "PINO: test-time optimisation of the PDE residual improves "
              "zero-shot super-resolution", "fno", "fno", f"rel_l2@{size}_ft",
              worse_metric=f"rel_l2@{size}"),
        Claim(f"Physics fine-tuning improves the PDE-trained FNO at {size}²", "as above",
              "fno-pde", "fno-pde", f"rel_l2@{size}_ft", worse_metric=f"rel_l2@{size}"),
        Claim(f"Training with the PDE loss helps FNO's zero-shot error at {size}²",
              "PINO: the physics loss improves generalisation", "fno-pde", "fno",
              f"rel_l2@{size}"),
    )
    return Plan("physics-superres", scale, f"Zero-shot super-resolution on Darcy: FNO "
                f"trained at {train}², tested at {size}², with and without physics "
                "fine-tuning", "PINO (Li et al.), Darcy super-resolution",
                darcy_data(scale), variants, claims,
                (*STEADY_METRICS, "pde_residual", f"rel_l2@{size}", f"rel_l2@{size}_ft"),
                inputs=("a",),
                targets=("u",), split=(0.7, 0.15, 0.15), transfer=(size,),
                finetune={"steps": steps, "lr": 1e-4},
                **_budget(scale, lrs=(1e-3, 4e-3) if scale == "small" else
                          BUDGET[scale]["lrs"]),
                note=f"'@{size}': the trained weights on new Darcy samples at {size}² "
                     f"(seed 1); '_ft': after {steps} steps of AdamW (lr 1e-4) on the PDE "
                     "residual of those inputs alone, no targets (PINO's test-time "
                     "optimisation), a copy fine-tuned per run.")


def work_units(plan: Plan) -> float:
    """Training work of a whole plan in sample-epochs x grid points x unrolled steps,
    summed over every run (sweep and seeds); model width is not included."""
    data = plan.data
    if plan.tabular:
        from kinnsci.reproduce.papers import table_rows

        runs = sum(plan.seeds + (len(plan.lrs) if v.lr_from is None else 0)
                   for v in plan.variants)
        return float(runs * table_rows(plan) * plan.epochs)
    n_train = round(plan.split[0] * data.n_samples)
    total = 0.0
    for v in plan.variants:
        if plan.steady:
            items = min(n_train, v.train_samples or n_train)
        else:
            items = n_train * ((data.params["n_times"] - plan.history - v.horizon)
                               // plan.stride + 1)
        runs = plan.seeds + (len(plan.lrs) - 1 if v.lr_from is None else 0)
        total += runs * items * plan.epochs * data.resolution ** 2 * v.horizon
    return total


@dataclass(frozen=True)
class Experiment:
    """A named experiment: ``build(scale)`` gives its plan; ``minutes`` the measured wall
    time per scale from scratch on 2 CPU cores (None: not measured)."""

    name: str
    build: Callable[[str], Plan]
    minutes: dict[str, float | None]

    def estimated_minutes(self, scale: str) -> tuple[float | None, bool]:
        """(minutes, measured?): the measured time, or one extrapolated from the small
        scale by :func:`work_units` (a lower bound: paper models are also wider)."""
        if self.minutes.get(scale) is not None:
            return self.minutes[scale], True
        small = self.minutes.get("small")
        if small is None:
            return None, False
        return small * work_units(self.plan(scale)) / work_units(self.plan("small")), False

    def plan(self, scale: str = "small", seeds: int | None = None,
             lrs: tuple[float, ...] | None = None) -> Plan:
        """The plan at ``scale``, optionally with another number of seeds or another
        learning-rate grid (still one grid for every model).

        Raises:
            ValueError: an unknown scale, seeds < 1, or a grid with a rate <= 0.
        """
        if scale not in SCALES:
            raise ConfigError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
        plan = self.build(scale)
        variants, claims = with_state_cut_twins(plan.variants, plan.claims,
                                                plan.selection_metric)
        plan = replace(plan, variants=variants, claims=claims)
        if seeds is not None:
            if not isinstance(seeds, int) or seeds < 1:
                raise ConfigError(f"seeds must be a positive integer, got {seeds!r}")
            plan = replace(plan, seeds=seeds)
        if lrs is not None:
            if not lrs or any(not lr > 0 for lr in lrs):
                raise ConfigError(f"lrs must be one or more learning rates > 0, got {lrs!r}")
            plan = replace(plan, lrs=tuple(sorted(set(float(lr) for lr in lrs))))
        return plan


# Minutes on 2 CPU cores (torch 2.13.0+cpu, 2026-12-01): darcy, shallow-water,
# poisson-order and routing from one wall-clock run each (upper bounds: parts shared the
# machine); ns-rollout, ns-directions and discretizer as the sum of their runs, each timed
# alone, plus the data generation and about 20 s of reports (docs/results.md). These were
# measured with 3 seeds, before the state-cut twins and the selection runs: the current
# plans take about 2-3x as long. long-range: 2026-12-04, 5 seeds and its twin, one run.
# kirchhoffnet-*, dynpmnn-*, physics-*: 2026-12-04, one thread each, two experiments
# running side by side on the 2 cores (one wall-clock run each; kirchhoffnet-* and
# dynpmnn-* also shared the machine with test runs): upper bounds.
EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    Experiment("darcy", darcy, {"smoke": 0.05, "small": 33.3, "paper": None}),
    Experiment("darcy-matched", darcy_matched, {"smoke": None, "small": 9.2, "paper": None}),
    Experiment("shallow-water", shallow_water, {"smoke": 0.04, "small": 16.0, "paper": None}),
    Experiment("poisson-order", poisson_order, {"smoke": 0.08, "small": 16.3, "paper": None}),
    Experiment("ns-rollout", ns_rollout, {"smoke": 0.06, "small": 16.3, "paper": None}),
    Experiment("ns-directions", ns_directions, {"smoke": 0.02, "small": 16.6, "paper": None}),
    Experiment("discretizer", discretizer, {"smoke": 0.08, "small": 18.4, "paper": None}),
    Experiment("routing", routing, {"smoke": 0.02, "small": 13.6, "paper": None}),
    Experiment("long-range", long_range, {"smoke": None, "small": 17.4, "paper": None}),
    Experiment("long-range-64", long_range_64, {"smoke": None, "small": None, "paper": None}),
    Experiment("discretizer-long-range", discretizer_long_range,
               {"smoke": None, "small": None, "paper": None}),
    Experiment("resolution-transfer", resolution_transfer,
               {"smoke": None, "small": None, "paper": None}),
    Experiment("kirchhoffnet-diabetes", papers.kirchhoffnet_diabetes,
               {"smoke": None, "small": 20.1, "paper": None}),
    Experiment("kirchhoffnet-friedman1", papers.kirchhoffnet_friedman,
               {"smoke": None, "small": 22.1, "paper": None}),
    Experiment("dynpmnn-diabetes", papers.dynpmnn_diabetes,
               {"smoke": None, "small": 4.8, "paper": None}),
    Experiment("dynpmnn-friedman1", papers.dynpmnn_friedman,
               {"smoke": None, "small": 4.7, "paper": None}),
    Experiment("physics-few-labels", physics_few_labels,
               {"smoke": None, "small": 20.5, "paper": None}),
    Experiment("physics-superres", physics_superres,
               {"smoke": None, "small": 12.0, "paper": None}),
)}

GROUPS: dict[str, tuple[str, ...]] = {
    "kirchhoffnet": ("kirchhoffnet-diabetes", "kirchhoffnet-friedman1"),
    "dynpmnn": ("dynpmnn-diabetes", "dynpmnn-friedman1"),
    "physics": ("physics-few-labels", "physics-superres"),
}
"""Names that run several experiments: one paper's claims on each built-in table."""


def experiment_names(name: str) -> list[str]:
    """The experiments ``name`` runs: every one for ``all``, a group's members
    (:data:`GROUPS`), or the one experiment of that name.

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
    """
    key = name.lower().replace("_", "-")
    if key == "all":
        return list(EXPERIMENTS)
    if key in GROUPS:
        return list(GROUPS[key])
    return [get_experiment(name).name]


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name`` (``shallow_water`` and ``shallow-water`` both work).

    Raises:
        ValueError: no experiment has that name (the message lists them).
    """
    key = name.lower().replace("_", "-")
    if key not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; known experiments: "
                          f"{', '.join(EXPERIMENTS)}, groups {', '.join(GROUPS)} (or "
                          "'all')")
    return EXPERIMENTS[key]
