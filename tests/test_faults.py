"""Issue 14 #2, #3, #4, #6 and #8: studies that stop, refuse and report as a user expects."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from _scale_support import standin_cli_args

from recsearch import cli
from recsearch import runner
from recsearch.errors import InvalidParameterError


@pytest.fixture(autouse=True)
def _in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECSEARCH_TEST_TRIAL_S", "0.0")
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    for var in ("RECSEARCH_TEST_FAIL_EVERY", "RECSEARCH_TEST_BUG_EVERY", "RECSEARCH_STORAGE"):
        monkeypatch.delenv(var, raising=False)


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# --- #2a: an infinite budget is refused up front ---------------------------------------------


@pytest.mark.parametrize("value", ["inf", "Infinity", "-inf", "nan", "0"])
def test_cli_refuses_a_budget_that_is_not_a_finite_positive_number(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["run", *standin_cli_args(), "--trials", "2", f"--budget-epochs={value}",
                  "--tracking-uri", "none"])  # fmt: skip
    assert info.value.code == cli.EXIT_USAGE
    assert "expected a finite positive number" in capsys.readouterr().err
    assert not Path("recsearch-journal.log").exists()  # nothing written


@pytest.mark.parametrize("value", [math.inf, math.nan, 0.0])
def test_python_budget_and_settings_refuse_an_infinite_budget(value: float) -> None:
    from recsearch.objectives.trainer import Budget

    with pytest.raises(InvalidParameterError, match="finite number > 0"):
        Budget(epochs=value)
    with pytest.raises(InvalidParameterError, match="finite number > 0"):
        Budget(rows=value)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="finite number > 0"):
        runner.create_study(dataset="synthetic", space="hpo", strategy="random", n_trials=1,
                            budget_epochs=value, storage="journal:j.log")  # fmt: skip


# --- #8: best --json on a study without a complete trial -------------------------------------


def test_best_json_without_a_complete_trial_is_a_json_object(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = _main(capsys, "create", *standin_cli_args(), "--trials", "2", "--storage",
                         "journal:j.log", "--study", "s", "--tracking-uri", "none")  # fmt: skip
    assert code == 0, err
    code, out, err = _main(capsys, "best", "--study", "s", "--storage", "journal:j.log", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["best"] is None and answer["study"] == "s"
    assert "no trial is complete" in answer["message"]
    assert answer["trials"]["complete"] == 0
