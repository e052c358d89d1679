"""recsearch: AutoML for deep recommender systems (CTR prediction).

Search spaces are ConfigSpace objects (:mod:`recsearch.spaces`), training objectives are torch
models built from a :class:`recsearch.spec.ModelSpec` (:mod:`recsearch.objectives`), every search
strategy is an Optuna sampler or pruner (:mod:`recsearch.strategies`) and runs are logged to MLflow
(:mod:`recsearch.trackers`).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from typing import TYPE_CHECKING
from typing import Any

try:
    __version__ = _version("recsearch")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "fidelity", "retrain"]

if TYPE_CHECKING:
    from recsearch.study.fidelity import fidelity
    from recsearch.study.retraining import retrain


def __getattr__(name: str) -> Any:
    # NOTE: lazy, so `import recsearch` stays light; the modules are not named `retrain` or
    # `fidelity`, or importing them would shadow these functions.
    if name == "fidelity":
        from recsearch.study.fidelity import fidelity

        return fidelity
    if name == "retrain":
        from recsearch.study.retraining import retrain

        return retrain
    raise AttributeError(f"module 'recsearch' has no attribute {name!r}")
