"""The objective's report hook: how trackers see a trial while it runs.

The objective (``recsearch.objectives.CTRObjective``) calls every hook it was given; trackers
(``recsearch.trackers``) implement it. Both sides see plain values only, so neither imports the
other. Hook methods must not raise for tracking problems (log and go on): a tracking outage never
fails a trial.

Trial user attributes the objective writes (the contract strategies, trackers and the CLI read):

- ``valid_auc``, ``valid_logloss``: final metrics (a search trial never scores the test split;
  ``test_auc`` and ``test_logloss`` appear on retrain trials and on studies made before 0.2).
- ``cost.params``, ``cost.embedding_bytes``, ``cost.flops``, ``cost.latency_ms``,
  ``cost.embedding_nonzero``: cost measures.
- ``epochs``: epoch-equivalents of training this trial consumed (the comparison budget unit).
- ``spec``: the decoded model spec as JSON.
- ``failure``: why the trial failed (absent on success).

A strategy may set the user attribute ``fidelity`` (a fraction in (0, 1]) before the objective
runs (``storage.set_trial_user_attr``); the objective then trains on that fraction of the
training rows (AutoCTR's low-fidelity early trials).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import Protocol
from typing import runtime_checkable

if TYPE_CHECKING:
    import optuna

USER_ATTR_FAILURE = "failure"
USER_ATTR_FIDELITY = "fidelity"
USER_ATTR_EPOCHS = "epochs"
USER_ATTR_SPEC = "spec"
COST_PREFIX = "cost."


@runtime_checkable
class ObjectiveHook(Protocol):
    """Receives a trial's progress from the objective.

    Example:
        >>> class Printer:
        ...     def trial_started(self, trial, params): print("start", trial.number)
        ...     def step_reported(self, trial, step, metrics): print(step, metrics)
        ...     def trial_ended(self, trial, metrics, failure): print("end", failure)
    """

    def trial_started(self, trial: optuna.Trial, params: Mapping[str, Any]) -> None:
        """Called once the configuration is sampled, before training."""

    def step_reported(self, trial: optuna.Trial, step: int, metrics: Mapping[str, float]) -> None:
        """Called after every evaluation (``step`` as given to ``trial.report``)."""

    def trial_ended(
        self, trial: optuna.Trial, metrics: Mapping[str, float], failure: str | None
    ) -> None:
        """Called when the objective returns, is pruned or fails (``failure`` says why)."""
