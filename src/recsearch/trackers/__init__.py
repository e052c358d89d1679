"""MLflow tracking: Optuna callbacks plus the objective's report hook (sees records only).

:class:`MLflowTracker` logs one parent run per study and one nested child run per trial. The
package never imports torch. Modules: ``_mlflow`` (the tracker: parent and child runs),
``_queue`` (a run's metrics, params and tags queued and written in batches), ``_keys``
(MLflow-legal keys and values), ``_artifacts`` (the parent run's files and plots).
"""

from __future__ import annotations

from recsearch.trackers._artifacts import plot_optimization_history
from recsearch.trackers._keys import TRUNCATION_MARKER
from recsearch.trackers._keys import sanitize_key
from recsearch.trackers._keys import truncate_value
from recsearch.trackers._mlflow import CHILD_RUN_ATTR
from recsearch.trackers._mlflow import PARENT_RUN_ATTR
from recsearch.trackers._mlflow import MLflowTracker
from recsearch.trackers._mlflow import default_tracking_uri
from recsearch.trackers._mlflow import iter_child_runs

__all__ = [
    "CHILD_RUN_ATTR",
    "PARENT_RUN_ATTR",
    "TRUNCATION_MARKER",
    "MLflowTracker",
    "default_tracking_uri",
    "iter_child_runs",
    "plot_optimization_history",
    "sanitize_key",
    "truncate_value",
]
