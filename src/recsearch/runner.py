"""Old home of the study machinery; it lives in :mod:`recsearch.study` now.

Every name this module had is re-exported here, so ``from recsearch import runner`` and
``runner.run(...)`` keep working. New code imports from :mod:`recsearch.study`.
"""

from __future__ import annotations

from recsearch.failures import FAILURE_INTERRUPTED
from recsearch.failures import FAILURE_SURPLUS
from recsearch.failures import FAILURE_WORKER_DIED
from recsearch.storage import _HOST
from recsearch.storage import DEFAULT_JOURNAL
from recsearch.storage import SYSTEM_ATTR_WORKER
from recsearch.storage import fail_stale_trials
from recsearch.storage import open_storage
from recsearch.storage import retry_trial
from recsearch.study.components import build_objective
from recsearch.study.components import build_space
from recsearch.study.components import build_strategy
from recsearch.study.components import load_dataset
from recsearch.study.launcher import RunResult
from recsearch.study.launcher import run
from recsearch.study.launcher import worker_command
from recsearch.study.settings import STUDY_ATTR
from recsearch.study.settings import StudyMismatchError
from recsearch.study.settings import StudySettings
from recsearch.study.settings import default_study_name
from recsearch.study.settings import schema_fingerprint
from recsearch.study.studies import COUNTED_STATES
from recsearch.study.studies import StudyCounts
from recsearch.study.studies import create_study
from recsearch.study.studies import failure_summary
from recsearch.study.studies import load_study
from recsearch.study.studies import study_counts
from recsearch.study.worker import Interrupted
from recsearch.study.worker import TrialRunner as _TrialRunner
from recsearch.study.worker import WorkerResult
from recsearch.study.worker import run_worker

__all__ = [
    "COUNTED_STATES",
    "DEFAULT_JOURNAL",
    "FAILURE_INTERRUPTED",
    "FAILURE_SURPLUS",
    "FAILURE_WORKER_DIED",
    "STUDY_ATTR",
    "SYSTEM_ATTR_WORKER",
    "Interrupted",
    "RunResult",
    "StudyCounts",
    "StudyMismatchError",
    "StudySettings",
    "WorkerResult",
    "_HOST",
    "_TrialRunner",
    "build_objective",
    "build_space",
    "build_strategy",
    "create_study",
    "default_study_name",
    "fail_stale_trials",
    "failure_summary",
    "load_dataset",
    "load_study",
    "open_storage",
    "retry_trial",
    "run",
    "run_worker",
    "schema_fingerprint",
    "study_counts",
    "worker_command",
]
