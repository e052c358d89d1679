"""The tracker a study talks to, as a typed protocol, and the glue that never lets it fail a trial.

:class:`StudyTracker` is what the worker loop needs from a tracker (``MLflowTracker`` is one): the
objective's report hook (:class:`recsearch.hooks.ObjectiveHook`), an Optuna callback, and the
study's start and end and a trial killed before its callback could run. Every call goes through
:func:`call_tracker`: a tracking outage prints one line and the study goes on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import Protocol
from typing import runtime_checkable

from recsearch.failures import FAILURE_WORKER_DIED
from recsearch.failures import first_line
from recsearch.hooks import USER_ATTR_FAILURE
from recsearch.hooks import ObjectiveHook
from recsearch.redact import TRACKING_ENV
from recsearch.redact import usable_url

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial

    from recsearch.study.components import Strategy
    from recsearch.study.settings import StudySettings

__all__ = ["StudyTracker", "call_tracker", "kill_callback", "make_tracker", "start_tracking"]


@runtime_checkable
class StudyTracker(ObjectiveHook, Protocol):
    """What the worker loop calls on a tracker.

    Example:
        >>> from recsearch.trackers import MLflowTracker
        >>> isinstance(MLflowTracker("sqlite:///:memory:"), StudyTracker)
        True
    """

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Optuna callback: the trial finished (complete, pruned or failed)."""

    def start_study(
        self,
        study: optuna.Study,
        *,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> str | None:
        """The study starts (or resumes) in this process; returns the study's run id."""

    def end_study(self, study: optuna.Study) -> str | None:
        """The study holds its trials: close what is open and log the study's artifacts."""

    def kill_trial(self, study: optuna.Study, trial: FrozenTrial, *, reason: str) -> None:
        """The trial ended without its callback (its worker died, or a signal stopped it)."""


def make_tracker(settings: StudySettings, tracking_uri: str | None) -> StudyTracker | None:
    """The study's tracker (``None`` when tracking is off).

    The worker's own ``tracking_uri`` wins over the recorded one; a redacted one is resolved by
    :func:`recsearch.redact.usable_url`.
    """
    uri = usable_url(tracking_uri if tracking_uri is not None else settings.tracking_uri,
                     env=TRACKING_ENV)  # fmt: skip
    if uri is None or uri.lower() == "none":
        return None
    from recsearch.study.reach import check_tracking
    from recsearch.study.reach import quick_mlflow_retries
    from recsearch.trackers import MLflowTracker

    quick_mlflow_retries()
    check_tracking(uri)  # NOTE: once, seconds: not minutes of MLflow's retries (issue 14 #6)

    return MLflowTracker(uri, experiment=settings.experiment)


def call_tracker(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Call ``fn``; a tracking error is one line on stderr, never a failed trial."""
    try:
        fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - tracking never stops the search
        print(f"recsearch: tracking failed ({type(exc).__name__}: {first_line(exc)})",
              file=sys.stderr)  # fmt: skip


def start_tracking(
    tracker: StudyTracker | None,
    study: optuna.Study,
    *,
    settings: StudySettings,
    storage: BaseStorage,
    strategy: Strategy,
) -> None:
    """Open (or find) the study's run with its tags and params."""
    if tracker is None:
        return
    from recsearch.storage import _redact

    tags = {
        "strategy": settings.strategy,
        "space": settings.space,
        "dataset": settings.dataset,
        "seed": str(settings.seed),
        "storage": _redact(str(getattr(storage, "recsearch_url", ""))),
        "recsearch.version": settings.version,
    }
    if settings.kind != "search":
        tags["recsearch.kind"] = settings.kind
    parent = study.user_attrs.get("recsearch.mlflow_parent")
    if parent:
        tags["mlflow.parentRunId"] = str(parent)  # NOTE: a comparison cell nests under its run
    params: dict[str, Any] = {
        "n_trials": settings.n_trials,
        "budget_epochs": settings.budget_epochs,
        "metric": settings.metric,
    }
    params.update({f"strategy.{k}": v for k, v in dict(strategy.meta).items()})
    params.update({f"dataset.{k}": v for k, v in dict(settings.dataset_options).items()})
    call_tracker(tracker.start_study, study, tags=tags, params=params)


def kill_callback(tracker: StudyTracker) -> Callable[[optuna.Study, FrozenTrial], None]:
    """A callback ending a trial's run KILLED, with its ``failure`` text as the reason."""

    def callback(study: optuna.Study, trial: FrozenTrial) -> None:
        reason = str(trial.user_attrs.get(USER_ATTR_FAILURE) or FAILURE_WORKER_DIED)
        tracker.kill_trial(study, trial, reason=reason)

    return callback
