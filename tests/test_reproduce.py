"""kinnsci reproduce: plans, the verdict rule, results.json's schema, resume and refusals."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from kinnsci.cli.main import main
from kinnsci.models import get_model
from kinnsci.reproduce import (
    EXPERIMENTS,
    SCALES,
    Results,
    ResultsError,
    RunRecord,
    check_results,
    get_experiment,
    run_experiment,
    runner,
    summarize,
)
from kinnsci.train.trainer import Trainer


def tiny_plan(**changes):
    """Darcy at smoke size with two fast models: U-Net and FNO, 2 lrs, 2 seeds, 2 epochs."""
    plan = get_experiment("darcy").plan("smoke")
    variants = tuple(v for v in plan.variants if v.key in ("unet", "fno"))
    claims = tuple(c for c in plan.claims if c.better in ("unet", "fno")) or (
        dataclasses.replace(plan.claims[0], better="unet", worse="fno"),)
    return dataclasses.replace(plan, variants=variants, claims=claims, **changes)


def strict_json(path):
    def reject(constant):
        raise ValueError(f"{path} holds {constant}, which strict JSON does not allow")

    return json.loads(path.read_text(), parse_constant=reject)


# --- the verdict rule -----------------------------------------------------------------------
def test_summarize_matches_numpy_and_counts_diverged_runs():
    values = [0.3, 0.1, 0.25, float("nan"), None]
    s = summarize(values)
    finite = np.array([0.3, 0.1, 0.25])
    assert s["mean"] == pytest.approx(finite.mean())
    assert s["std"] == pytest.approx(finite.std(ddof=1))
    assert (s["n"], s["n_failed"]) == (3, 2)


# --- plans ---------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_plan_is_consistent(name, scale):
    plan = get_experiment(name).plan(scale)
    keys = [v.key for v in plan.variants]
    assert len(set(keys)) == len(keys)
    for claim in plan.claims:
        assert {claim.better, claim.worse} <= set(keys)
        assert claim.metric in plan.metrics
    for v in plan.variants:
        if v.lr_from is not None:
            assert plan.variant(v.lr_from).lr_from is None
    assert plan.seeds >= (2 if scale == "smoke" else 3)
    json.dumps(plan.to_dict())
    if plan.tabular:  # regression tables: features in, one target out
        from kinnsci.reproduce.tabular import load_recipe_table

        channels, out = load_recipe_table(plan.data).n_features, 1
        assert plan.claims and all(c.margin > 0 for c in plan.claims)
    elif scale != "paper":  # paper sizes are large; checked at smoke/small
        channels = (len(plan.inputs) if plan.steady else len(plan.variables) * plan.history)
        out = len(plan.targets) if plan.steady else len(plan.variables)
    if plan.tabular or scale != "paper":
        for v in plan.variants:
            get_model(v.model, in_channels=channels, out_channels=out, **v.model_config)


def test_unknown_experiment_names_the_known_ones():
    with pytest.raises(ValueError, match="known experiments: darcy"):
        get_experiment("darcie")
    assert get_experiment("shallow_water").name == "shallow-water"
    with pytest.raises(ValueError, match="scale must be one of"):
        get_experiment("darcy").plan("huge")
    with pytest.raises(ValueError, match="seeds must be a positive integer"):
        get_experiment("darcy").plan("smoke", seeds=0)
    with pytest.raises(ValueError, match="learning rates > 0"):
        get_experiment("darcy").plan("smoke", lrs=(1e-3, 0.0))
    assert get_experiment("darcy").plan("smoke", lrs=(4e-3, 1e-3, 4e-3)).lrs == (1e-3, 4e-3)


def test_run_id_depends_only_on_what_sets_the_numbers(monkeypatch):
    plan = tiny_plan()
    variant = plan.variant("fno")
    rid = runner.run_id(plan, variant, 1e-3, 0)
    assert rid.startswith("fno-") and rid == runner.run_id(plan, variant, 1e-3, 0)
    assert rid != runner.run_id(plan, variant, 2e-3, 0)
    assert rid != runner.run_id(plan, variant, 1e-3, 1)
    assert rid != runner.run_id(dataclasses.replace(plan, epochs=3), variant, 1e-3, 0)
    # a setting outside RESULT_KEYS (output folder, workers, plots) leaves finished runs valid
    original = runner.run_config

    def with_layout(*args, **kwargs):
        return dataclasses.replace(original(*args, **kwargs), num_workers=2, plots=True,
                                   out="elsewhere")

    monkeypatch.setattr(runner, "run_config", with_layout)
    assert runner.run_id(plan, variant, 1e-3, 0) == rid


def test_select_lr_ranks_diverged_runs_last():
    runs = [{"lr": 1e-3, "val": {"rel_l2": 0.5}}, {"lr": 4e-3, "val": {"rel_l2": 0.2}},
            {"lr": 1e-2, "val": {}}, {"lr": 3e-2, "val": {"rel_l2": None}}]
    assert runner.select_lr(runs, "rel_l2") == 4e-3
    assert runner.select_lr(runs[2:] + runs[:1], "rel_l2") == 1e-3


# --- a whole experiment: schema, figures, resume ---------------------------------------------
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    plan = tiny_plan()
    return plan, out, run_experiment(plan, out, progress=False, log=lambda s: None)


def test_results_json_follows_the_schema(finished):
    plan, out, content = finished
    stored = strict_json(out / "darcy" / "results.json")
    _follows(stored, Results)  # the declared structure (kinnsci.reproduce.plan)
    for run in stored["runs"]:
        _follows(run, RunRecord)
    assert stored["schema"] == runner.SCHEMA and stored["scale"] == "smoke"
    # every selection run (its own seed, never a test seed) and every seed of every model
    # at each chosen learning rate, each with validation and test metrics
    selection = [r for r in stored["runs"] if r["seed"] == runner.SELECTION_SEED]
    assert len(selection) == len(plan.variants) * len(plan.lrs)
    assert all(r["role"] == "selection" for r in selection)
    for key, by_metric in stored["lr_by_metric"].items():
        tests = [r for r in stored["runs"] if r["variant"] == key and r["role"] == "seed"]
        assert len(tests) == plan.seeds * len(set(by_metric.values()))
        assert runner.SELECTION_SEED not in {r["seed"] for r in tests}
    for run in stored["runs"]:
        assert set(plan.metrics) <= set(run["test"]) and plan.selection_metric in run["val"]
    for key, summary in stored["summary"].items():
        chosen = [r for r in stored["runs"] if r["variant"] == key and r["lr"] == summary["lr"]
                  and r["role"] == "seed"]
        assert sorted(r["seed"] for r in chosen) == list(range(plan.seeds))
        values = [r["test"]["rel_l2"] for r in chosen]
        assert summary["rel_l2"]["mean"] == pytest.approx(np.mean(values))
        assert summary["rel_l2"]["std"] == pytest.approx(np.std(values, ddof=1))
        # the chosen lr is the sweep's best on the validation split
        sweep = stored["sweep"][key]
        assert summary["lr"] == float(min(sweep, key=sweep.get))
    for claim in stored["claims"]:  # smoke: the machinery, never a finding
        assert claim["verdict"] == "n/a (smoke: checks the machinery, not the claim)"
        assert {"ratio", "ratio_low", "ratio_high", "p_less"} <= set(claim)
    for name in ("metrics.png", "sample.png"):
        assert (out / "darcy" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "darcy" / "results.md").read_text()
    assert "| U-Net |" in report and "## Claims" in report and "Learning-rate sweep" in report
    overview = (out / "claims.md").read_text()  # every experiment's claims under --out
    assert all(f"| darcy (smoke) | {c['claim']} |" in overview for c in stored["claims"])


def _follows(record: dict, declared) -> None:
    """Every key the TypedDict declares is present with a value of its type."""
    import typing

    for key, kind in typing.get_type_hints(declared).items():
        assert key in record, key
        origin = typing.get_origin(kind) or kind
        expected = (int, float) if origin is float else origin
        assert isinstance(record[key], expected) and not (
            origin in (int, float) and isinstance(record[key], bool)), (key, record[key])


def test_check_results_is_deprecated_and_checks_the_format_version(finished):
    _, out, _ = finished
    content = strict_json(out / "darcy" / "results.json")
    with pytest.warns(DeprecationWarning, match="check_results"):
        check_results(content)
    content["schema"] = "kinnsci.reproduce/1"
    with pytest.raises(ResultsError, match="schema 'kinnsci.reproduce/1', expected"), \
            pytest.warns(DeprecationWarning):
        check_results(content)


def test_existing_results_are_refused_without_resume(finished):
    plan, out, _ = finished
    before = {p: p.read_bytes() for p in (out / "darcy").iterdir()}
    with pytest.raises(FileExistsError, match="resume=True"):
        run_experiment(plan, out, progress=False, log=lambda s: None)
    assert {p: p.read_bytes() for p in (out / "darcy").iterdir()} == before


def test_resume_refuses_another_scale(finished):
    plan, out, _ = finished
    with pytest.raises(ResultsError, match="scale 'smoke', not 'small'"):
        run_experiment(dataclasses.replace(plan, scale="small"), out, resume=True,
                       progress=False)


def count_training(monkeypatch, fail_at: int | None = None):
    calls = []
    original = runner.train_and_evaluate

    def counted(*args, **kwargs):
        calls.append(args[1].key)
        if fail_at is not None and len(calls) == fail_at:
            raise KeyboardInterrupt  # the user pressed Ctrl-C during this run
        return original(*args, **kwargs)

    monkeypatch.setattr(runner, "train_and_evaluate", counted)
    return calls


def test_interrupted_experiment_resumes_without_redoing_finished_runs(
        finished, tmp_path, monkeypatch):
    plan, _, reference = finished
    total = len(reference["runs"])
    calls = count_training(monkeypatch, fail_at=4)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(plan, tmp_path, progress=False)
    assert not (tmp_path / "darcy" / "results.json").exists()
    monkeypatch.undo()
    calls = count_training(monkeypatch)
    content = run_experiment(plan, tmp_path, resume=True, progress=False, log=lambda s: None)
    assert len(calls) == total - 3  # the three runs finished before Ctrl-C are kept
    # identical numbers to the uninterrupted experiment
    ours = {r["id"]: r["test"]["rel_l2"] for r in content["runs"]}
    theirs = {r["id"]: r["test"]["rel_l2"] for r in reference["runs"]}
    assert ours.keys() == theirs.keys()
    for rid, value in theirs.items():
        assert ours[rid] == pytest.approx(value, rel=1e-5)
    # a finished experiment resumed again recomputes nothing
    calls.clear()
    run_experiment(plan, tmp_path, resume=True, progress=False, log=lambda s: None)
    assert calls == []


def test_run_stopped_mid_training_continues_from_its_last_epoch(tmp_path, monkeypatch):
    plan = tiny_plan(epochs=3, lrs=(2e-3,), seeds=1)
    plan = dataclasses.replace(plan, variants=plan.variants[:1], claims=())
    variant = plan.variant("unet")
    data = runner.prepare_data(plan, tmp_path, progress=False)
    run_dir = tmp_path / "runs" / runner.run_id(plan, variant, 2e-3, 0)
    steps = []
    original = Trainer.train_step

    def stop_in_third_epoch(self, x, y):
        steps.append(self.epoch)
        if self.epoch == 2:
            raise KeyboardInterrupt
        return original(self, x, y)

    monkeypatch.setattr(Trainer, "train_step", stop_in_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        runner.train_and_evaluate(plan, variant, 2e-3, 0, data, run_dir)
    assert (run_dir / "last.pt").exists() and not (run_dir / "result.json").exists()
    steps.clear()
    monkeypatch.setattr(Trainer, "train_step", lambda self, x, y: (steps.append(self.epoch),
                                                                    original(self, x, y))[1])
    resumed = runner.train_and_evaluate(plan, variant, 2e-3, 0, data, run_dir)
    assert set(steps) == {2}  # only the unfinished third epoch was trained
    assert len(resumed["train_loss"]) == 3
    monkeypatch.setattr(Trainer, "train_step", original)
    fresh = runner.train_and_evaluate(plan, variant, 2e-3, 0, data, tmp_path / "fresh")
    assert resumed["test"]["rel_l2"] == pytest.approx(fresh["test"]["rel_l2"], rel=1e-5)


def test_data_of_another_recipe_is_refused(tmp_path):
    plan = tiny_plan()
    path = runner.prepare_data(plan, tmp_path, progress=False)
    other = dataclasses.replace(plan, data=dataclasses.replace(plan.data, n_samples=12))
    path.rename(tmp_path / "data" / other.data.file_name())
    with pytest.raises(ResultsError, match="differs in n_samples"):
        runner.prepare_data(other, tmp_path, progress=False)


def test_a_run_folder_holding_another_run_is_refused(tmp_path):
    (tmp_path / "fno-abc").mkdir()
    (tmp_path / "fno-abc" / "result.json").write_text(json.dumps({"id": "fno-xyz"}))
    with pytest.raises(ResultsError, match="holds run 'fno-xyz'"):
        runner.load_result(tmp_path / "fno-abc")


# --- the command line --------------------------------------------------------------------------
def test_cli_lists_every_experiment(capsys):
    assert main(["reproduce", "--list"]) == 0
    listing = capsys.readouterr().out
    for name in EXPERIMENTS:
        assert f"| {name} |" in listing


@pytest.mark.parametrize(("argv", "message"), [
    (["reproduce"], "name an EXPERIMENT"),
    (["reproduce", "darcie", "--scale", "smoke"], "unknown experiment 'darcie'"),
    (["reproduce", "darcy", "--scale", "smoke", "--seeds", "0"], "seeds must be a positive"),
    (["reproduce", "darcy", "--scale", "smoke", "--lrs", "0"], "learning rates > 0"),
])
def test_cli_bad_arguments_get_one_line(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())


def test_cli_refuses_existing_results(finished, capsys):
    _, out, _ = finished
    assert main(["reproduce", "darcy", "--scale", "smoke", "--out", str(out),
                 "--no-progress"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert not math.isnan(strict_json(out / "darcy" / "results.json")["wall_seconds"])


def test_the_claims_table_is_generated_from_results_json(finished, capsys):
    """docs/results.md's table comes from `kinnsci reproduce --claims`: each finished
    experiment's verdicts with ratio intervals, and 'not rerun under the new rule' for
    every claim of an experiment without current results (never an old verdict)."""
    from kinnsci.cli.main import main

    plan, out, content = finished
    assert main(["reproduce", "--claims", "--scale", "smoke", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    for claim in content["claims"]:
        assert f"| darcy (smoke) | {claim['claim']} |" in table
    assert "n/a (smoke: checks the machinery, not the claim)" in table
    assert "| shallow-water (smoke) |" in table and "not rerun under the new rule" in table


def test_a_smoke_report_cannot_pass_for_a_finding(finished):
    """Smoke verdicts say what smoke is for, and a run of seconds says seconds."""
    _, out, content = finished
    report = (out / "darcy" / "results.md").read_text()
    assert "n/a (smoke: checks the machinery, not the claim)" in report
    assert "holds**" not in report and "does not hold**" not in report
    wall = content["wall_seconds"]
    assert wall < 60 and f"Wall time of this invocation: {wall:.0f} s" in report
