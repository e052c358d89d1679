"""The `recsearch` command line: help, lists, run/create/worker/best, compare wiring, errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from _scale_support import mlflow_store
from _scale_support import mlflow_template  # noqa: F401 - fixture
from _scale_support import recsearch_cmd
from _scale_support import standin_cli_args
from _scale_support import subprocess_env

from recsearch import cli
from recsearch import runner

COMMANDS = ("run", "create", "worker", "compare", "best", "pretrain", "spaces", "strategies")


@pytest.fixture(autouse=True)
def _in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECSEARCH_TEST_TRIAL_S", "0.0")
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    for var in ("RECSEARCH_TEST_FAIL_EVERY", "RECSEARCH_TEST_FIELDS", "RECSEARCH_DEBUG"):
        monkeypatch.delenv(var, raising=False)


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "example:" in out
    assert f"recsearch {command}" in out


def test_spaces_and_strategies_list_names_with_descriptions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from recsearch import spaces
    from recsearch import strategies
    from recsearch.oneshot import study as oneshot_study

    listed = {**strategies.available(), **oneshot_study.listing()}
    for command, table in (("spaces", spaces.available()), ("strategies", listed)):
        code, out, _ = _main(capsys, command)
        assert code == 0
        lines = out.strip().splitlines()
        assert len(lines) == len(table)
        for name, description in table.items():
            assert any(line.split()[0] == name and description[:30] in line for line in lines)


def _assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == cli.EXIT_ERROR
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--dataset", "nosuch-data", "--space", "autofis", "--strategy", "tpe"], "nosuch-data"),
        (["--dataset", "synthetic", "--space", "nosuch-space", "--strategy", "tpe"],
         "unknown space 'nosuch-space'"),
        (["--dataset", "synthetic", "--space", "autofis", "--strategy", "nosuch-strategy"],
         "unknown strategy 'nosuch-strategy'"),
    ],
)  # fmt: skip
def test_unknown_names_are_one_line_and_write_nothing(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _main(capsys, "run", *args, "--dataset-option", "n_rows=300",
                         "--tracking-uri", "none", "--trials", "2")  # fmt: skip
    _assert_one_line_error(code, err, needle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("storage", "needle"),
    [
        ("postgresql+psycopg://me:hunter2@127.0.0.1:1/db", "cannot open storage"),
        ("postgress://me:hunter2@127.0.0.1:5432/db", "unknown scheme"),
        ("sqlite:////no/such/dir/s.db", "/no/such/dir/s.db"),
    ],
)
def test_bad_storage_is_one_line(
    storage: str, needle: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for command in (["run", *standin_cli_args(), "--tracking-uri", "none", "--trials", "1"],
                    ["worker", "--study", "s"], ["best", "--study", "s"]):  # fmt: skip
        code, _, err = _main(capsys, *command, "--storage", storage)
        _assert_one_line_error(code, err, needle)
        assert "hunter2" not in err
    assert list(tmp_path.iterdir()) == []


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--space", "autofis"])
    assert info.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--dataset" in err
    with pytest.raises(SystemExit):
        cli.main(["worker", "--study", "s", "--storage", "x.log", "--trials", "0"])
    assert "positive integer" in capsys.readouterr().err


def test_run_prints_best_and_mlflow_hint_then_best_and_worker_agree(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mlflow_template: Path  # noqa: F811
) -> None:
    tracking = mlflow_store(mlflow_template, tmp_path)
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    code, out, err = _main(capsys, "run", *standin_cli_args(), "--trials", "3", "--storage",
                           storage, "--study", "s1", "--tracking-uri", tracking)  # fmt: skip
    assert code == 0, err
    assert "3 complete" in out
    assert "best trial #" in out and "configuration:" in out and "  x = " in out
    assert f"mlflow ui --backend-store-uri {tracking}" in out
    assert "100%" in err  # the progress bar ran to the end
    study, _ = runner.load_study(study_name="s1", storage=storage)
    code, out, _ = _main(capsys, "best", "--study", "s1", "--storage", storage, "--json")
    assert code == 0
    best = json.loads(out)
    assert best["number"] == study.best_trial.number
    assert best["values"] == [study.best_value]
    assert best["params"] == study.best_params


def test_create_then_workers_share_the_target(capsys: pytest.CaptureFixture[str]) -> None:
    storage = "journal:studies.log"
    code, out, err = _main(capsys, "create", *standin_cli_args(), "--trials", "5", "--storage",
                           storage, "--study", "shared", "--tracking-uri", "none")  # fmt: skip
    assert code == 0, err
    assert "recsearch worker --study shared --storage journal:studies.log" in out
    code, out, err = _main(capsys, "worker", "--study", "shared", "--storage", storage,
                           "--trials", "2", "--worker-index", "0")  # fmt: skip
    assert code == 0, err
    assert "worker ran 2 trials" in out and "2 complete" in out
    code, out, err = _main(capsys, "worker", "--study", "shared", "--storage", storage)
    assert code == 0, err
    assert "worker ran 3 trials" in out and "5 complete" in out
    code, out, err = _main(capsys, "worker", "--study", "shared", "--storage", storage)
    assert "worker ran 0 trials" in out


def test_failures_are_summarised_by_cause(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSEARCH_TEST_FAIL_EVERY", "2")
    code, out, err = _main(capsys, "run", *standin_cli_args(), "--trials", "3",
                           "--tracking-uri", "none", "--no-progress")  # fmt: skip
    assert code == 0, err
    assert "3 complete" in out
    assert "failed trials by cause" in out
    assert "x non-finite loss: training loss became nan" in out
    assert (Path("recsearch-journal.log")).is_file()  # the documented default storage


def test_changed_schema_stops_the_worker_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = _main(capsys, "create", *standin_cli_args(), "--trials", "2", "--storage",
                         "journal:s.log", "--study", "s", "--tracking-uri", "none")  # fmt: skip
    assert code == 0, err
    monkeypatch.setenv("RECSEARCH_TEST_FIELDS", "7")
    code, _, err = _main(capsys, "worker", "--study", "s", "--storage", "journal:s.log")
    _assert_one_line_error(code, err, "schema")


def test_compare_passes_its_options_through(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import recsearch.compare

    seen: dict[str, Any] = {}

    class Report:
        out_dir = tmp_path / "rep"
        mlflow_run_id = None

        def to_markdown(self) -> str:
            return "| strategy | best |"

    def fake(**kwargs: Any) -> Report:
        seen.update(kwargs)
        return Report()

    monkeypatch.setattr(recsearch.compare, "run_comparison", fake)
    code, out, err = _main(capsys, "compare", "--dataset", "synthetic", "--dataset-option",
                           "n_rows=500", "--space", "autofis", "--strategies", "random, tpe",
                           "--seeds", "2", "--budget", "3", "--workers", "2", "--out",
                           str(tmp_path / "rep"))  # fmt: skip
    assert code == 0, err
    assert seen["strategies"] == ["random", "tpe"]
    assert seen["seeds"] == 2 and seen["budget"] == 3.0 and seen["workers"] == 2
    assert seen["dataset"] == "synthetic" and seen["dataset_options"] == {"n_rows": 500}
    assert seen["out_dir"] == str(tmp_path / "rep") and seen["track"] is True
    assert "| strategy | best |" in out
    code, _, err = _main(capsys, "compare", "--dataset", "synthetic", "--space", "autofis",
                         "--strategies", "random,bogus")  # fmt: skip
    _assert_one_line_error(code, err, "unknown strategy 'bogus'")


def test_console_script_and_module_entry_point(tmp_path: Path) -> None:
    proc = subprocess.run(recsearch_cmd("--version"), capture_output=True, text=True,
                          env=subprocess_env(), timeout=60)  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.startswith("recsearch ")
    proc = subprocess.run(
        recsearch_cmd("worker", "--study", "s", "--storage", str(tmp_path / "missing.log")),
        capture_output=True, text=True, env=subprocess_env(), timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "does not exist" in proc.stderr
