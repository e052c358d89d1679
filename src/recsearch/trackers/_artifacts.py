"""What a study's parent run keeps: metrics, best configuration, trials table, plots, a model."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from recsearch.hooks import USER_ATTR_EPOCHS
from recsearch.hooks import USER_ATTR_SPEC
from recsearch.trackers._keys import _finite
from recsearch.trackers._keys import _jsonable
from recsearch.trackers._keys import _now_ms

if TYPE_CHECKING:
    import optuna
    from mlflow.tracking import MlflowClient

__all__ = ["git_revision", "log_best_model", "log_study_artifacts", "plot_optimization_history"]


def git_revision(path: str | os.PathLike[str] | None = None) -> str | None:
    """The git commit of ``path`` (the package source by default), or ``None`` outside git."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    rev = out.stdout.strip()
    return rev if out.returncode == 0 and rev else None


def log_study_artifacts(client: MlflowClient, study: optuna.Study, run_id: str) -> None:
    """Log the study's metrics, best configuration, spec, trials table and history plot."""
    from mlflow.entities import Metric
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    now = _now_ms()
    metrics = [Metric(f"n_trials.{k}", float(v), now, 0) for k, v in counts.items()]
    epochs = sum(_finite(t.user_attrs.get(USER_ATTR_EPOCHS)) or 0.0 for t in trials)
    metrics.append(Metric("epochs_total", epochs, now, 0))
    best = _best_trials(study)
    if len(study.directions) == 1 and best:
        metrics.append(Metric("best_value", float(best[0].values[0]), now, 0))
    client.log_batch(run_id, metrics=metrics)
    if best:
        if len(study.directions) == 1:
            client.log_dict(run_id, _trial_record(best[0]), "best_config.json")
            spec = best[0].user_attrs.get(USER_ATTR_SPEC)
        else:
            client.log_dict(
                run_id, {"pareto_front": [_trial_record(t) for t in best]}, "best_config.json"
            )
            spec = None
        if isinstance(spec, str):
            client.log_text(run_id, spec, "spec.json")
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "trials.csv"
        study.trials_dataframe().to_csv(table, index=False)
        client.log_artifact(run_id, str(table))
        png = Path(tmp) / "optimization_history.png"
        if plot_optimization_history(study, png):
            client.log_artifact(run_id, str(png))


def log_best_model(
    client: MlflowClient,
    study: optuna.Study,
    run_id: str,
    best_model: Callable[[optuna.trial.FrozenTrial], Any],
) -> None:
    """Save ``best_model(best_trial)`` with ``mlflow.pytorch`` as the ``best_model`` artifact."""
    import mlflow.pytorch

    import recsearch

    best = _best_trials(study)
    if not best:
        return
    model = best_model(best[0])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "best_model"
        mlflow.pytorch.save_model(
            model,
            str(path),
            serialization_format="pickle",
            pip_requirements=[f"recsearch=={recsearch.__version__}", "torch"],
        )
        client.log_artifacts(run_id, str(path), artifact_path="best_model")
    client.set_tag(run_id, "best_model.trial", str(best[0].number))


def _best_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    try:
        if len(study.directions) == 1:
            return [study.best_trial]
        return list(study.best_trials)
    except ValueError:
        return []


def _trial_record(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    return {
        "number": trial.number,
        "values": trial.values,
        "params": _jsonable(trial.params),
        "user_attrs": {
            k: v for k, v in _jsonable(trial.user_attrs).items() if k != USER_ATTR_SPEC
        },
    }


def plot_optimization_history(study: optuna.Study, path: str | os.PathLike[str]) -> bool:
    """Write the objective value of each finished trial and the best so far as a PNG.

    Uses matplotlib's object API (no pyplot state). Multi-objective studies plot their first
    objective. Returns whether a plot was written (``False`` with no completed trial).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not done:
        return False
    xs = [t.number for t in done]
    ys = [float(t.values[0]) for t in done]
    maximize = study.directions[0] == StudyDirection.MAXIMIZE
    best: list[float] = []
    for y in ys:
        best.append(y if not best else (max(best[-1], y) if maximize else min(best[-1], y)))
    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(xs, ys, s=14, alpha=0.6, label="trial value")
    ax.step(xs, best, where="post", color="C3", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel((study.metric_names or ["objective"])[0])
    ax.set_title(f"Optimization history: {study.study_name}")
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=100)
    return True
