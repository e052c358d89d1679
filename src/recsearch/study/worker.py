"""The worker loop: run a study's trials until it holds its target, through signals and deaths.

Before a worker starts a trial it checks that finished plus running trials are below the target,
and a trial that turns out to be beyond the target anyway (two workers raced) fails at once as
``surplus`` before any training, so a study ends with exactly ``n_trials`` counted trials. A study
with ``budget_total`` (a comparison cell) also stops once its finished trials spent that many
epoch-equivalents; a trial started after that fails at once as ``budget``.

Queue-only studies (every kind but ``search``) sample nothing: the worker runs WAITING (enqueued)
trials and stops when none is waiting or running.

Signals: SIGINT and SIGTERM mark the running trial failed with ``failure = "interrupted (SIGINT)"``
(the tracker ends its run), and the worker returns with ``interrupted`` set (the CLI exits 130 or
143); running the same command again resumes and runs only the missing trials.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from recsearch._internals import FIXED_PARAMS_ATTR
from recsearch._internals import storage_of
from recsearch._internals import trial_id_of
from recsearch._internals import unmask_tell_error
from recsearch.failures import FAILURE_BUDGET
from recsearch.failures import FAILURE_INTERRUPTED
from recsearch.failures import FAILURE_SURPLUS
from recsearch.failures import NOT_COUNTED
from recsearch.failures import exception_kind
from recsearch.failures import exception_text
from recsearch.failures import failure_kind
from recsearch.failures import record_failure
from recsearch.failures import safe_record_failure
from recsearch.hooks import USER_ATTR_EPOCHS
from recsearch.study.components import Components
from recsearch.study.components import Overrides
from recsearch.study.components import resolve
from recsearch.study.limits import check_failure_limit
from recsearch.study.limits import default_max_failures
from recsearch.study.limits import restart_count
from recsearch.study.reach import record_untracked
from recsearch.study.settings import StudySettings
from recsearch.study.studies import COUNTED_STATES
from recsearch.study.studies import StudyCounts
from recsearch.study.studies import check_schema
from recsearch.study.studies import failure_summary
from recsearch.study.studies import load_study
from recsearch.study.studies import study_counts
from recsearch.study.tracking import call_tracker
from recsearch.study.tracking import kill_callback
from recsearch.study.tracking import start_tracking

__all__ = ["Interrupted", "TrialRunner", "WorkerResult", "run_worker", "spent_epochs"]

_POLL_S = 0.5


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; Optuna marks the running trial failed as for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _NotRun(Exception):
    """The trial must not run (surplus, over budget, not from the queue); it fails at once."""


@dataclass
class WorkerResult:
    """What one worker did.

    Attributes:
        study_name: The study.
        ran: Trials this worker started (surplus ones excluded).
        counts: The study's counts when the worker stopped.
        failures: :func:`~recsearch.study.studies.failure_summary` of the study.
        interrupted: The signal number that stopped the worker, if any.
    """

    study_name: str
    ran: int
    counts: StudyCounts
    failures: list[tuple[str, int]]
    interrupted: int | None = None


def trial_epochs(trial: FrozenTrial, *, epochs_per_trial: float) -> float:
    """Epoch-equivalents a finished trial consumed (a full trial when it ran and did not say)."""
    epochs = trial.user_attrs.get(USER_ATTR_EPOCHS)
    if epochs is None:
        return epochs_per_trial if trial.state in COUNTED_STATES else 0.0
    return float(epochs)


def spent_epochs(
    study: optuna.Study, settings: StudySettings, *, before: int | None = None
) -> float:
    """Epoch-equivalents the study's finished trials consumed (those numbered below ``before``)."""
    trials = study.get_trials(deepcopy=False)
    return _spent([t for t in trials if before is None or t.number < before], settings)


def _spent(trials: list[FrozenTrial], settings: StudySettings) -> float:
    return sum(
        trial_epochs(t, epochs_per_trial=settings.budget_epochs)
        for t in trials
        if t.state.is_finished() and failure_kind(t) not in NOT_COUNTED
    )


class TrialRunner:
    """Wraps the objective: surplus and budget checks, failure reasons, memory release, signals.

    Args:
        objective: The Optuna objective.
        target: The study's ``n_trials``.
        settings: The study's settings (``budget_total``, queue-only); ``None``: a search study
            with ``target`` only.
    """

    def __init__(
        self,
        objective: Callable[[optuna.Trial], Any],
        target: int,
        settings: StudySettings | None = None,
    ) -> None:
        self.objective = objective
        self.target = target
        self.settings = settings
        self.current: optuna.Trial | None = None
        self.surplus = False

    def _refuse(self, trial: optuna.Trial) -> None:
        from recsearch.storage import _HOST
        from recsearch.storage import SYSTEM_ATTR_WORKER

        trial.storage.set_trial_system_attr(
            trial_id_of(trial), SYSTEM_ATTR_WORKER, {"host": _HOST, "pid": os.getpid()}
        )
        settings = self.settings
        if settings is not None and settings.queue_only:
            if FIXED_PARAMS_ATTR not in trial.storage.get_trial_system_attrs(trial_id_of(trial)):
                self._not_run(trial, "surplus", f"{FAILURE_SURPLUS}: no enqueued trial left")
            return
        earlier = [t for t in trial.study.get_trials(deepcopy=False) if t.number < trial.number]
        ahead = sum(
            t.state in (*COUNTED_STATES, TrialState.RUNNING, TrialState.WAITING) for t in earlier
        )
        if ahead >= self.target:
            self._not_run(trial, "surplus", f"{FAILURE_SURPLUS}: the study already has its trials")
        if settings is not None and settings.budget_total is not None:
            spent = _spent(earlier, settings)
            # NOTE: trials numbered before this one that still run count at a full trial's
            # budget: two workers that both saw budget left cannot both spend it (the later
            # number waits; if the earlier trial fails, the budget is free again).
            running = sum(t.state == TrialState.RUNNING for t in earlier)
            if spent + running * settings.budget_epochs >= settings.budget_total - 1e-9:
                self._not_run(
                    trial, "budget", f"{FAILURE_BUDGET}: the study spent its {spent:g} epochs"
                    + (f" ({running} trials running)" if running else "")
                )

    def _not_run(self, trial: optuna.Trial, kind: Any, text: str) -> None:
        self.surplus = True
        record_failure(trial, kind, text)
        raise _NotRun(f"trial {trial.number}: {text}")

    def __call__(self, trial: optuna.Trial) -> Any:
        """Run the objective on ``trial`` unless it must not run (then it fails at once)."""
        self.current = trial
        self.surplus = False
        self._refuse(trial)
        try:
            value = self.objective(trial)
            _HELD.active = True  # NOTE: trained: a signal now waits until the result is stored
            return value
        except Interrupted as exc:
            safe_record_failure(trial, "interrupted", f"{FAILURE_INTERRUPTED} ({exc})")
            raise
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            safe_record_failure(trial, exception_kind(exc), exception_text(exc), keep_text=True)
            raise
        finally:
            _release_memory()


def _release_memory() -> None:
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None:
        with contextlib.suppress(Exception):
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


class _HeldSignals:
    """Signals held while a finished trial's result is being stored, and signals seen.

    A signal that arrives between a trial's end of training and its stored result waits until it
    is stored (issue 14 #4): a finished trial is never turned into a failure. Every signal is
    also noted as seen before the handler raises, because Python prints and drops an exception
    raised while a finalizer runs (a ``__del__`` or weakref callback during garbage collection):
    the worker loop then stops after the trial all the same.
    """

    def __init__(self) -> None:
        self.active = False
        self.pending: int | None = None
        self.seen: int | None = None

    def release(self) -> int | None:
        """Stop holding; the held (or seen) signal, if one came."""
        signum = self.pending or self.seen
        self.pending, self.seen, self.active = None, None, False
        return signum


_HELD = _HeldSignals()


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """SIGINT/SIGTERM raise :class:`Interrupted` in the main thread while the block runs.

    They are held while a finished trial is being stored (:class:`_HeldSignals`).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if _HELD.active:
            _HELD.pending = _HELD.pending or signum
            return
        _HELD.seen = _HELD.seen or signum
        raise Interrupted(signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def set_threads(threads: int | None) -> None:
    """Limit this process's threads; torch is set only if the objective loaded it."""
    if threads is None:
        return
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def _local_settings(
    settings: StudySettings, dataset_options: Mapping[str, Any] | None
) -> StudySettings:
    if not dataset_options:
        return settings
    options = {**settings.dataset_options, **dataset_options}
    dataset = settings.dataset
    if Path(dataset).is_absolute() and "path" in dataset_options:
        # NOTE: the study's data set is a file; on this machine it lives elsewhere.
        dataset = str(options.pop("path"))
    return dataclasses.replace(settings, dataset=dataset, dataset_options=options)


def _finished(study: optuna.Study, settings: StudySettings, counts: StudyCounts) -> bool:
    if settings.queue_only:
        return counts.waiting == 0 and counts.running == 0
    if counts.done >= settings.n_trials:
        return True
    total = settings.budget_total
    return total is not None and spent_epochs(study, settings) >= total - 1e-9


def _busy_elsewhere(study: optuna.Study, settings: StudySettings, counts: StudyCounts) -> bool:
    """Whether the trials left are running elsewhere (they may still fail or die: wait)."""
    if counts.waiting:
        return False
    if settings.queue_only:
        return True
    if counts.done + counts.running >= settings.n_trials:
        return True
    total = settings.budget_total
    if total is None or not counts.running:
        return False
    return spent_epochs(study, settings) + counts.running * settings.budget_epochs >= total - 1e-9


def run_worker(
    *,
    study_name: str,
    storage: str | BaseStorage | None,
    n_trials: int | None = None,
    worker_index: int | None = None,
    threads: int | None = None,
    tracking_uri: str | None = None,
    heartbeat_interval: int = 10,
    grace_period: int | None = None,
    finalize: bool = True,
    dataset_options: Mapping[str, Any] | None = None,
    on_trial: Callable[[optuna.Study, FrozenTrial], None] | None = None,
    device: str | None = None,
    components: Components | None = None,
    overrides: Overrides | None = None,
    max_failures: int | None = None,
    pretrained: Any = None,
) -> WorkerResult:
    """Join an existing study and run trials until it holds its target number of trials.

    Args:
        study_name: The study, created by :func:`~recsearch.study.studies.create_study`.
        storage: Its storage URL (or storage).
        n_trials: Run at most this many trials in this worker (``None``: until the target).
        worker_index: Seeds the sampler with ``seed + 1000 * worker_index``; ``None`` uses
            the process id, so independent workers explore differently.
        threads: torch threads of this process (``None`` leaves torch's default).
        tracking_uri: Overrides the recorded MLflow URI (``"none"`` turns tracking off).
        heartbeat_interval: Seconds between heartbeats (see
            :func:`recsearch.storage.open_storage`).
        grace_period: Seconds without heartbeat before a trial is stale.
        finalize: Call the tracker's ``end_study`` when the study is done.
        dataset_options: Options overriding the recorded loader options (a data file at another
            path on this machine); the schema must still match the recorded fingerprint.
        on_trial: Called after each trial this worker finishes (progress display).
        device: The objective's device (``auto``, ``cpu``, ``cuda``, ``cuda:N``).
        components: Already resolved components (this process resolved them for the study).
        overrides: Python objects replacing what the settings name (see
            :class:`~recsearch.study.components.Overrides`).
        max_failures: Stop after this many consecutive failed trials of the study
            (:mod:`recsearch.study.limits`; ``None``: ``max(10, n_trials)``, ``0``: no limit).
        pretrained: The source model of a fine-tuning study, as this worker's own command line
            names it (a path, an MLflow model URI or a
            :class:`~recsearch.study.pretrained.Pretrained`); it must be the study's.

    Returns:
        A :class:`WorkerResult`. When a signal stopped the worker, ``interrupted`` holds it.

    Raises:
        StorageError: Unreachable storage or unknown study; nothing is written.
        StudyMismatchError: The data set's schema differs from the recorded one.
        FailureLimitError: The study's last ``max_failures`` trials failed; it names the last.

    Example:
        >>> run_worker(study_name="demo", storage="sqlite:///s.db")  # doctest: +SKIP
    """
    from recsearch.storage import _stale_handler
    from recsearch.storage import fail_stale_trials
    from recsearch.storage import open_storage

    store = (
        storage
        if isinstance(storage, BaseStorage)
        else open_storage(
            storage,
            must_exist=True,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
        )
    )
    if components is None:
        _, recorded = load_study(study_name=study_name, storage=store)
        settings = _local_settings(recorded, dataset_options)
        set_threads(threads)
        if pretrained is not None:
            from recsearch.study.pretrained import load

            overrides = dataclasses.replace(overrides or Overrides(), pretrained=load(pretrained))
        components = resolve(
            settings,
            worker_index=worker_index,
            tracking_uri=tracking_uri,
            device=device,
            overrides=overrides,
        )
        from recsearch.study.settings import schema_fingerprint

        schema = components.dataset.schema
        check_schema(study_name, recorded, schema_fingerprint(schema), schema)
    settings = components.settings
    strategy, tracker = components.strategy, components.tracker
    study = optuna.load_study(
        study_name=study_name, storage=store, sampler=strategy.sampler, pruner=strategy.pruner
    )
    start_tracking(tracker, study, settings=settings, storage=store, strategy=strategy)
    set_threads(threads)  # again: building the objective may have imported torch
    runner = TrialRunner(components.objective, settings.n_trials, settings)
    limit = default_max_failures(settings.n_trials) if max_failures is None else max_failures
    restart_count(study, limit)
    handler = _stale_handler(store)
    killed = kill_callback(tracker) if tracker is not None else None
    if handler is not None and killed is not None:
        handler.trackers.append(killed)

    def after_trial(st: optuna.Study, ft: FrozenTrial) -> None:
        if runner.surplus:
            return
        if tracker is not None:
            call_tracker(tracker, st, ft)
            with contextlib.suppress(Exception):
                record_untracked(st, getattr(tracker, "untracked", {}))
        if on_trial is not None:
            on_trial(st, ft)

    ran = 0
    interrupted: int | None = None
    # NOTE: failed trials are summarised by failure_summary; Optuna's own per-trial warnings
    # (with tracebacks) would bury the progress display.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # NOTE: what exists now (torch, MLflow, the data set) lives as long as the worker; frozen, it
    # is not scanned by the collection after each trial (1.3 s a trial with torch and MLflow).
    gc.freeze()
    with signals_raise():
        try:
            fail_stale_trials(study)
            while n_trials is None or ran < n_trials:
                counts = study_counts(study)
                if _finished(study, settings, counts):
                    break
                check_failure_limit(study, limit)
                if _busy_elsewhere(study, settings, counts):
                    # NOTE: the last trials run elsewhere; they may still fail or die. (Before
                    # each trial, Optuna itself fails stale trials through our storages.)
                    time.sleep(_POLL_S)
                    fail_stale_trials(study)
                    continue
                try:
                    study.optimize(
                        runner, n_trials=1, catch=(Exception,), callbacks=[after_trial],
                        gc_after_trial=False,
                    )  # fmt: skip
                except Exception as exc:
                    # NOTE: objective errors are caught by Optuna (catch=...); what escapes comes
                    # from telling the storage. When another worker took this live trial for
                    # dead (its heartbeat came later than the grace period, e.g. on an
                    # overloaded machine) and retried it, the result is dropped and the retry
                    # counts; anything else is a real storage problem.
                    current = runner.current
                    if current is None or not _finished_elsewhere(study, current):
                        url = getattr(store, "recsearch_url", None)
                        raise unmask_tell_error(exc, url) from None
                    print(
                        f"recsearch: trial {current.number} was failed by another worker as "
                        "dead; its result is dropped (consider a longer --grace)",
                        file=sys.stderr,
                    )
                finally:
                    held = _HELD.release()
                if not runner.surplus:
                    ran += 1
                if held is not None:
                    raise Interrupted(held)
        except Interrupted as exc:
            interrupted = exc.signum
            _report_interrupted(study, runner, killed)
        finally:
            gc.unfreeze()
    counts = study_counts(study)
    if finalize and interrupted is None and tracker is not None and _finished(
        study, settings, counts
    ):
        call_tracker(tracker.end_study, study)
    return WorkerResult(study_name, ran, counts, failure_summary(study), interrupted)


def _finished_elsewhere(study: optuna.Study, trial: optuna.Trial | None) -> bool:
    if trial is None:
        return False
    try:
        frozen = storage_of(study).get_trial(trial_id_of(trial))
    except Exception:  # noqa: BLE001 - the storage is gone: not this case
        return False
    return frozen.state == TrialState.FAIL and failure_kind(frozen) == "worker_died"


def _report_interrupted(
    study: optuna.Study,
    runner: TrialRunner,
    killed: Callable[[optuna.Study, FrozenTrial], None] | None,
) -> None:
    """After Ctrl-C: Optuna failed the trial and skipped the callbacks; run them ourselves."""
    trial = runner.current
    if trial is None:
        return
    with contextlib.suppress(Exception):
        storage, trial_id = storage_of(study), trial_id_of(trial)
        frozen = storage.get_trial(trial_id)
        if frozen.state == TrialState.RUNNING:
            # The signal came while Optuna was finishing the trial: finish it as interrupted.
            record_failure(
                storage, "interrupted", f"{FAILURE_INTERRUPTED} (signal)", trial_id=trial_id
            )
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
            frozen = storage.get_trial(trial_id)
        if frozen.state == TrialState.FAIL and not runner.surplus and killed is not None:
            call_tracker(killed, study, copy.deepcopy(frozen))
