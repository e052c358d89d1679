"""The life of a study: settings, components, the worker loop and the local launcher.

Modules, each with one job:

- :mod:`~recsearch.study.settings`: :class:`StudySettings`, identity, default name, schema record.
- :mod:`~recsearch.study.components`: settings -> data set, space, strategy, objective, tracker
  (resolved once per process; the objective factory of each study kind).
- :mod:`~recsearch.study.studies`: create (or find the same), load, count, enqueue cells.
- :mod:`~recsearch.study.failures`: re-exports :mod:`recsearch.failures` (:data:`FailureKind` and
  :func:`record_failure`, the one writer of a trial's ``failure`` / ``failure_kind``), which sits
  below every package so that spaces and objectives never import the study layer.
- :mod:`~recsearch.study.worker`: the worker loop (signals, heartbeats, surplus, queue-only).
- :mod:`~recsearch.study.launcher`: :func:`run` with N local worker processes, devices.
- :mod:`~recsearch.study.tracking`: the :class:`StudyTracker` protocol and its glue.
- :mod:`~recsearch.study.comparison`: compare = one study per (strategy, seed) on one storage.

Names are imported lazily, so importing one module of the study layer stays light.

Example:
    >>> from recsearch.study import StudySettings
    >>> StudySettings("synthetic", "hpo", "tpe", n_trials=5).kind
    'search'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from recsearch.failures import FailureKind
    from recsearch.failures import failure_kind
    from recsearch.failures import record_failure
    from recsearch.study.components import Components
    from recsearch.study.components import Overrides
    from recsearch.study.components import resolve
    from recsearch.study.launcher import RunResult
    from recsearch.study.launcher import run
    from recsearch.study.settings import StudyKind
    from recsearch.study.settings import StudyMismatchError
    from recsearch.study.settings import StudySettings
    from recsearch.study.studies import StudyCounts
    from recsearch.study.studies import create_study
    from recsearch.study.studies import enqueue_missing
    from recsearch.study.studies import failure_summary
    from recsearch.study.studies import load_study
    from recsearch.study.studies import study_counts
    from recsearch.study.tracking import StudyTracker
    from recsearch.study.worker import WorkerResult
    from recsearch.study.worker import run_worker

_WHERE = {
    "Components": "components",
    "Overrides": "components",
    "resolve": "components",
    "FailureKind": "failures",
    "failure_kind": "failures",
    "record_failure": "failures",
    "RunResult": "launcher",
    "run": "launcher",
    "StudyKind": "settings",
    "StudyMismatchError": "settings",
    "StudySettings": "settings",
    "StudyCounts": "studies",
    "create_study": "studies",
    "enqueue_missing": "studies",
    "failure_summary": "studies",
    "load_study": "studies",
    "study_counts": "studies",
    "StudyTracker": "tracking",
    "WorkerResult": "worker",
    "run_worker": "worker",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'recsearch.study' has no attribute {name!r}")
    return getattr(importlib.import_module(f"recsearch.study.{module}"), name)
