"""The one module for what recsearch takes from its dependencies' internals.

Each hook below is a private name of Optuna, ConfigSpace or SMAC3 that recsearch relies on,
checked by ``tests/test_internals.py`` against the installed versions; the upper bounds in
``pyproject.toml`` are the versions these hooks were checked with. When an upgrade changes one,
that test names the hook and what moved. New code reaches these internals through the functions
here, never by their private names.

Sections: ``optuna`` (storages, trial and study ids, heartbeats, the enqueue attribute),
``configspace`` (the condition DAG, vector distributions), ``smac`` (the acquisition maximizer's
local search), and those of issue 14 below.

Sections of issue 14 (tested in ``tests/test_journal_repair.py`` and
``tests/test_storage_errors.py``):

- journal: :class:`RepairingJournalFileBackend`, Optuna's journal file backend made to survive a
  torn last record (a crash or a full disk during a write). Uses ``JournalFileBackend._file_path``,
  ``JournalFileBackend._lock``, ``JournalFileBackend._log_number_offset`` and
  ``optuna.storages.journal._file.get_lock_file``, and relies on the file format of Optuna 5.0:
  one JSON object per line, each written as ``{"op_code": ...`` in a single ``write``.
- rdb: :func:`explain_storage_error`. Optuna 5.0's ``RDBStorage`` raises every SQLAlchemy error
  of a session as ``StorageInternalError`` ("... e.g. exceeding max length") with the driver's
  error as ``__cause__``; SQLite's own words are read from there.
- optimize: :func:`unmask_tell_error`. Optuna 5.0's ``_run_trial`` hides an error raised while
  telling the storage a trial's result behind ``AssertionError: Should not reach.`` (its
  ``finally`` clause asserts on the trial's state); the real error is that one's ``__context__``.
"""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._file import BaseJournalFileLock
from optuna.storages.journal._file import get_lock_file

from recsearch.errors import StorageError

if TYPE_CHECKING:
    import optuna
    from ConfigSpace import ConfigurationSpace
    from optuna.storages import BaseStorage

__all__ = [
    "FIXED_PARAMS_ATTR",
    "JOURNAL_RECORD_START",
    "JOURNAL_TORN_SUFFIX",
    "SMAC_HOOKS",
    "BaseHeartbeat",
    "RepairingJournalFileBackend",
    "explain_storage_error",
    "journal_backend",
    "halving_settings",
    "hyperband_bracket",
    "minimum_conditions",
    "stale_trial_ids",
    "storage_of",
    "study_id_of",
    "trial_id_of",
    "unmask_tell_error",
    "vector_dist",
]

# ------------------------------------------------------------------------------------ optuna
FIXED_PARAMS_ATTR = "fixed_params"
"""The trial system attribute where ``Study.enqueue_trial`` keeps an enqueued trial's params."""


def storage_of(study: optuna.Study) -> BaseStorage:
    """The storage object of a study (``Study._storage``)."""
    return study._storage  # type: ignore[no-any-return]


def study_id_of(study: optuna.Study) -> int:
    """The storage's id of a study (``Study._study_id``)."""
    return int(study._study_id)


def trial_id_of(trial: optuna.Trial | optuna.trial.FrozenTrial) -> int:
    """The storage's id of a trial (``_trial_id`` of a running or frozen trial)."""
    return int(trial._trial_id)


def stale_trial_ids(storage: BaseStorage, study_id: int) -> list[int]:
    """Trials the storage's heartbeat finds stale (``BaseHeartbeat._get_stale_trial_ids``)."""
    return list(storage._get_stale_trial_ids(study_id))  # type: ignore[attr-defined]


def hyperband_bracket(pruner: Any, study: optuna.Study, trial: optuna.Trial) -> Any | None:
    """The successive-halving pruner of ``trial``'s Hyperband bracket.

    Reads ``_pruners`` and ``_get_bracket_id``; ``None`` before Hyperband has brackets
    (``max_resource="auto"`` waits for a completed trial).
    """
    if not pruner._pruners:
        pruner._try_initialization(study)
    if not pruner._pruners:
        return None
    return pruner._pruners[pruner._get_bracket_id(study, trial)]


def halving_settings(pruner: Any) -> tuple[Any, int, int]:
    """``(min_resource, reduction_factor, min_early_stopping_rate)`` of a halving pruner.

    A Hyperband pruner has no early-stopping rate (0); ``min_resource`` may be ``"auto"``.
    """
    return (pruner._min_resource, int(pruner._reduction_factor),
            int(getattr(pruner, "_min_early_stopping_rate", 0)))  # fmt: skip


# ------------------------------------------------------------------------------- configspace
def minimum_conditions(space: ConfigurationSpace) -> list[Any]:
    """The space's conditions in evaluation order (``ConfigurationSpace._dag``)."""
    return list(space._dag.minimum_conditions)


def vector_dist(hp: Any) -> Any:
    """The distribution a hyperparameter samples vectors from (``_vector_dist``)."""
    return hp._vector_dist


# -------------------------------------------------------------------------------------- smac
SMAC_HOOKS: tuple[tuple[str, str, str], ...] = (
    (
        "smac.acquisition.maximizer.local_and_random_search",
        "LocalAndSortedRandomSearch",
        "_maximize",
    ),
    ("smac.acquisition.maximizer.local_search", "LocalSearch", "_get_initial_points"),
)
"""(module, class, private method) of SMAC3 that ``recsearch.strategies._smac`` calls or wraps:
the maximizer's ``_maximize`` and its local search's ``_get_initial_points`` (made
order-stable)."""

# ------------------------------------------------------------------------------------ journal

JOURNAL_TORN_SUFFIX = ".torn"
"""Suffix of the side file that keeps every set-aside torn record (``PATH.torn``)."""

JOURNAL_RECORD_START = b'{"op_code":'
"""How every record of an Optuna 5.0 journal begins; inside a record it can only appear as a
nested object's key, so a line holding it twice is a torn record followed by a whole one."""

_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_CHUNK = 1 << 16


def journal_write_error(path: str | os.PathLike[str], exc: OSError) -> StorageError:
    """The one-line error for a failed journal write; a full disk is named as such."""
    if exc.errno in _DISK_FULL:
        return StorageError(
            f"journal {str(path)!r}: disk full ({os.strerror(exc.errno)}); nothing was half "
            "written: free space and run the same command again to continue the study"
        )
    return StorageError(f"journal {str(path)!r}: write failed: {exc.strerror or exc}")


class RepairingJournalFileBackend(JournalFileBackend):
    """Optuna's journal file backend that sets torn records aside instead of choking on them.

    Optuna appends each operation as one JSON line. A write cut short (a crash, a full disk)
    leaves a partial last line; Optuna's next append then continues that line, and from then on
    every read of the file fails. Here, under the journal's file lock:

    - before every append, a last line without its newline is moved to ``PATH.torn`` and cut
      from the journal, so the new record starts on a line of its own;
    - a failed append cuts the journal back to its size before the write and raises a
      :class:`~recsearch.errors.StorageError` (``disk full`` when the disk is);
    - on open, a file already damaged that way (a partial record with a whole one appended to it)
      is repaired: each partial record is moved to ``PATH.torn`` and the whole record after it
      kept, so every complete trial stays readable. A line that is neither is refused with its
      line number rather than guessed at.

    Nothing is dropped silently: the side file holds each set-aside piece after a ``#`` line that
    says when and from which byte offset it was taken.

    Args:
        file_path: The journal file.
        lock_obj: As for :class:`~optuna.storages.journal.JournalFileBackend`.

    Example:
        >>> import tempfile, optuna
        >>> from optuna.storages import JournalStorage
        >>> path = tempfile.mktemp(suffix=".log")
        >>> storage = JournalStorage(RepairingJournalFileBackend(path))
        >>> optuna.create_study(storage=storage).study_name.startswith("no-name")
        True
    """

    def __init__(self, file_path: str, lock_obj: BaseJournalFileLock | None = None) -> None:
        super().__init__(file_path, lock_obj=lock_obj)
        self.torn_path = file_path + JOURNAL_TORN_SUFFIX
        self.set_aside = 0
        with get_lock_file(self._lock):
            self._repair_file()

    # Optuna's names, reached through one place each.
    @property
    def path(self) -> str:
        """The journal file."""
        return str(self._file_path)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        """Append records as Optuna does, after setting a torn last line aside."""
        data = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
        try:
            with get_lock_file(self._lock):
                size = self._cut_torn_tail()
                try:
                    with open(self.path, "ab") as f:
                        f.write(data.encode("utf-8"))
                        f.flush()
                        os.fsync(f.fileno())
                except OSError:
                    self._truncate(size)
                    raise
        except StorageError:
            raise
        except OSError as exc:  # NOTE: also the lock file (a read-only or full disk)
            raise journal_write_error(self.path, exc) from None

    # --------------------------------------------------------------------------- repairs

    def _keep(self, offset: int, piece: bytes, why: str) -> None:
        """Append a set-aside piece to the side file (raises if even that cannot be written)."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        header = f"# {stamp} {why}: {len(piece)} bytes from byte {offset} of {self.path}\n"
        try:
            with open(self.torn_path, "ab") as f:
                f.write(header.encode() + piece + b"\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise StorageError(
                f"journal {self.path!r} ends in a torn record that cannot be set aside in "
                f"{self.torn_path!r}: {exc.strerror or exc}"
            ) from None
        self.set_aside += 1

    def _truncate(self, size: int) -> None:
        try:
            os.truncate(self.path, size)
        except OSError:
            pass  # NOTE: the next append (or open) sets the torn tail aside instead.

    def _cut_torn_tail(self) -> int:
        """Set aside a last line without newline; return the journal's size afterwards."""
        with open(self.path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return 0
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return size
            end = size
            start = size
            while start > 0:  # find the last newline, reading backwards in chunks
                start = max(0, start - _CHUNK)
                f.seek(start)
                chunk = f.read(end - start)
                cut = chunk.rfind(b"\n")
                if cut >= 0:
                    start += cut + 1
                    break
                end = start
            f.seek(start)
            tail = f.read()
        self._keep(start, tail, "torn last record")
        os.truncate(self.path, start)
        return start

    def _repair_file(self) -> None:
        """On open: set aside torn records, including those Optuna appended a record onto."""
        self._cut_torn_tail()
        with open(self.path, "rb") as f:
            data = f.read()
        if data.count(JOURNAL_RECORD_START) == data.count(b"\n"):
            return  # NOTE: the fast path; every line holds one record start.
        out = bytearray()
        offset = 0
        for number, line in enumerate(data.splitlines(keepends=True), start=1):
            out += self._whole_record(line, offset, number)
            offset += len(line)
        if out == data:
            return
        tmp = self.path + ".repair"
        with open(tmp, "wb") as f:
            f.write(out)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._log_number_offset = {0: 0}

    def _whole_record(self, line: bytes, offset: int, number: int) -> bytes:
        try:
            json.loads(line)
            return line
        except ValueError:
            pass
        start = line.find(JOURNAL_RECORD_START, 1)
        while start > 0:
            try:
                json.loads(line[start:])
            except ValueError:
                start = line.find(JOURNAL_RECORD_START, start + 1)
                continue
            self._keep(offset, line[:start], "torn record followed by a whole one")
            return line[start:]
        raise StorageError(
            f"journal {self.path!r}: line {number} is not a whole record, nor a torn one "
            "followed by a whole one; recsearch does not guess which operation it was"
        )


def journal_backend(path: str | Path) -> RepairingJournalFileBackend:
    """The journal backend recsearch opens every journal file with (Optuna's open-file lock)."""
    from optuna.storages.journal import JournalFileOpenLock

    return RepairingJournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))


# ----------------------------------------------------------------------------------- optimize

OPTUNA_MASK = "Should not reach."
"""The message of the assertion Optuna's ``_run_trial`` raises over a failed tell."""


def unmask_tell_error(exc: BaseException, url: str | None = None) -> BaseException:
    """The error Optuna's ``Should not reach.`` assertion hid (a full disk, a lost database).

    Explained by :func:`explain_storage_error` where it is a database's. Returns ``exc``
    itself when it is not that assertion or hides nothing.
    """
    if isinstance(exc, AssertionError) and str(exc) == OPTUNA_MASK:
        hidden = exc.__context__
        if isinstance(hidden, Exception):
            exc = hidden
    return explain_storage_error(exc, url) or exc


# ---------------------------------------------------------------------------------------- rdb


def _innermost(exc: BaseException) -> BaseException:
    seen = {id(exc)}
    while (inner := exc.__cause__ or exc.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    return exc


def _read_only_fs(url: str | None) -> bool:
    if not url or not url.startswith("sqlite:///"):
        return False
    folder = Path(url[len("sqlite:///") :].split("?", 1)[0]).parent
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def explain_storage_error(exc: BaseException, url: str | None = None) -> StorageError | None:
    """A one-line :class:`StorageError` for a database error Optuna hides, else ``None``.

    A damaged SQLite file is named a "malformed database", a write refused by a read-only
    mount a "read-only file system"; anything else gets the driver's own first line.
    """
    from optuna.exceptions import StorageInternalError

    if not isinstance(exc, StorageInternalError):
        return None
    from recsearch.redact import redact

    root = _innermost(exc)
    text = str(root).strip().splitlines()[0] if str(root).strip() else type(root).__name__
    text = text.split("\n[SQL:", 1)[0][:300]
    where = f"storage {redact(url)!r}: " if url else "storage: "
    lower = text.lower()
    if "malformed" in lower or "not a database" in lower:
        return StorageError(
            f"{where}malformed database ({text}); restore the file from a backup, or salvage "
            "it with `sqlite3 FILE .recover | sqlite3 NEW.db`"
        )
    if "readonly" in lower or "read-only" in lower:
        if _read_only_fs(url):
            return StorageError(f"{where}read-only file system ({text}); put the study on a "
                                "writable disk")  # fmt: skip
        return StorageError(f"{where}read-only database ({text}); check the permissions of the "
                            "file and its folder")  # fmt: skip
    return StorageError(f"{where}{text}")
