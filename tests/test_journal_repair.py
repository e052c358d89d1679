"""Issue 14 #1: a torn journal write (crash or full disk mid-record) never destroys a study."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from _faults_support import tmpfs
from recsearch import _internals
from recsearch import cli
from recsearch.errors import StorageError
from recsearch.storage import open_storage

optuna.logging.set_verbosity(optuna.logging.ERROR)


def _study(path: Path, name: str = "s") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(f"journal:{path}"))


def _journal_with_trials(path: Path, n: int) -> optuna.Study:
    storage = open_storage(f"journal:{path}")
    study = optuna.create_study(study_name="s", storage=storage)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=n)
    return study


def test_optuna_journal_internals_unchanged(tmp_path: Path) -> None:
    """The hook relies on these; if this fails, Optuna's journal backend changed: re-check
    :class:`recsearch._internals.RepairingJournalFileBackend` against the new version."""
    backend = JournalFileBackend(str(tmp_path / "j.log"))
    for name in ("_file_path", "_lock", "_log_number_offset"):
        assert hasattr(backend, name), f"optuna JournalFileBackend has no {name!r} any more"
    assert backend._log_number_offset == {0: 0}, "optuna changed the journal's offset cache"
    backend.append_logs([{"op_code": 0, "worker_id": "w", "x": 1}])
    line = (tmp_path / "j.log").read_bytes()
    assert line.startswith(_internals.JOURNAL_RECORD_START) and line.endswith(b"\n"), (
        f"optuna changed the journal's line format: {line[:60]!r}"
    )
    with (tmp_path / "j.log").open("ab") as f:
        f.write(b'{"op_code":4,"wor')  # a torn last line is skipped by Optuna's reader
    assert len(list(backend.read_logs(0))) == 1, "optuna's reader no longer skips a torn tail"


def test_a_cut_last_line_is_set_aside_and_the_study_continues(tmp_path: Path) -> None:
    path = tmp_path / "j.log"
    _journal_with_trials(path, 3)
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"op_code":6,"worker_id":"dead","trial_id":0,"us')  # crash
    study = _study(path)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 5
    torn = path.with_name("j.log.torn").read_bytes()
    assert b'{"op_code":6,"worker_id":"dead","trial_id":0,"us\n' in torn
    assert b"torn last record" in torn
    for line in path.read_bytes().splitlines():
        json.loads(line)  # every line a whole record


def test_a_file_damaged_by_an_append_onto_a_torn_line_is_repaired(tmp_path: Path) -> None:
    """The state the old code left: a torn record with Optuna's next record appended to it."""
    path = tmp_path / "j.log"
    _journal_with_trials(path, 3)
    lines = path.read_bytes().splitlines(keepends=True)
    torn = lines[-1][: len(lines[-1]) // 2]
    damaged = b"".join(lines[:-1]) + torn + lines[-1]
    path.write_bytes(damaged + lines[-1])
    with pytest.raises(json.JSONDecodeError):  # what Optuna alone makes of it
        list(JournalFileBackend(str(path)).read_logs(0))
    study = _study(path)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    assert torn in path.with_name("j.log.torn").read_bytes()
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert len(_study(path).trials) == 4


def test_a_line_that_is_no_record_is_refused_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "j.log"
    _journal_with_trials(path, 1)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([lines[0], b"garbage\n", *lines[1:]]))
    with pytest.raises(StorageError, match="line 2 is not a whole record"):
        _study(path)


def _no_space(real_open):  # type: ignore[no-untyped-def]
    """An ``open`` whose journal appends write half a record, then fail as a full disk does."""

    class Full:
        def __init__(self, f):  # type: ignore[no-untyped-def]
            self.f = f

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *exc):  # type: ignore[no-untyped-def]
            self.f.close()

        def write(self, data: bytes) -> int:
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fake_open(file, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        f = real_open(file, mode, *args, **kwargs)
        return Full(f) if mode == "ab" and str(file).endswith("j.log") else f

    return fake_open


def test_disk_full_is_named_and_leaves_no_partial_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "j.log"
    _journal_with_trials(path, 2)
    before = path.read_bytes()
    study = _study(path)
    monkeypatch.setattr("builtins.open", _no_space(open))
    with pytest.raises(StorageError, match="disk full .No space left on device."):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert path.read_bytes() == before  # cut back: the next append starts on a whole line
    monkeypatch.undo()  # space freed
    study = _study(path)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 3


@pytest.fixture
def tiny_tmpfs(tmp_path: Path):  # type: ignore[no-untyped-def]
    with tmpfs(tmp_path, "256k") as where:
        yield where


def test_a_real_full_disk_keeps_the_study_readable_and_a_rerun_completes(
    tiny_tmpfs: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    monkeypatch.setenv("RECSEARCH_TEST_TRIAL_S", "0.0")
    monkeypatch.chdir(tiny_tmpfs)
    filler = tiny_tmpfs / "filler"
    filler.write_bytes(b"x" * (240 * 1024))  # leave 16 KiB: about 9 trials fill them
    args = ["run", "--dataset", "_scale_support:tiny_dataset", "--space",
            "_scale_support:small_space", "--strategy", "_scale_support:random_strategy",
            "--objective", "_scale_support:SleepObjective", "--trials", "15", "--storage",
            "journal:j.log", "--study", "s", "--tracking-uri", "none",
            "--no-progress"]  # fmt: skip
    code = cli.main(args)
    err = capsys.readouterr().err
    assert code != 0 and "disk full" in err, err
    assert "Should not reach" not in err and "Traceback" not in err
    done = len(_study(tiny_tmpfs / "j.log").get_trials(states=(TrialState.COMPLETE,)))
    filler.unlink()  # space freed
    code = cli.main(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "15 complete" in out
    assert len(_study(tiny_tmpfs / "j.log").get_trials(states=(TrialState.COMPLETE,))) == 15
    assert done < 15
    assert cli.main(["best", "--study", "s", "--storage", "journal:j.log", "--json"]) == 0
