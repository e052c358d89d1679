"""MLflow tracking: Optuna callbacks plus the objective's report hook (sees records only).

:class:`MLflowTracker` logs one parent run per study and one nested child run per trial. The
package never imports torch.
"""

from __future__ import annotations

from recsearch.trackers._mlflow import CHILD_RUN_ATTR
from recsearch.trackers._mlflow import PARENT_RUN_ATTR
from recsearch.trackers._mlflow import TRUNCATION_MARKER
from recsearch.trackers._mlflow import MLflowTracker
from recsearch.trackers._mlflow import default_tracking_uri
from recsearch.trackers._mlflow import iter_child_runs
from recsearch.trackers._mlflow import plot_optimization_history
from recsearch.trackers._mlflow import sanitize_key
from recsearch.trackers._mlflow import truncate_value

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
