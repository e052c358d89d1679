"""Is the tracking server there? Checked once, fast, before a study starts (issue 14 #6).

MLflow retries an unreachable server for minutes per call (its HTTP client backs off over seven
retries; a SQL backend retries its connection), so a study on a closed port printed nothing for
minutes. :func:`check_tracking` opens one TCP connection to the server (or checks the folder of a
local store) with a short timeout and raises a one-line
:class:`~recsearch.errors.StorageError`; :func:`quick_mlflow_retries` bounds MLflow's own
retries in this process, so a server that goes away mid-study costs seconds per call, not
minutes. Trials whose runs could not be written are reported at the end (the tracker's
``untracked`` numbers, stored in the study's user attribute :data:`USER_ATTR_UNTRACKED`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from recsearch.errors import StorageError
from recsearch.redact import redact

if TYPE_CHECKING:
    import optuna

__all__ = [
    "CHECK_TIMEOUT_S",
    "USER_ATTR_UNTRACKED",
    "check_tracking",
    "quick_mlflow_retries",
    "record_untracked",
    "untracked_trials",
]

CHECK_TIMEOUT_S = 5.0
"""Seconds the start-up check waits for the tracking server."""

USER_ATTR_UNTRACKED = "recsearch.untracked"
"""Study user attribute prefix: ``recsearch.untracked.N`` holds why trial N's run is incomplete."""

_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "mysql": 3306, "mariadb": 3306,
          "mssql": 1433}  # fmt: skip
_MLFLOW_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}


def check_tracking(uri: str, *, timeout: float = CHECK_TIMEOUT_S) -> None:
    """Raise a one-line :class:`StorageError` when the MLflow store at ``uri`` is unreachable.

    Servers (``http(s)``, PostgreSQL, MySQL, ...) get one TCP connection; a local store
    (``sqlite:///PATH``, ``file:``, a path) needs its folder to exist. Other schemes pass.

    Example:
        >>> check_tracking("http://127.0.0.1:1", timeout=1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        recsearch.errors.StorageError: tracking URI 'http://127.0.0.1:1': cannot connect to ...
    """
    shown = redact(uri)
    scheme = uri.split(":", 1)[0].lower() if "://" in uri else ""
    dialect = scheme.split("+", 1)[0]
    if dialect == "sqlite" or scheme == "file" or not scheme:
        path = uri.split("?", 1)[0]
        path = path[len("sqlite:///") :] if dialect == "sqlite" else path.removeprefix("file://")
        folder = Path(path).expanduser().parent if dialect == "sqlite" else Path(path).parent
        if path not in ("", ":memory:") and not folder.is_dir():
            raise StorageError(f"tracking URI {shown!r}: folder {str(folder)!r} does not exist")
        return
    if dialect not in _PORTS:
        return
    parts = urlsplit(uri)
    host = parts.hostname or "localhost"
    try:
        port = parts.port or _PORTS[dialect]
    except ValueError:
        raise StorageError(f"tracking URI {shown!r}: the port is not a number") from None
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise StorageError(
            f"tracking URI {shown!r}: cannot connect to {host}:{port} ({reason}, after at most "
            f"{timeout:g} s); start the MLflow server, or run with --tracking-uri none"
        ) from None


def quick_mlflow_retries() -> None:
    """Bound MLflow's HTTP retries in this process (unless the user set them)."""
    for key, value in _MLFLOW_ENV.items():
        os.environ.setdefault(key, value)


def record_untracked(study: optuna.Study, untracked: Mapping[int, str]) -> None:
    """Store which trials' runs could not be written (one study user attribute each)."""
    known = study.user_attrs
    for number, why in untracked.items():
        key = f"{USER_ATTR_UNTRACKED}.{number}"
        if key not in known:
            study.set_user_attr(key, why[:300])


def untracked_trials(study: optuna.Study) -> dict[int, str]:
    """Trial number -> why its MLflow run is incomplete, as stored by :func:`record_untracked`."""
    prefix = f"{USER_ATTR_UNTRACKED}."
    return {
        int(key[len(prefix) :]): str(why)
        for key, why in study.user_attrs.items()
        if key.startswith(prefix) and key[len(prefix) :].isdigit()
    }
