"""The comparison runner and its report: analysis on hand-made runs, then real tiny comparisons."""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest

from recsearch.compare import RunResult
from recsearch.compare import TrialRecord
from recsearch.compare import anytime_curves
from recsearch.compare import pareto_front
from recsearch.compare import run_comparison
from recsearch.compare import summarize
from recsearch.compare import write_report
from recsearch.errors import InvalidParameterError

PNG = b"\x89PNG\r\n\x1a\n"


def _run(strategy: str, seed: int, values: list[float | None], epochs: float = 1.0) -> RunResult:
    trials = tuple(
        TrialRecord(i, "COMPLETE" if v is not None else "PRUNED", v, epochs, cost=float(i + 1))
        for i, v in enumerate(values)
    )
    return RunResult(strategy, seed, trials, 0.0)


def test_anytime_is_best_so_far_against_cumulative_budget() -> None:
    run = _run("random", 0, [0.6, None, 0.7, 0.65], epochs=0.5)
    spent, best = run.anytime(maximize=True)
    assert spent.tolist() == [0.5, 1.0, 1.5, 2.0]
    assert best.tolist() == [0.6, 0.6, 0.7, 0.7]
    spent, best = _run("random", 0, [0.6, 0.5], epochs=1).anytime(maximize=False)
    assert best.tolist() == [0.6, 0.5]
    assert math.isnan(_run("x", 0, [None]).final_best(maximize=True))


def test_curves_take_median_and_quartiles_over_seeds() -> None:
    runs = [_run("a", s, [v]) for s, v in enumerate([0.1, 0.2, 0.3, 0.4, 0.5])]
    grid, median, q25, q75 = anytime_curves(runs, budget=2.0, maximize=True, points=5)["a"]
    assert grid.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert np.isnan(median[:2]).all()  # nothing finished before budget 1
    assert median[2:] == pytest.approx([0.3] * 3)
    assert q25[-1] == pytest.approx(0.2) and q75[-1] == pytest.approx(0.4)


def test_summary_ranks_areas_and_wilcoxon() -> None:
    # "good" beats random on every seed, "same" ties random everywhere
    runs = []
    for seed in range(6):
        base = 0.6 + 0.01 * seed
        runs.append(_run("random", seed, [base - 0.05, base]))
        runs.append(_run("good", seed, [base + 0.02, base + 0.05]))
        runs.append(_run("same", seed, [base - 0.05, base]))
    table, tests = summarize(
        runs, strategies=["random", "good", "same"], budget=2.0, maximize=True
    )
    by = table.set_index("strategy")
    assert by.loc["good", "mean_rank"] == 1.0
    assert by.loc["random", "mean_rank"] == pytest.approx(2.5)
    assert by.loc["good", "final_median"] == pytest.approx(0.675)
    assert by.loc["good", "area"] > by.loc["random", "area"]
    assert by.loc["same", "area"] == pytest.approx(by.loc["random", "area"])
    tby = tests.set_index("strategy")
    assert tby.loc["good", "p_value"] < 0.05 and bool(tby.loc["good", "better_than_reference"])
    assert tby.loc["same", "p_value"] == 1.0
    assert "random" not in tby.index
    # minimising flips the ranking
    table_min, _ = summarize(runs, strategies=["random", "good"], budget=2.0, maximize=False)
    assert table_min.set_index("strategy").loc["random", "mean_rank"] == 1.0


def test_pareto_front_keeps_non_dominated_points() -> None:
    pts = np.array([[0.8, 10.0], [0.7, 5.0], [0.6, 6.0], [0.8, 12.0], [0.9, 100.0]])
    assert sorted(pareto_front(pts, maximize_first=True).tolist()) == [0, 1, 4]


def test_write_report_files(tmp_path: Path) -> None:
    runs = [_run(s, k, [0.5 + 0.1 * k, 0.55 + 0.1 * k]) for s in ("random", "tpe") for k in (0, 1)]
    report = write_report(
        runs,
        out_dir=tmp_path / "r",
        metric="auc",
        maximize=True,
        budget=2.0,
        strategies=["random", "tpe"],
        cost="params",
    )
    for key in ("anytime", "front"):
        assert report.files[key].read_bytes()[:8] == PNG
    assert pd.read_csv(report.files["table_csv"])["strategy"].tolist() == ["random", "tpe"]
    assert "| strategy |" in report.files["table_md"].read_text()
    assert pd.read_csv(report.files["tests"])["strategy"].tolist() == ["tpe"]
    assert len(pd.read_csv(report.files["trials"])) == 8
    assert json.loads(report.files["report"].read_text())["table"][0]["strategy"] == "random"


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="strategies"):
        run_comparison(dataset="synthetic", space="hpo", strategies=[], out_dir=tmp_path)
    with pytest.raises(InvalidParameterError, match="budget"):
        run_comparison(
            dataset="synthetic", space="hpo", strategies=["random"], budget=0, out_dir=tmp_path
        )
    with pytest.raises(InvalidParameterError, match="metric"):
        run_comparison(
            dataset="synthetic",
            space="hpo",
            strategies=["random"],
            metric="accuracy",  # type: ignore[arg-type]
            out_dir=tmp_path,
        )


# ------------------------------------------------------------------ real tiny comparisons
def half_epoch_objective(dataset: Any, space: Any, **kwargs: Any) -> Any:
    """A cheap stand-in objective: every trial costs half an epoch; pruned trials a quarter."""
    from recsearch.spaces import suggest

    def objective(trial: optuna.Trial) -> float:
        config = suggest(trial, space)
        key = json.dumps(dict(config), sort_keys=True, default=str).encode()
        value = 0.5 + 0.4 * (zlib.crc32(key) % 1000) / 1000
        trial.set_user_attr("epochs", 0.5)
        trial.report(value, 0)
        return value

    return objective


@pytest.fixture
def tiny_data() -> dict[str, Any]:
    return {"n_rows": 600, "n_categorical": 4, "n_numeric": 1, "max_vocab": 30, "seed": 0}


def test_budget_is_counted_in_epoch_equivalents_in_worker_processes(
    tmp_path: Path, tiny_data: dict[str, Any]
) -> None:
    report = run_comparison(
        dataset="synthetic",
        dataset_options=tiny_data,
        space="hpo",
        strategies=["random", "evolution"],
        seeds=2,
        budget=3.0,
        out_dir=tmp_path / "report",
        objective=half_epoch_objective,
        track=False,
        workers=2,
    )
    assert len(report.runs) == 4
    assert all(len(r.trials) == 6 and r.epochs == pytest.approx(3.0) for r in report.runs)
    assert report.mlflow_run_id is None


def test_three_strategies_two_seeds_with_ctr_objective_logged_to_mlflow(
    tmp_path: Path, tiny_data: dict[str, Any]
) -> None:
    import torch
    from mlflow.tracking import MlflowClient

    torch.set_num_threads(1)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    report = run_comparison(
        dataset="synthetic",
        dataset_options=tiny_data,
        space="hpo",
        strategies=["random", "tpe", "hyperband"],
        seeds=2,
        budget=2.0,
        budget_epochs_per_trial=1.0,
        out_dir=tmp_path / "report",
        tracking_uri=uri,
    )
    assert report.files["anytime"].read_bytes()[:8] == PNG
    table = pd.read_csv(report.files["table_csv"])
    assert table["strategy"].tolist() == ["random", "tpe", "hyperband"]
    assert table["final_median"].between(0.0, 1.0).all()
    tests = pd.read_csv(report.files["tests"])
    assert tests["strategy"].tolist() == ["tpe", "hyperband"]
    assert (tests["pairs"] <= 2).all()
    assert {(r.strategy, r.seed) for r in report.runs} == {
        (s, k) for s in ("random", "tpe", "hyperband") for k in (0, 1)
    }
    for run in report.runs:
        assert run.epochs >= 2.0 - 1e-9 or len(run.trials) == 0
    client = MlflowClient(tracking_uri=uri)
    assert report.mlflow_run_id is not None
    run = client.get_run(report.mlflow_run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["strategies"] == "random,tpe,hyperband"
    assert "tpe.mean_rank" in run.data.metrics
    logged = {a.path for a in client.list_artifacts(report.mlflow_run_id, "report")}
    assert {"report/anytime.png", "report/results.csv", "report/wilcoxon.csv"} <= logged
    again = run_comparison(
        dataset="synthetic", dataset_options=tiny_data, space="hpo",
        strategies=["random", "tpe", "hyperband"], seeds=2, budget=2.0,
        budget_epochs_per_trial=1.0, out_dir=tmp_path / "report", tracking_uri=uri,
    )  # fmt: skip
    assert again.mlflow_run_id == report.mlflow_run_id  # the rerun resumes the same run
    assert client.get_run(again.mlflow_run_id).info.status == "FINISHED"
    compared = client.search_runs([run.info.experiment_id],
                                  filter_string="tags.`recsearch.role` = 'comparison'")
    assert len(compared) == 1


def value_and_size_objective(dataset: Any, space: Any, **kwargs: Any) -> Any:
    """A cheap two-objective stand-in: (a value, a size) from the configuration."""
    from recsearch.spaces import suggest

    assert kwargs["cost"] == "params"

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        config = suggest(trial, space)
        key = json.dumps(dict(config), sort_keys=True, default=str).encode()
        size = float(zlib.crc32(key) % 5000 + 1)
        trial.set_user_attr("epochs", 1.0)
        return 0.5 + 0.4 * size / 5000, size

    return objective


def test_cost_searches_two_objectives_and_draws_the_front(
    tmp_path: Path, tiny_data: dict[str, Any]
) -> None:
    report = run_comparison(
        dataset="synthetic",
        dataset_options=tiny_data,
        space="hpo",
        strategies=["random", "nsga2"],
        seeds=[3],
        budget=4.0,
        out_dir=tmp_path / "report",
        objective=value_and_size_objective,
        cost="params",
        track=False,
    )
    assert report.files["front"].read_bytes()[:8] == PNG
    costs = [t.cost for r in report.runs for t in r.trials]
    assert len(costs) == 8 and all(c is not None and c >= 1 for c in costs)
    assert {r.seed for r in report.runs} == {3}
