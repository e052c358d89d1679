"""The retrain report: columns, winner by valid, gain with a paired test, Spearman, files."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from scipy import stats

from recsearch.report.retrain_report import Candidate
from recsearch.report.retrain_report import CellOutcome
from recsearch.report.retrain_report import build_report
from recsearch.report.retrain_report import describe_diff

BASE = {"inter.a-b": True, "inter.a-c": True, "inter.b-c": True, "emb.a": 16}


def _cells(name: str, valid: float, test: list[float]) -> list[CellOutcome]:
    return [CellOutcome(name, seed, {"valid_auc": valid + 0.001 * seed, "test_auc": t,
                                     "valid_logloss": 0.5, "test_logloss": 0.5 - t / 10,
                                     "epochs": 4.0 + seed, "cost.params": 1000.0,
                                     "cost.embedding_bytes": 400.0, "cost.flops": 2000.0,
                                     "cost.latency_ms": 1.5})
            for seed, t in enumerate(test)]  # fmt: skip


def _report(**kw: object):  # type: ignore[no-untyped-def]
    cands = [
        Candidate("found-1", "found", {}, "full", {**BASE, "inter.a-b": False}, 0.80, 7),
        # best on test but worse on valid: never the winner
        Candidate("found-2", "found", {}, "full", {**BASE, "emb.a": 32}, 0.79, 3),
        Candidate("found-3", "found", {}, "full", BASE, 0.78, 0),
        Candidate("deepfm", "baseline", {}, "default"),
        Candidate("dcnv2", "baseline", {}, "default"),
    ]
    cells = (_cells("found-1", 0.78, [0.785, 0.786, 0.784])
             + _cells("found-2", 0.77, [0.790, 0.791, 0.792])
             + _cells("found-3", 0.76, [0.780, 0.781, 0.779])
             + _cells("deepfm", 0.775, [0.782, 0.781, 0.783])
             + _cells("dcnv2", 0.770, [0.789, 0.789, 0.789]))  # fmt: skip
    return build_report(cands, cells, study="s", base_params=BASE, **kw)


def test_winner_and_best_baseline_are_chosen_by_valid_never_by_test() -> None:
    r = _report()
    assert r.winner == "found-1" and r.best_baseline == "deepfm"
    assert r.per_seed_gain == pytest.approx((0.003, 0.005, 0.001))
    assert r.gain == pytest.approx(0.003)
    expected = stats.ttest_rel([0.785, 0.786, 0.784], [0.782, 0.781, 0.783])
    assert (r.t_stat, r.p_value) == pytest.approx((expected.statistic, expected.pvalue))
    assert "a weak test" in r.gain_line() and "paired t-test" in r.gain_line()
    # search scores 0.80 > 0.79 > 0.78 against retrained valid 0.78 > 0.77 > 0.76
    assert r.spearman == pytest.approx(1.0)
    assert r.diff == ("1 of 3 pairs off: a-b",)


def test_table_has_the_issues_columns_and_the_files_are_written(tmp_path: Path) -> None:
    r = _report(notes=("top-k 5 is above the 3 complete trials: all are used",))
    row = r.table()[0]
    for col in ("model", "kind", "search_score", "valid_auc_mean", "valid_auc_sd",
                "valid_logloss_mean", "test_auc_mean", "test_auc_sd", "test_logloss_mean",
                "params", "embedding_bytes", "flops", "latency_ms", "epochs_mean", "recipe"):
        assert col in row, col
    assert r.row("found-1").sd["test_auc"] == pytest.approx(0.001)
    files = r.write(tmp_path)
    assert set(files) >= {"markdown", "csv", "cells", "json", "png_test_auc",
                          "png_search_vs_retrained"}  # fmt: skip
    assert all(Path(p).stat().st_size > 0 for p in files.values())
    md = Path(files["markdown"]).read_text()
    assert "found-1 **(winner)**" in md and "note: top-k 5" in md and "Spearman +1.00" in md
    with open(files["cells"]) as fh:
        assert len(list(csv.DictReader(fh))) == 15
    data = json.loads(Path(files["json"]).read_text())
    assert data["models"][0]["candidate"]["params"]["inter.a-b"] is False


def test_diff_groups_switches_and_names_changed_values() -> None:
    base = {f"inter.p{i}": True for i in range(45)} | {"emb.user_id": 16, "train.lr": 1e-3}
    new = base | {f"inter.p{i}": False for i in range(14)} | {"emb.user_id": 32}
    lines = describe_diff(new, base, limit=3)
    assert lines[0] == "14 of 45 pairs off: p0, p1, p10, ..."
    assert lines[1:] == ["emb.user_id 16 -> 32"]
    assert describe_diff({"x": 1, "y": 2}, {"x": 1}) == ["y - -> 2"]
    base = {"inter.a-b": True, "inter.a-b.fn": "inner", "inter.a-c": True, "inter.a-c.fn": "inner"}
    new = {"inter.a-b": False, "inter.a-c": True, "inter.a-c.fn": "outer"}
    assert describe_diff(new, base) == [  # an off pair's function is not a change
        "1 of 2 pairs off: a-b", "1 pairs with another fn: a-c inner -> outer"]


def test_too_few_seeds_or_no_baseline_say_so() -> None:
    cands = [Candidate("found-1", "found", {}, "r", {}, 0.7)]
    r = build_report(cands, [CellOutcome("found-1", 0, {"valid_auc": 0.7})], study="s")
    assert r.best_baseline is None and "no baseline" in r.gain_line()
    assert math.isnan(r.spearman) and "n/a" in r.spearman_line()
