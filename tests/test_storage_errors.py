"""Issue 14 #7: a damaged or read-only storage is named as such, not `exceeding max length`."""

from __future__ import annotations

import shutil
from pathlib import Path

import optuna
import pytest

from _faults_support import remount_read_only
from _faults_support import tmpfs
from _scale_support import standin_cli_args
from recsearch import cli

optuna.logging.set_verbosity(optuna.logging.ERROR)


@pytest.fixture(autouse=True)
def _stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSEARCH_TEST_TRIAL_S", "0.0")
    monkeypatch.syspath_prepend(str(Path(__file__).parent))


def _error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = cli.main(list(args))
    err = capsys.readouterr().err
    assert code == cli.EXIT_ERROR, err
    assert len(err.strip().splitlines()) == 1, err
    assert "exceeding max length" not in err and "Traceback" not in err
    return err


def test_garbage_in_a_sqlite_file_is_a_malformed_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert cli.main(["run", *standin_cli_args(), "--trials", "8", "--storage", url,
                     "--study", "s", "--tracking-uri", "none", "--no-progress"]) == 0  # fmt: skip
    capsys.readouterr()
    data = bytearray((tmp_path / "s.db").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = bytes(range(256)) * 16
    (tmp_path / "s.db").write_bytes(data)
    err = _error(capsys, "best", "--study", "s", "--storage", url)
    assert "malformed database" in err and ".recover" in err


@pytest.fixture
def read_only_mount(tmp_path: Path):  # type: ignore[no-untyped-def]
    with tmpfs(tmp_path, "4m") as where:
        yield where, lambda: remount_read_only(where)


@pytest.mark.parametrize("storage", ["sqlite:///{}/s.db", "journal:{}/s.log"])
def test_a_study_on_a_read_only_file_system_says_so(
    storage: str,
    read_only_mount,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    where, read_only = read_only_mount
    made = where.parent / "made"
    made.mkdir()
    assert cli.main(["create", *standin_cli_args(), "--trials", "2", "--storage",
                     storage.format(made), "--study", "s", "--tracking-uri",
                     "none"]) == 0  # fmt: skip
    capsys.readouterr()
    for f in made.iterdir():
        shutil.copy(f, where / f.name)  # NOTE: no file open there, so it can be remounted
    read_only()
    url = storage.format(where)
    err = _error(capsys, "worker", "--study", "s", "--storage", url)
    assert "read-only file system" in err.lower(), err
