"""Why a trial failed: a :data:`FailureKind` beside the text, written by one function.

Every failed trial carries two user attributes: ``failure`` (the text a person reads; its first
words are kept as they always were, e.g. ``worker died: ...``) and ``failure_kind`` (one of
:data:`FAILURE_KINDS`, what code reads). :func:`record_failure` is the only writer of both, as
SMAC3's runner owns its ``StatusType``; :func:`failure_kind` reads a trial's kind, and for trials
stored before the kind existed classifies their text.

This module imports no torch and no search code, and sits below every package: spaces,
objectives and the study worker all use it (``recsearch.study.failures`` re-exports it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal
from typing import get_args

from recsearch.errors import ForbiddenConfigurationError
from recsearch.errors import MemoryCapError
from recsearch.errors import NonFiniteLossError
from recsearch.hooks import USER_ATTR_FAILURE

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage

__all__ = [
    "COUNTED_AS_FAILURE",
    "FAILURE_INTERRUPTED",
    "FAILURE_KINDS",
    "FAILURE_SURPLUS",
    "FAILURE_WORKER_DIED",
    "USER_ATTR_FAILURE_KIND",
    "FailureKind",
    "exception_kind",
    "exception_text",
    "failure_kind",
    "first_line",
    "record_failure",
    "recording_failures",
]

FailureKind = Literal[
    "forbidden", "nonfinite", "memory", "error", "worker_died", "interrupted", "surplus", "budget"
]
"""``forbidden``: the configuration hits a forbidden clause (never trained); ``nonfinite``: the
loss became NaN/inf; ``memory``: out of memory or over the memory cap; ``error``: any other
exception; ``worker_died``: no heartbeat from its worker; ``interrupted``: SIGINT/SIGTERM;
``surplus``: started after the study had its trials; ``budget``: started after a comparison
cell had spent its budget."""
FAILURE_KINDS: tuple[str, ...] = get_args(FailureKind)

NOT_COUNTED: frozenset[str] = frozenset({"surplus", "budget"})
"""Kinds of trials that never ran: left out of failure summaries and of the budget."""
COUNTED_AS_FAILURE: frozenset[str] = frozenset({"error", "nonfinite", "memory"})
"""Kinds that mean the configuration or the code is bad (the others are circumstances)."""

USER_ATTR_FAILURE_KIND = "failure_kind"

FAILURE_WORKER_DIED = "worker died"
"""Prefix of the ``failure`` text of a trial whose worker stopped sending heartbeats."""
FAILURE_SURPLUS = "surplus"
"""Prefix of the ``failure`` text of a trial started after the study reached its target."""
FAILURE_INTERRUPTED = "interrupted"
"""Prefix of the ``failure`` text of a trial stopped by SIGINT/SIGTERM."""
FAILURE_BUDGET = "budget"
"""Prefix of the ``failure`` text of a trial started after its cell spent its budget."""

_LEGACY_PREFIXES: tuple[tuple[str, FailureKind], ...] = (
    (FAILURE_WORKER_DIED, "worker_died"),
    (FAILURE_SURPLUS, "surplus"),
    (FAILURE_INTERRUPTED, "interrupted"),
    (FAILURE_BUDGET, "budget"),
    ("out of memory", "memory"),
    ("forbidden", "forbidden"),
    ("NonFiniteLossError", "nonfinite"),
    ("MemoryCapError", "memory"),
)


def record_failure(
    target: optuna.Trial | BaseStorage,
    kind: FailureKind,
    text: str,
    *,
    trial_id: int | None = None,
    keep_text: bool = False,
) -> None:
    """Write a trial's ``failure`` text and ``failure_kind``: the one writer of both.

    Args:
        target: The running trial, or a storage (then ``trial_id`` names the trial).
        kind: One of :data:`FAILURE_KINDS`.
        text: What a person reads.
        trial_id: The trial's id when ``target`` is a storage.
        keep_text: Keep a text already recorded (an inner layer said it better); the kind is
            then written only when none is.

    Example:
        >>> import optuna
        >>> study = optuna.create_study()
        >>> trial = study.ask()
        >>> record_failure(trial, "nonfinite", "NonFiniteLossError: loss is nan")
        >>> failure_kind(study.trials[0])
        'nonfinite'
    """
    if kind not in FAILURE_KINDS:
        raise ValueError(f"unknown failure kind {kind!r}; one of {FAILURE_KINDS}")
    if trial_id is None:
        trial: Any = target
        attrs = trial.user_attrs
        set_attr = trial.set_user_attr
    else:
        storage: Any = target
        attrs = storage.get_trial(trial_id).user_attrs if keep_text else {}

        def set_attr(key: str, value: Any) -> None:
            storage.set_trial_user_attr(trial_id, key, value)

    if keep_text and attrs.get(USER_ATTR_FAILURE):
        if not attrs.get(USER_ATTR_FAILURE_KIND):
            set_attr(USER_ATTR_FAILURE_KIND, kind)
        return
    set_attr(USER_ATTR_FAILURE, text)
    set_attr(USER_ATTR_FAILURE_KIND, kind)


def failure_kind(trial: optuna.trial.FrozenTrial | Mapping[str, Any]) -> FailureKind | None:
    """The trial's :data:`FailureKind` (``None`` when it records no failure).

    ``trial`` may also be its user attributes. Trials stored before ``failure_kind`` existed are
    classified from their text (this is the only place that reads the text's first words).

    Example:
        >>> failure_kind({"failure": "worker died: no heartbeat from its worker process"})
        'worker_died'
    """
    attrs = trial if isinstance(trial, Mapping) else trial.user_attrs
    kind = attrs.get(USER_ATTR_FAILURE_KIND)
    if kind in FAILURE_KINDS:
        return kind  # type: ignore[no-any-return]
    text = str(attrs.get(USER_ATTR_FAILURE) or "")
    if not text:
        return None
    for prefix, legacy in _LEGACY_PREFIXES:
        if text.startswith(prefix):
            return legacy
    return "error"


def exception_kind(exc: BaseException) -> FailureKind:
    """The kind of failure an exception raised by an objective stands for.

    Example:
        >>> exception_kind(MemoryError()), exception_kind(ValueError())
        ('memory', 'error')
    """
    if isinstance(exc, ForbiddenConfigurationError):
        return "forbidden"
    if isinstance(exc, NonFiniteLossError):
        return "nonfinite"
    name = type(exc).__name__
    if isinstance(exc, (MemoryError, MemoryCapError)) or "OutOfMemory" in name:
        return "memory"
    if "out of memory" in str(exc):
        return "memory"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return "error"


def exception_text(exc: BaseException) -> str:
    r"""The ``failure`` text of an exception: its type and first line (OOM says so first).

    Example:
        >>> exception_text(ValueError("bad\nmore"))
        'ValueError: bad'
    """
    name = type(exc).__name__
    if exception_kind(exc) == "memory":
        return f"out of memory: {name}: {first_line(exc)}"
    return f"{name}: {first_line(exc)}"


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when empty), at most 300 chars."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line[:300]


def safe_record_failure(trial: optuna.Trial, kind: FailureKind, text: str, **kw: Any) -> None:
    """:func:`record_failure`, ignoring a trial that is already finished or gone."""
    with contextlib.suppress(Exception):
        record_failure(trial, kind, text, **kw)


def recording_failures(
    objective: Callable[[optuna.Trial], Any],
) -> Callable[[optuna.Trial], Any]:
    """``objective`` with the reason of any exception it raises written on the trial.

    Optuna 5 passes an objective's exception neither to the trial nor to callbacks, so a tracker
    would only see ``failure=None``; recsearch's worker wraps every objective this way, and
    ``study.optimize(recording_failures(my_objective), callbacks=[tracker])`` does the same for
    your own loop.

    Example:
        >>> import optuna
        >>> optuna.logging.set_verbosity(optuna.logging.ERROR)
        >>> def broken(trial): raise ZeroDivisionError("oops")
        >>> study = optuna.create_study()
        >>> study.optimize(recording_failures(broken), n_trials=1, catch=(Exception,))
        >>> study.trials[0].user_attrs["failure"]
        'ZeroDivisionError: oops'
    """
    import functools

    import optuna

    @functools.wraps(objective)
    def wrapped(trial: optuna.Trial) -> Any:
        try:
            return objective(trial)
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            safe_record_failure(trial, exception_kind(exc), exception_text(exc), keep_text=True)
            raise

    return wrapped
