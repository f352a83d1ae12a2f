"""``kinnsci reproduce``: the KINN paper's PDE experiments with seeds, a fair learning-rate
sweep, error bars and a verdict per claim.

    from kinnsci.reproduce import get_experiment, run_experiment
    plan = get_experiment("darcy").plan("small", seeds=3)
    results = run_experiment(plan, "reproduce_out", resume=True)
"""

from kinnsci.reproduce.experiments import EXPERIMENTS, Experiment, get_experiment
from kinnsci.reproduce.plan import SCALES, Claim, DataRecipe, Plan, Results, RunRecord, Variant
from kinnsci.reproduce.runner import ResultsError, check_results, run_experiment
from kinnsci.reproduce.stats import summarize, verdict

__all__ = [
    "EXPERIMENTS", "SCALES", "Claim", "DataRecipe", "Experiment", "Plan", "Results",
    "ResultsError", "RunRecord", "Variant", "check_results", "get_experiment",
    "run_experiment", "summarize", "verdict",
]
