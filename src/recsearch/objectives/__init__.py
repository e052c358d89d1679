"""Training objectives: torch CTR models built from a spec, the budgeted trainer, metrics, costs.

Names are imported lazily, so ``recsearch.objectives.cost.static_cost`` (parameters, embedding
bytes and FLOPs of a spec, computed without torch) can be used where torch must not be loaded.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from recsearch.objectives.cost import Cost
    from recsearch.objectives.cost import static_cost
    from recsearch.objectives.evaluation import StepRecord
    from recsearch.objectives.metrics import auc
    from recsearch.objectives.metrics import logloss
    from recsearch.objectives.model import CTRModel
    from recsearch.objectives.model import build_model
    from recsearch.objectives.objective import CTRObjective
    from recsearch.objectives.recipe import Budget
    from recsearch.objectives.recipe import Recipe
    from recsearch.objectives.trainer import TrainResult
    from recsearch.objectives.trainer import resolve_device
    from recsearch.objectives.trainer import train

_EXPORTS = {
    "Budget": "recipe",
    "CTRModel": "model",
    "CTRObjective": "objective",
    "Cost": "cost",
    "Recipe": "recipe",
    "StepRecord": "evaluation",
    "TrainResult": "trainer",
    "auc": "metrics",
    "build_model": "model",
    "logloss": "metrics",
    "resolve_device": "trainer",
    "static_cost": "cost",
    "train": "trainer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'recsearch.objectives' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"recsearch.objectives.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
