"""MLflow tracking of Optuna studies: one parent run per study, one nested child run per trial."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal

from recsearch._internals import storage_of
from recsearch._internals import study_id_of
from recsearch._internals import trial_id_of
from recsearch.errors import InvalidParameterError
from recsearch.hooks import COST_PREFIX
from recsearch.hooks import USER_ATTR_EPOCHS
from recsearch.hooks import USER_ATTR_FAILURE
from recsearch.hooks import USER_ATTR_FIDELITY
from recsearch.hooks import USER_ATTR_SPEC
from recsearch.trackers._artifacts import git_revision
from recsearch.trackers._artifacts import log_best_model
from recsearch.trackers._artifacts import log_study_artifacts
from recsearch.trackers._keys import _jsonable
from recsearch.trackers._keys import flatten
from recsearch.trackers._keys import sanitize_key
from recsearch.trackers._keys import truncate_value
from recsearch.trackers._queue import RunQueue

if TYPE_CHECKING:
    import optuna
    from mlflow.tracking import MlflowClient

_logger = logging.getLogger(__name__)

PARENT_RUN_ATTR = "mlflow_parent_run_id"
"""Study user attribute holding the parent run id (shared by every worker of the study)."""
_PARENT_CANDIDATE_PREFIX = "mlflow_parent_run_candidate."
CHILD_RUN_ATTR = "mlflow_run_id"
"""Trial system attribute holding the trial's child run id."""
TAGS_ATTR = "mlflow_tags"
"""Study user attribute: the parent run's tags given to :meth:`MLflowTracker.start_study`."""
PARAMS_ATTR = "mlflow_params"
"""Study user attribute: the parent run's params given to :meth:`MLflowTracker.start_study`."""
STUDY_TAG_KEYS: tuple[str, ...] = ("strategy", "space", "dataset", "seed", "storage")
"""Study user attributes copied to the parent run's tags when present."""
STUDY_PARAM_KEYS: tuple[str, ...] = ("strategy_options", "budget")
"""Study user attributes copied (flattened) to the parent run's params when present."""
FINAL_METRIC_KEYS: tuple[str, ...] = ("valid_auc", "valid_logloss", "test_auc", "test_logloss")

OUTAGE_PAUSE_S = 30.0
"""After a failed MLflow call, trial updates skip MLflow for this long (training goes on)."""
_BATCH = 100

RunStatus = Literal["FINISHED", "FAILED", "KILLED"]


def default_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when set, else ``sqlite:///<cwd>/mlflow.db``."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return "sqlite:///" + str(Path.cwd() / "mlflow.db")


class MLflowTracker:
    """Logs an Optuna study to MLflow: an Optuna callback and the objective's report hook.

    One parent run per study holds the study's tags (strategy, space, dataset, seed, storage,
    package version, git revision), its params (strategy options, budget) and, after
    :meth:`end_study`, the artifacts (best configuration, decoded spec, trials table, plots).
    Every trial gets a nested child run in the same experiment with the configuration as params,
    validation metrics at every reported step, final metrics and cost measures. The parent run id
    lives in the study's user attributes, so trackers in several worker processes nest their
    child runs under the same parent. Tracking problems are logged and never fail a trial.

    Args:
        tracking_uri: MLflow tracking URI; ``None`` means ``MLFLOW_TRACKING_URI`` or
            ``sqlite:///mlflow.db`` in the working directory.
        experiment: Experiment name (created when missing).
        artifact_location: Artifact root for a newly created experiment; ``None`` puts it next to
            a SQLite store (``<db dir>/mlartifacts``) or leaves MLflow's default.
        log_trial_spec: Whether each child run also stores its decoded spec as ``spec.json``.
        flush_interval: Seconds between writes of a running trial's step metrics; they are
            queued in between and written at the latest when the trial ends (0 writes every
            step).
        best_model: Off by default. A function ``best_model(frozen_trial) -> torch.nn.Module``
            (for instance one retraining the best configuration); :meth:`end_study` then saves
            the module it returns with ``mlflow.pytorch`` (pickle format) as the parent's
            ``best_model`` artifact. This package imports torch only through that call.

    Example:
        >>> import optuna
        >>> tracker = MLflowTracker("sqlite:///mlflow.db", experiment="demo")  # doctest: +SKIP
        >>> study = optuna.create_study(direction="maximize")  # doctest: +SKIP
        >>> tracker.start_study(study, tags={"strategy": "random"})  # doctest: +SKIP
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), 5, callbacks=[tracker])
        ... # doctest: +SKIP
        >>> tracker.end_study(study)  # doctest: +SKIP
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        *,
        experiment: str = "recsearch",
        artifact_location: str | None = None,
        log_trial_spec: bool = True,
        flush_interval: float = 5.0,
        best_model: Callable[[optuna.trial.FrozenTrial], Any] | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.artifact_location = artifact_location
        self.log_trial_spec = log_trial_spec
        self.flush_interval = flush_interval
        self.best_model = best_model
        self._client: MlflowClient | None = None
        self._experiment_id: str | None = None
        self._parents: dict[str, str] = {}
        self._parent_experiments: dict[str, str] = {}
        self._children: dict[tuple[str, int], str] = {}
        self._last_step: dict[str, int] = {}
        self._failures: dict[str, str] = {}
        self._queue = RunQueue()
        self.untracked: dict[int, str] = {}
        self._outage_until = 0.0

    # ------------------------------------------------------------------ pickling (workers)
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_client"] = None
        state["_experiment_id"] = None
        state["_parents"] = {}
        state["_parent_experiments"] = {}
        state["_children"] = {}
        state["_last_step"] = {}
        state["_failures"] = {}
        state["_queue"] = RunQueue()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    # ------------------------------------------------------------------ MLflow handles
    @property
    def resolved_tracking_uri(self) -> str:
        """The tracking URI in use (argument, then environment, then the SQLite default)."""
        return self.tracking_uri or default_tracking_uri()

    @property
    def client(self) -> MlflowClient:
        """The one :class:`mlflow.tracking.MlflowClient` this tracker talks through."""
        if self._client is None:
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.resolved_tracking_uri)
        return self._client

    @property
    def experiment_id(self) -> str:
        """The id of :attr:`experiment`, created on first use."""
        if self._experiment_id is None:
            self._experiment_id = self._get_or_create_experiment()
        return self._experiment_id

    def _default_artifact_location(self) -> str | None:
        if self.artifact_location is not None:
            return self.artifact_location
        uri = self.resolved_tracking_uri
        if uri.startswith("sqlite:///"):
            db = Path(uri[len("sqlite:///") :])
            if str(db) not in ("", ":memory:"):
                return (db.resolve().parent / "mlartifacts").as_uri()
        return None

    def _get_or_create_experiment(self) -> str:
        from mlflow.exceptions import MlflowException

        client = self.client
        found = client.get_experiment_by_name(self.experiment)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                client.restore_experiment(found.experiment_id)
            return str(found.experiment_id)
        try:
            return str(
                client.create_experiment(
                    self.experiment, artifact_location=self._default_artifact_location()
                )
            )
        except MlflowException:
            # NOTE: another worker created it between our read and our create.
            found = client.get_experiment_by_name(self.experiment)
            if found is None:
                raise
            return str(found.experiment_id)

    def _safe(self, what: str, fn: Callable[[], Any], *, trial: int | None = None) -> Any:
        """Run ``fn``; a tracking outage never fails a trial nor slows it down.

        An outage is logged once, then trial updates leave MLflow alone for
        :data:`OUTAGE_PAUSE_S` seconds so training goes on at full speed; the trials whose runs
        missed something are kept in ``untracked`` (trial number -> reason).
        """
        if trial is not None and time.monotonic() < self._outage_until:
            self.untracked.setdefault(trial, "MLflow was unreachable")
            return None
        try:
            return fn()
        except Exception as err:  # NOTE: a tracking outage must never fail a trial
            self._outage_until = time.monotonic() + OUTAGE_PAUSE_S
            _logger.warning("MLflow tracking failed while %s (pausing tracking for %g s): %s",
                            what, OUTAGE_PAUSE_S, str(err).splitlines()[0][:300] if str(err)
                            else type(err).__name__)  # fmt: skip
            if trial is not None:
                self.untracked.setdefault(trial, f"MLflow failed while {what}")
            return None

    # ------------------------------------------------------------------ parent run
    def start_study(
        self,
        study: optuna.Study,
        *,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Create (or find) the study's parent run and log its tags and params.

        The tags and params are also stored in the study's user attributes, so a tracker in
        another worker process that only sees the study logs the same parent.

        Args:
            study: The study.
            tags: Parent run tags (strategy, space, dataset, seed, storage, ...).
            params: Parent run params (strategy options, budget, ...); nested mappings are
                flattened to dotted names.

        Returns:
            The parent run id, or ``None`` when MLflow could not be reached.
        """
        if tags:
            self._safe("storing tags", lambda: study.set_user_attr(TAGS_ATTR, _jsonable(tags)))
        if params:
            self._safe(
                "storing params", lambda: study.set_user_attr(PARAMS_ATTR, _jsonable(params))
            )
        return self._safe("starting the parent run", lambda: self._parent_run_id(study))

    def parent_run_id(self, study: optuna.Study) -> str | None:
        """The study's parent run id, creating the run when no worker has yet."""
        return self._safe("finding the parent run", lambda: self._parent_run_id(study))

    def _parent_run_id(self, study: optuna.Study) -> str:
        key = _study_key(study)
        if key in self._parents:
            return self._parents[key]
        attrs = study.user_attrs
        run_id = attrs.get(PARENT_RUN_ATTR)
        if run_id is None:
            run_id = self._elect_parent(study)
        self._parents[key] = str(run_id)
        return str(run_id)

    def _elect_parent(self, study: optuna.Study) -> str:
        """Create a parent run; when workers race, all agree on the smallest candidate id."""
        created = self._create_parent(study)
        study.set_user_attr(_PARENT_CANDIDATE_PREFIX + created, True)
        # NOTE: a short jittered wait lets concurrent creators publish their candidates.
        time.sleep(random.uniform(0.0, 0.05))
        attrs = study.user_attrs
        current = attrs.get(PARENT_RUN_ATTR)
        if current is None:
            candidates = sorted(
                k[len(_PARENT_CANDIDATE_PREFIX) :]
                for k in attrs
                if k.startswith(_PARENT_CANDIDATE_PREFIX)
            )
            current = candidates[0] if candidates else created
            study.set_user_attr(PARENT_RUN_ATTR, current)
            current = study.user_attrs.get(PARENT_RUN_ATTR, current)
        if current != created:
            self._safe("removing a duplicate parent run", lambda: self.client.delete_run(created))
        return str(current)

    def _create_parent(self, study: optuna.Study) -> str:
        from mlflow.entities import Param

        import recsearch

        attrs = study.user_attrs
        tags: dict[str, Any] = {k: attrs[k] for k in STUDY_TAG_KEYS if k in attrs}
        tags.update(attrs.get(TAGS_ATTR) or {})
        tags.setdefault("storage", type(storage_of(study)).__name__)
        tags["optuna.study_name"] = study.study_name
        tags["recsearch.version"] = recsearch.__version__
        tags["recsearch.role"] = "study"
        directions = ",".join(d.name.lower() for d in study.directions)
        tags["optuna.directions"] = directions
        rev = git_revision()
        if rev:
            tags["git.revision"] = rev
            tags["mlflow.source.git.commit"] = rev
        params: dict[str, Any] = {}
        for k in STUDY_PARAM_KEYS:
            if k in attrs:
                value = attrs[k]
                if isinstance(value, Mapping):
                    params.update(flatten(value, prefix=f"{k}."))
                else:
                    params[k] = value
        params.update(flatten(attrs.get(PARAMS_ATTR) or {}))
        run = self.client.create_run(
            self.experiment_id,
            run_name=study.study_name,
            tags={sanitize_key(k): truncate_value(v, limit=8000) for k, v in tags.items()},
        )
        run_id = run.info.run_id
        items = [Param(sanitize_key(k), truncate_value(v)) for k, v in params.items()]
        for i in range(0, len(items), _BATCH):
            self.client.log_batch(run_id, params=items[i : i + _BATCH])
        return str(run_id)

    # ------------------------------------------------------------------ child runs
    def _child_run_id(
        self, study: optuna.Study, trial_id: int, number: int, *, adopt: bool = False
    ) -> str:
        import optuna

        key = (_study_key(study), trial_id)
        if key in self._children:
            return self._children[key]
        existing = storage_of(study).get_trial_system_attrs(trial_id).get(CHILD_RUN_ATTR)
        if existing is None and adopt:
            existing = self._orphan_run(study, number)
        if existing is not None:
            self._children[key] = str(existing)
            return str(existing)
        parent = self._parent_run_id(study)
        parent_key = _study_key(study)
        if parent_key not in self._parent_experiments:
            # NOTE: children live in the parent's experiment, whatever this tracker was given
            info = self.client.get_run(parent).info
            self._parent_experiments[parent_key] = str(info.experiment_id)
        run = self.client.create_run(
            self._parent_experiments[parent_key],
            run_name=f"{study.study_name}-trial-{number}",
            tags={
                "mlflow.parentRunId": parent,
                "optuna.trial_number": str(number),
                "optuna.study_name": study.study_name,
                "recsearch.role": "trial",
            },
        )
        run_id = str(run.info.run_id)
        self._children[key] = run_id
        self._queue.opened(run_id)
        try:
            storage_of(study).set_trial_system_attr(trial_id, CHILD_RUN_ATTR, run_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # NOTE: opened by the callback after the trial ended; this process closes it
        return run_id

    def _orphan_run(self, study: optuna.Study, number: int) -> str | None:
        """A trial's open child run whose id never reached the trial, found by its tags.

        Its worker died between creating the run and recording it; the run is ended, not doubled.
        """
        parent = self._parent_run_id(study)
        runs = self.client.search_runs(
            [self.client.get_run(parent).info.experiment_id],
            filter_string=(
                f"tags.mlflow.parentRunId = '{parent}' and tags.`optuna.trial_number` = "
                f"'{number}' and attributes.status = 'RUNNING'"
            ),
            max_results=2,
        )
        runs = [r for r in runs if r.data.tags.get("optuna.study_name") == study.study_name]
        return str(runs[0].info.run_id) if len(runs) == 1 else None

    def _params(self, run_id: str, params: Mapping[str, Any]) -> None:
        self._queue.params(
            run_id, params, logged=lambda: dict(self.client.get_run(run_id).data.params)
        )

    # ObjectiveHook -------------------------------------------------------------------------
    def trial_started(self, trial: optuna.Trial, params: Mapping[str, Any]) -> None:
        """Open the trial's child run and queue its configuration as params."""

        def go() -> None:
            run_id = self._child_run_id(trial.study, trial_id_of(trial), trial.number)
            self._params(run_id, flatten(params))
            self._queue.maybe_flush(self.client, run_id, interval=self.flush_interval)

        self._safe(f"starting trial {trial.number}", go, trial=trial.number)

    def step_reported(self, trial: optuna.Trial, step: int, metrics: Mapping[str, float]) -> None:
        """Log the metrics of one evaluation at ``step`` (batched, see ``flush_interval``)."""

        def go() -> None:
            run_id = self._child_run_id(trial.study, trial_id_of(trial), trial.number)
            self._queue.metrics(run_id, metrics, step)
            self._last_step[run_id] = max(int(step), self._last_step.get(run_id, 0))
            self._queue.maybe_flush(self.client, run_id, interval=self.flush_interval)

        self._safe(f"logging step {step} of trial {trial.number}", go, trial=trial.number)

    def trial_ended(
        self, trial: optuna.Trial, metrics: Mapping[str, float], failure: str | None
    ) -> None:
        """Queue the final metrics; a failure reason becomes the ``failure`` tag at once."""

        def go() -> None:
            run_id = self._child_run_id(trial.study, trial_id_of(trial), trial.number)
            self._queue.metrics(run_id, metrics, self._last_step.get(run_id, 0))
            if failure:
                # NOTE: written now, the callback may never run if the exception escapes.
                self._failures[run_id] = failure
                self._queue.tags(run_id, {"failure": failure})
                self._queue.flush(self.client, run_id)

        self._safe(f"ending trial {trial.number}", go, trial=trial.number)

    # Optuna callback -----------------------------------------------------------------------
    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Optuna callback: complete the trial's child run and set its status."""
        self._safe(f"finishing trial {trial.number}", lambda: self._finish(study, trial),
                   trial=trial.number)  # fmt: skip

    def _finish(
        self, study: optuna.Study, trial: optuna.trial.FrozenTrial, *, killed: str | None = None
    ) -> None:
        from optuna.trial import TrialState

        had_run = (_study_key(study), trial_id_of(trial)) in self._children or (
            CHILD_RUN_ATTR in trial.system_attrs
        )
        # NOTE: another process ending a dead worker's trial looks for the run it left open.
        run_id = self._child_run_id(
            study, trial_id_of(trial), trial.number, adopt=killed is not None and not had_run
        )
        self._params(run_id, trial.params)
        if not had_run:
            # NOTE: no hook reported steps; the pruner's intermediate values are the history.
            for step, value in sorted(trial.intermediate_values.items()):
                self._queue.metrics(run_id, {"intermediate_value": value}, step)
        last = max([self._last_step.get(run_id, 0), *trial.intermediate_values.keys()])
        final: dict[str, Any] = {}
        if trial.values is not None:
            if len(trial.values) == 1:
                final["value"] = trial.values[0]
            else:
                names = study.metric_names or [str(i) for i in range(len(trial.values))]
                final.update({f"value.{n}": v for n, v in zip(names, trial.values, strict=False)})
        attrs = trial.user_attrs
        final.update({k: attrs[k] for k in FINAL_METRIC_KEYS if k in attrs})
        final.update({k: v for k, v in attrs.items() if k.startswith(COST_PREFIX)})
        for k in (USER_ATTR_EPOCHS, USER_ATTR_FIDELITY):
            if k in attrs:
                final[k] = attrs[k]
        self._queue.metrics(run_id, final, last)
        tags = {"optuna.state": trial.state.name}
        status: RunStatus = "FINISHED"
        if killed:
            status = "KILLED"
            tags["killed"] = killed
        elif trial.state == TrialState.PRUNED:
            tags["pruned"] = "true"
        elif trial.state == TrialState.FAIL:
            status = "FAILED"
            tags["failure"] = attrs.get(USER_ATTR_FAILURE) or self._failures.get(run_id) or (
                "unknown"
            )
        self._queue.tags(run_id, tags)
        self._queue.flush(self.client, run_id)
        if self.log_trial_spec and isinstance(attrs.get(USER_ATTR_SPEC), str):
            self.client.log_text(run_id, attrs[USER_ATTR_SPEC], "spec.json")
        end = trial.datetime_complete.timestamp() * 1000 if trial.datetime_complete else None
        self.client.set_terminated(run_id, status=status, end_time=int(end) if end else None)
        for store in (self._last_step, self._failures):
            store.pop(run_id, None)
        self._queue.forget(run_id)

    def stale_trial_callback(
        self,
        then: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
    ) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
        """A heartbeat failure callback that marks a dead worker's trial run ``KILLED``.

        Pass it as ``RDBStorage(..., failed_trial_callback=tracker.stale_trial_callback(
        RetryFailedTrialCallback()))``; ``then`` is called afterwards.
        """

        def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            self.kill_trial(study, trial, reason="worker died (stale heartbeat)")
            if then is not None:
                then(study, trial)

        return callback

    def kill_trial(
        self, study: optuna.Study, trial: optuna.trial.FrozenTrial, *, reason: str = "interrupted"
    ) -> None:
        """End the trial's child run as ``KILLED`` with ``reason`` as the ``killed`` tag.

        For a trial that will never reach the Optuna callback: its worker died (see
        :meth:`stale_trial_callback`) or the process is being interrupted (SIGINT/SIGTERM).
        """
        self._safe(
            f"killing trial {trial.number}", lambda: self._finish(study, trial, killed=reason)
        )

    # ------------------------------------------------------------------ end of study
    def end_study(self, study: optuna.Study, *, status: RunStatus = "FINISHED") -> str | None:
        """Close open child runs and log the parent's artifacts, then end the parent run.

        Child runs still open for finished trials are completed (a trial retried after its
        worker died is ``KILLED``). Artifacts: ``best_config.json``, ``spec.json`` (the best
        trial's decoded spec), ``trials.csv``, ``optimization_history.png`` and, with the
        ``best_model`` option, the ``best_model`` MLflow model.

        Returns:
            The parent run id, or ``None`` when MLflow could not be reached.
        """
        _check_status(status)
        run_id = self._safe("finding the parent run", lambda: self._parent_run_id(study))
        if run_id is None:
            return None
        self._safe("closing open trial runs", lambda: self._sweep(study))
        self._safe(
            "logging study artifacts", lambda: log_study_artifacts(self.client, study, run_id)
        )
        best_model = self.best_model
        if best_model is not None:
            self._safe(
                "logging the best model",
                lambda: log_best_model(self.client, study, run_id, best_model),
            )
        self._safe(
            "ending the parent run", lambda: self.client.set_terminated(run_id, status=status)
        )
        return str(run_id)

    def _sweep(self, study: optuna.Study) -> None:
        from optuna.trial import TrialState

        trials = study.get_trials(deepcopy=False)
        retried = {
            t.system_attrs.get("failed_trial") for t in trials if "failed_trial" in t.system_attrs
        }
        for t in trials:
            run_id = t.system_attrs.get(CHILD_RUN_ATTR)
            if run_id is None or not t.state.is_finished():
                continue
            if self.client.get_run(run_id).info.status != "RUNNING":
                continue
            killed = t.state == TrialState.FAIL and t.number in retried
            self._finish(study, t, killed="worker died (trial retried)" if killed else None)

def _study_key(study: optuna.Study) -> str:
    return f"{id(storage_of(study))}:{study_id_of(study)}"


def iter_child_runs(
    client: MlflowClient, parent_run_id: str, *, experiment_ids: Iterable[str] | None = None
) -> list[Any]:
    """The child runs of ``parent_run_id`` (searched in the parent's experiment by default)."""
    if experiment_ids is None:
        experiment_ids = [client.get_run(parent_run_id).info.experiment_id]
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(
            list(experiment_ids),
            filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
            max_results=1000,
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _check_status(status: str) -> None:
    if status not in ("FINISHED", "FAILED", "KILLED"):
        raise InvalidParameterError(
            "The 'status' parameter of MLflowTracker.end_study must be among "
            f"('FINISHED', 'FAILED', 'KILLED'). Got {status!r} instead."
        )
