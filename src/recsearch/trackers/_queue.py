"""A run's metrics, params and tags, queued and written in as few ``log_batch`` calls as fit.

MLflow takes at most 100 params, 100 tags and 1000 entries in all per batch; a param is written
once per run (MLflow refuses to change one), so the queue remembers what each run has logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from recsearch.trackers._keys import _finite
from recsearch.trackers._keys import _now_ms
from recsearch.trackers._keys import sanitize_key
from recsearch.trackers._keys import truncate_value

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

__all__ = ["RunQueue"]

_BATCH = 100
_MAX_BATCH = 1000


@dataclass
class _Pending:
    metrics: list[Any] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    tags: list[Any] = field(default_factory=list)


class RunQueue:
    """What each open run has queued, and when it was last written.

    Example:
        >>> queue = RunQueue()
        >>> queue.metrics("run-1", {"auc": 0.7, "bad": float("nan")}, step=3)
        >>> [(m.key, m.value, m.step) for m in queue.pending("run-1").metrics]
        [('auc', 0.7, 3)]
    """

    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}
        self._flushed_at: dict[str, float] = {}
        self._logged_params: dict[str, dict[str, str]] = {}

    def pending(self, run_id: str) -> _Pending:
        """What ``run_id`` has queued (created empty)."""
        return self._pending.setdefault(run_id, _Pending())

    def opened(self, run_id: str) -> None:
        """A run this process created: it has logged no params yet."""
        self._logged_params[run_id] = {}

    def params(
        self, run_id: str, params: Mapping[str, Any], *, logged: Callable[[], dict[str, str]]
    ) -> None:
        """Queue the params ``run_id`` has not logged (``logged`` asks MLflow, once per run)."""
        from mlflow.entities import Param

        known = self._logged_params.get(run_id)
        if known is None:
            # NOTE: a run this process did not open (another worker, a restart): ask MLflow.
            known = self._logged_params[run_id] = dict(logged())
        pending = self.pending(run_id)
        for k, v in params.items():
            key, value = sanitize_key(k), truncate_value(v)
            if key not in known:
                known[key] = value
                pending.params.append(Param(key, value))

    def metrics(self, run_id: str, metrics: Mapping[str, Any], step: int) -> None:
        """Queue the finite metrics at ``step``."""
        from mlflow.entities import Metric

        now = _now_ms()
        pending = self.pending(run_id)
        for k, v in metrics.items():
            value = _finite(v)
            if value is not None:
                pending.metrics.append(Metric(sanitize_key(k), value, now, int(step)))

    def tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Queue tags (values cut to 8000 characters)."""
        from mlflow.entities import RunTag

        pending = self.pending(run_id)
        for k, v in tags.items():
            pending.tags.append(RunTag(sanitize_key(k), truncate_value(v, limit=8000)))

    def flush(self, client: MlflowClient, run_id: str) -> None:
        """Write what ``run_id`` queued in as few batches as fit."""
        pending = self._pending.pop(run_id, _Pending())
        metrics, params, tags = pending.metrics, pending.params, pending.tags
        self._flushed_at[run_id] = time.monotonic()
        while metrics or params or tags:
            p, params = params[:_BATCH], params[_BATCH:]
            t, tags = tags[:_BATCH], tags[_BATCH:]
            room = _MAX_BATCH - len(p) - len(t)
            m, metrics = metrics[:room], metrics[room:]
            client.log_batch(run_id, metrics=m, params=p, tags=t)

    def maybe_flush(self, client: MlflowClient, run_id: str, *, interval: float) -> None:
        """Write ``run_id``'s queue when ``interval`` seconds passed since the last write."""
        last = self._flushed_at.setdefault(run_id, time.monotonic())
        if time.monotonic() - last >= interval:
            self.flush(client, run_id)

    def forget(self, run_id: str) -> None:
        """The run has ended: drop what is kept about it."""
        for store in (self._pending, self._flushed_at, self._logged_params):
            store.pop(run_id, None)  # type: ignore[attr-defined]
