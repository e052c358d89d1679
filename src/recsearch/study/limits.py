"""A study whose trials keep failing stops by itself, quoting the last failure (issue 14 #2).

The limit counts, per study and from its storage (so every worker sees the same count), the
failures at the end of its history (by completion time) of the kinds in
:data:`~recsearch.failures.COUNTED_AS_FAILURE` (``error``, ``nonfinite``, ``memory``).
A complete or pruned trial ends the run of failures; forbidden configurations, surplus trials,
interruptions and dead workers neither count nor end it. The default limit is
``max(10, n_trials)``; ``0`` turns it off.

A worker that starts on a study already stopped this way (the user fixed the cause and runs the
same command again) starts counting afresh: it records the trial number where counting
restarts in the study user attribute :data:`USER_ATTR_COUNT_FROM`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from optuna.trial import TrialState

from recsearch.errors import RecsearchError
from recsearch.failures import COUNTED_AS_FAILURE
from recsearch.failures import failure_kind
from recsearch.hooks import USER_ATTR_FAILURE

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

__all__ = [
    "USER_ATTR_COUNT_FROM",
    "FailureLimitError",
    "FailureStreak",
    "check_failure_limit",
    "default_max_failures",
    "failure_streak",
    "restart_count",
]

USER_ATTR_COUNT_FROM = "recsearch.failures_counted_from"
"""Study user attribute: trials numbered below it are not counted by the failure limit."""


def default_max_failures(n_trials: int) -> int:
    """The default limit of consecutive failures of a study with target ``n_trials``.

    Example:
        >>> default_max_failures(2), default_max_failures(50)
        (10, 50)
    """
    return max(10, n_trials)


class FailureLimitError(RecsearchError, RuntimeError):
    """A study stopped after ``count`` consecutive failed trials; ``last`` quotes the last one."""

    def __init__(self, study_name: str, count: int, number: int, last: str) -> None:
        super().__init__(
            f"study {study_name!r} stopped after {count} consecutive failed trials; the last, "
            f"#{number}, failed with: {last}. Fix the cause and run the same command again "
            "(it counts afresh; --max-failures N changes the limit, 0 turns it off)"
        )
        self.study_name = study_name
        self.count = count
        self.number = number
        self.last = last


@dataclass(frozen=True)
class FailureStreak:
    """The failures at the end of a study's history.

    Attributes:
        count: How many (counted kinds only).
        last: The most recent of them, or ``None``.
    """

    count: int
    last: FrozenTrial | None


def _finished_order(trial: FrozenTrial) -> tuple[datetime, int]:
    return (trial.datetime_complete or datetime.min, trial.number)


def failure_streak(study: optuna.Study) -> FailureStreak:
    """Count the counted failures since the last complete or pruned trial (see the module)."""
    since = study.user_attrs.get(USER_ATTR_COUNT_FROM, 0)
    finished = [
        t for t in study.get_trials(deepcopy=False)
        if t.state.is_finished() and t.number >= since
    ]  # fmt: skip
    count = 0
    last = None
    for trial in sorted(finished, key=_finished_order, reverse=True):
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
            break
        if failure_kind(trial) in COUNTED_AS_FAILURE:
            count += 1
            last = last or trial
    return FailureStreak(count, last)


def check_failure_limit(study: optuna.Study, limit: int) -> None:
    """Raise :class:`FailureLimitError` when the study's streak reached ``limit`` (``0``: off)."""
    if limit <= 0:
        return
    streak = failure_streak(study)
    if streak.count >= limit and streak.last is not None:
        text = str(streak.last.user_attrs.get(USER_ATTR_FAILURE) or "no reason recorded")
        raise FailureLimitError(study.study_name, streak.count, streak.last.number, text[:300])


def restart_count(study: optuna.Study, limit: int) -> bool:
    """At a worker's start: on a study stopped by the limit, count afresh from now.

    Returns:
        Whether counting restarted.
    """
    if limit <= 0 or failure_streak(study).count < limit:
        return False
    trials = study.get_trials(deepcopy=False)
    study.set_user_attr(USER_ATTR_COUNT_FROM, max(t.number for t in trials) + 1)
    return True
