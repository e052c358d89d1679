"""Optuna storages by URL, with heartbeats, and one retry of a dead worker's trial.

Used by :mod:`recsearch.study` (and re-exported by :mod:`recsearch.runner`). URLs:

- no URL: a journal file, ``recsearch-journal.log`` in the working directory. The journal storage
  appends operations to one file under a file lock, so several worker processes write at once
  without SQLite's ``database is locked`` errors. Optuna's journal storage has no heartbeat, so
  one is added here (a trial system attribute refreshed every ``heartbeat_interval`` seconds).
- ``journal:PATH`` (or a bare path): a journal file elsewhere.
- ``sqlite:///PATH`` (or a bare ``.db`` path): SQLite through SQLAlchemy.
- ``postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB`` (or ``mysql+...``): many machines.

A RUNNING trial whose heartbeat is older than the grace period, or whose worker process on this
host no longer exists, is stale: it is marked failed with the user attribute ``failure`` saying
so, the stale-trial handler's trackers are told, and the trial is queued once more.
"""

from __future__ import annotations

import contextlib
import copy
import os
import socket
import sys
import time
from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from typing import Literal

import optuna
from optuna.storages import BaseStorage
from optuna.storages import JournalStorage
from optuna.storages import RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from recsearch._internals import BaseHeartbeat
from recsearch._internals import journal_backend
from recsearch._internals import stale_trial_ids
from recsearch._internals import storage_of
from recsearch._internals import study_id_of
from recsearch._internals import trial_id_of
from recsearch.errors import InvalidParameterError
from recsearch.errors import StorageError
from recsearch.failures import FAILURE_SURPLUS
from recsearch.failures import FAILURE_WORKER_DIED
from recsearch.failures import USER_ATTR_FAILURE_KIND
from recsearch.failures import failure_kind
from recsearch.failures import first_line as _first_line
from recsearch.failures import record_failure
from recsearch.hooks import USER_ATTR_FAILURE
from recsearch.redact import STORAGE_ENV
from recsearch.redact import redact as _redact
from recsearch.redact import redact_text
from recsearch.redact import remember
from recsearch.redact import usable_url

__all__ = [
    "DEFAULT_JOURNAL",
    "FAILURE_SURPLUS",
    "FAILURE_WORKER_DIED",
    "SYSTEM_ATTR_HEARTBEAT",
    "SYSTEM_ATTR_WORKER",
    "fail_stale_trials",
    "open_storage",
    "retry_trial",
]

DEFAULT_JOURNAL = "recsearch-journal.log"
"""The default storage: a journal file in the working directory."""

SYSTEM_ATTR_WORKER = "recsearch.worker"
SYSTEM_ATTR_HEARTBEAT = "recsearch.heartbeat"
_HOST = socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    return True


def _dead_local_worker(trial: FrozenTrial) -> bool:
    owner = trial.system_attrs.get(SYSTEM_ATTR_WORKER)
    if not isinstance(owner, Mapping) or owner.get("host") != _HOST:
        return False
    pid = owner.get("pid")
    return isinstance(pid, int) and pid != os.getpid() and not _pid_alive(pid)


class _StaleTrialHandler:
    """The heartbeat callback: report the dead trial to the tracker, then retry it once."""

    def __init__(self, max_retry: int) -> None:
        self.max_retry = max_retry
        self.trackers: list[Callable[[optuna.Study, FrozenTrial], None]] = []

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        for tracker in self.trackers:
            try:
                tracker(study, trial)
            except Exception as exc:  # noqa: BLE001 - a tracking outage never stops the study
                print(f"recsearch: tracker failed on dead trial {trial.number}: {exc}",
                      file=sys.stderr)
        if failure_kind(trial) in ("surplus", "budget"):
            return
        retry_trial(study, trial, max_retry=self.max_retry)


_NOT_INHERITED = (SYSTEM_ATTR_WORKER, SYSTEM_ATTR_HEARTBEAT, "mlflow_run_id")


def retry_trial(study: optuna.Study, trial: FrozenTrial, *, max_retry: int = 1) -> bool:
    """Queue a failed trial's configuration again, as Optuna's RetryHeartbeatStaleTrialCallback.

    The same ``failed_trial`` / ``retry_history`` system attributes (so
    :meth:`~optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number` works), but
    the new trial does not inherit what belonged to the dead one: its worker and heartbeat, its
    MLflow run and its ``failure`` reason.

    Returns:
        Whether a trial was queued (``False`` once ``max_retry`` retries were made).
    """
    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    if len(history) > max_retry:
        return False
    system_attrs = {
        k: v for k, v in trial.system_attrs.items() if k not in _NOT_INHERITED
    }
    system_attrs["failed_trial"] = trial.system_attrs.get("failed_trial", trial.number)
    system_attrs["retry_history"] = history
    user_attrs = {
        k: v
        for k, v in trial.user_attrs.items()
        if k not in (USER_ATTR_FAILURE, USER_ATTR_FAILURE_KIND)
    }
    study.add_trial(
        optuna.create_trial(
            state=TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            user_attrs=user_attrs,
            system_attrs=system_attrs,
        )
    )
    return True


def _mark_dead(storage: BaseStorage, trial_ids: list[int]) -> list[int]:
    """Write the ``failure`` reason on stale trials while they are still RUNNING.

    Optuna fails stale trials itself (at the start of every trial) and a finished trial takes no
    more attributes, so the reason is written here, where every stale-trial check passes.
    """
    for trial_id in trial_ids:
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError, KeyError):
            record_failure(
                storage,
                "worker_died",
                f"{FAILURE_WORKER_DIED}: no heartbeat from its worker process",
                trial_id=trial_id,
            )
    return trial_ids


class _PidAwareRDBStorage(RDBStorage):
    """Optuna's RDB storage whose stale trials also include those of dead local processes."""

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        stale = list(super()._get_stale_trial_ids(study_id))
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            if trial_id_of(trial) not in stale and _dead_local_worker(trial):
                stale.append(trial_id_of(trial))
        return _mark_dead(self, stale)


class _HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """Optuna's journal storage plus a heartbeat kept in a trial system attribute.

    Optuna 5.0's journal storage has no heartbeat; this adds one with the same contract as
    :class:`~optuna.storages.RDBStorage`'s (``heartbeat_interval``, ``grace_period``, a stale-trial
    callback), so :func:`optuna.storages.fail_stale_trials` works on it.
    """

    def __init__(
        self,
        backend: JournalFileBackend,
        *,
        heartbeat_interval: int,
        grace_period: int,
        stale_callback: Callable[[optuna.Study, FrozenTrial], None],
    ) -> None:
        super().__init__(backend)
        self._heartbeat_interval = heartbeat_interval
        self._grace_period = grace_period
        self._stale_callback = stale_callback

    def record_heartbeat(self, trial_id: int) -> None:
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError, KeyError):
            self.set_trial_system_attr(trial_id, SYSTEM_ATTR_HEARTBEAT, time.time())

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        now = time.time()
        stale = []
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            beat = trial.system_attrs.get(SYSTEM_ATTR_HEARTBEAT)
            if (
                isinstance(beat, (int, float)) and now - beat > self._grace_period
            ) or _dead_local_worker(trial):
                stale.append(trial_id_of(trial))
        return _mark_dead(self, stale)

    def get_heartbeat_interval(self) -> int | None:
        return self._heartbeat_interval

    def get_heartbeat_stale_trial_callback(
        self,
    ) -> Callable[[optuna.Study, FrozenTrial], None] | None:
        return self._stale_callback


def _parse_storage(url: str | None) -> tuple[Literal["journal", "rdb"], str]:
    if url is None or url == "":
        return "journal", str(Path(DEFAULT_JOURNAL).resolve())
    if url.startswith("journal:"):
        path = url[len("journal:") :]
        if path.startswith("//"):
            path = path[2:]
        if not path:
            raise StorageError(f"storage {url!r}: journal URL without a file path")
        return "journal", str(Path(path).resolve())
    if "://" not in url:
        if Path(url).suffix in (".db", ".sqlite", ".sqlite3"):
            return "rdb", f"sqlite:///{Path(url).resolve()}"
        return "journal", str(Path(url).resolve())
    scheme = url.split("://", 1)[0].lower()
    dialect = scheme.split("+", 1)[0]
    if dialect not in ("sqlite", "postgresql", "mysql", "mariadb", "oracle", "mssql"):
        raise StorageError(
            f"storage {_redact(url)!r}: unknown scheme {scheme!r}; use sqlite:///PATH, "
            "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB, mysql+pymysql://... or journal:PATH"
        )
    return "rdb", url


def _root_line(exc: BaseException) -> str:
    """The first line of the innermost cause.

    Optuna wraps a refused connection in a generic 'exception is raised during the commit' error
    whose cause says what really happened.
    """
    seen = {id(exc)}
    while (inner := exc.__cause__ or exc.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    return _first_line(exc)


def open_storage(
    url: str | None,
    *,
    must_exist: bool = False,
    heartbeat_interval: int = 10,
    grace_period: int | None = None,
    max_retry: int = 1,
) -> BaseStorage:
    """Open an Optuna storage by URL with heartbeats and one retry of dead workers' trials.

    Args:
        url: See the module docstring; ``None`` is the local journal file.
        must_exist: Refuse to create anything: the file must exist, the database must hold
            Optuna's tables (``recsearch worker`` opens storages this way).
        heartbeat_interval: Seconds between heartbeats of a running trial.
        grace_period: Seconds without a heartbeat after which a trial is stale
            (``3 * heartbeat_interval`` by default).
        max_retry: How often a dead worker's trial is queued again.

    Returns:
        The storage; its stale-trial handler is reachable as ``storage.recsearch_stale_handler``.

    Raises:
        StorageError: Unknown scheme, unreachable server, missing file or missing tables. The
            message is one line and never shows the password.

    Example:
        >>> storage = open_storage("sqlite:///:memory:")
    """
    if heartbeat_interval < 1:
        raise InvalidParameterError(
            f"The 'heartbeat_interval' parameter of open_storage must be >= 1. "
            f"Got {heartbeat_interval!r} instead."
        )
    grace = grace_period if grace_period is not None else 3 * heartbeat_interval
    remember(url)
    url = usable_url(url, env=STORAGE_ENV)  # a redacted URL: RECSEARCH_STORAGE or ~/.pgpass
    kind, target = _parse_storage(url)
    handler = _StaleTrialHandler(max_retry)
    shown = _redact(url or target)
    if kind == "journal":
        path = Path(target)
        if must_exist and not path.is_file():
            raise StorageError(f"storage {shown!r}: journal file {str(path)!r} does not exist")
        if not path.parent.is_dir():
            raise StorageError(f"storage {shown!r}: directory {str(path.parent)!r} does not exist")
        try:
            backend = journal_backend(path)  # sets a torn last record aside (issue 14 #1)
            storage: BaseStorage = _HeartbeatJournalStorage(
                backend,
                heartbeat_interval=heartbeat_interval,
                grace_period=grace,
                stale_callback=handler,
            )
        except StorageError:
            raise
        except (OSError, ValueError) as exc:
            raise StorageError(f"storage {shown!r}: {redact_text(_first_line(exc))}") from None
    else:
        if target.startswith("sqlite:///") and must_exist:
            db = target[len("sqlite:///") :].split("?", 1)[0]
            if db != ":memory:" and not Path(db).is_file():
                raise StorageError(f"storage {shown!r}: SQLite file {db!r} does not exist")
        engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if target.startswith("postgresql"):
            engine_kwargs["connect_args"] = {"connect_timeout": 10}
        elif target.startswith("sqlite"):
            engine_kwargs["connect_args"] = {"timeout": 60}
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = _PidAwareRDBStorage(
                    target,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace,
                    heartbeat_stale_trial_callback=handler,
                    skip_table_creation=must_exist,
                )
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy, driver and import errors alike
            reason = _root_line(exc)
            if must_exist and ("does not exist" in reason or "no such table" in reason):
                reason = "it holds no Optuna studies"
            raise StorageError(f"cannot open storage {shown!r}: {redact_text(reason)}") from None
    storage.recsearch_stale_handler = handler  # type: ignore[attr-defined]
    storage.recsearch_url = url or f"journal:{target}"  # type: ignore[attr-defined]
    return storage


def _stale_handler(storage: BaseStorage) -> _StaleTrialHandler | None:
    return getattr(storage, "recsearch_stale_handler", None)


def fail_stale_trials(study: optuna.Study) -> list[int]:
    """Mark RUNNING trials of dead workers failed (with a reason), tell the tracker, retry them.

    Returns:
        The numbers of the trials this call failed.
    """
    storage = storage_of(study)
    if not isinstance(storage, BaseHeartbeat) or storage.get_heartbeat_interval() is None:
        return []
    failed = []
    for trial_id in stale_trial_ids(storage, study_id_of(study)):
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError, KeyError):
            if storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
                failed.append(trial_id)
    callback = storage.get_heartbeat_stale_trial_callback()
    numbers = []
    for trial_id in failed:
        frozen = copy.deepcopy(storage.get_trial(trial_id))
        numbers.append(frozen.number)
        if callback is not None:
            callback(study, frozen)
    return numbers
