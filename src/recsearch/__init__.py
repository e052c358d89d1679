"""recsearch: AutoML for deep recommender systems (CTR prediction).

Search spaces are ConfigSpace objects (:mod:`recsearch.spaces`), training objectives are torch
models built from a :class:`recsearch.spec.ModelSpec` (:mod:`recsearch.objectives`), every search
strategy is an Optuna sampler or pruner (:mod:`recsearch.strategies`) and runs are logged to MLflow
(:mod:`recsearch.trackers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("recsearch")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "retrain"]

if TYPE_CHECKING:
    from recsearch.study.retraining import retrain


def __getattr__(name: str) -> Any:
    # NOTE: lazy, so `import recsearch` stays light; the module is not named `retrain`, or
    # importing it would shadow this function.
    if name == "retrain":
        from recsearch.study.retraining import retrain

        return retrain
    raise AttributeError(f"module 'recsearch' has no attribute {name!r}")
