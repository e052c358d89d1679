"""One retrain cell: a spec trained with one seed at the full recipe, scored on valid and test.

The search ranks configurations at a low budget on validation; the retrain stage trains each
chosen configuration (and each baseline) again at the full budget, early-stopped on the search's
validation metric, and only here evaluates the **test** split, with the weights of the best
validation evaluation. :func:`train_final` is that one cell; the retrain study
(:mod:`recsearch.study.retraining`) runs one per (model, seed).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal

from recsearch.errors import InvalidParameterError
from recsearch.objectives.trainer import Budget
from recsearch.objectives.trainer import TrainResult
from recsearch.objectives.trainer import train

if TYPE_CHECKING:
    from collections.abc import Mapping

    from recsearch.data.schema import Dataset
    from recsearch.spec import ModelSpec

__all__ = ["DEFAULT_PATIENCE", "FULL_RECIPE", "FinalResult", "recipe_words", "train_final"]

DEFAULT_PATIENCE = 3
"""Evaluations (one per epoch) without a better validation metric before training stops."""
FULL_RECIPE = (
    "full: up to {epochs:g} epochs, early stopping on valid {metric} (patience {patience})"
)
"""How the report names the recipe of a retrained row."""


@dataclass(frozen=True)
class FinalResult:
    """What one retrain cell produced.

    Attributes:
        result: The trainer's result: valid and test metrics at the best validation
            evaluation, epochs trained, costs, and the model when asked for.
        recipe: The recipe in words (:data:`FULL_RECIPE`).
        unmasked: With ``mask_retrain`` and a PEP spec, the PEP training whose mask the result
            was retrained with (its scores are in :meth:`metrics` as ``pep.unmasked_*``).

    Example:
        >>> r = train_final(baseline("fm"), dataset, seed=0)  # doctest: +SKIP
        >>> sorted(r.metrics())[:2]  # doctest: +SKIP
        ['best_epoch', 'cost.embedding_bytes']
    """

    result: TrainResult
    recipe: str
    unmasked: TrainResult | None = None

    def metrics(self) -> dict[str, float]:
        """Valid and test metrics, costs and epochs as flat floats (trial user attributes)."""
        r, u = self.result, self.unmasked
        extra = {} if u is None else {
            "pep.unmasked_valid_auc": u.valid_auc, "pep.unmasked_test_auc": u.test_auc,
            "pep.unmasked_embedding_nonzero": float(u.cost.embedding_nonzero),
        }  # fmt: skip
        return {**extra,
            "valid_auc": r.valid_auc,
            "valid_logloss": r.valid_logloss,
            "test_auc": r.test_auc,
            "test_logloss": r.test_logloss,
            "epochs": r.epochs_run,
            "best_epoch": r.best_step,
            "train_seconds": r.train_seconds,
            **{f"cost.{k}": v for k, v in r.cost.as_dict().items()},
        }


def train_final(
    spec: ModelSpec,
    dataset: Dataset,
    *,
    seed: int = 0,
    budget_epochs: float = 20.0,
    metric: Literal["auc", "logloss"] = "auc",
    patience: int = DEFAULT_PATIENCE,
    device: str = "auto",
    keep_model: bool = False,
    pretrained: Mapping[str, Any] | None = None,
    mask_retrain: bool = False,
) -> FinalResult:
    """Train ``spec`` with ``seed`` for up to ``budget_epochs``, early-stopped on validation.

    Args:
        spec: The model (its training hyperparameters are kept; epochs and patience are the
            recipe's).
        dataset: Train, valid and test splits.
        seed: Training seed.
        budget_epochs: Epoch budget of the full recipe.
        metric: The search metric, which early stopping watches.
        patience: Evaluations (once per epoch) without improvement before stopping.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        keep_model: Return the trained model (to deploy it).
        pretrained: The source state a fine-tuning spec (``spec.finetune``) starts from; a spec
            without ``finetune`` ignores it and trains from scratch.
        mask_retrain: A PEP spec (``embedding.prune``) is trained, then trained again from the
            same initial weights with only the entries its thresholds kept (PEP's lottery-ticket
            step, :mod:`recsearch.objectives.pep`); the result is the second training.

    Returns:
        Valid and test metrics at the best validation evaluation, costs and epochs.

    Raises:
        InvalidParameterError: A budget or patience out of range.
    """
    if not budget_epochs > 0 or patience < 1:
        raise InvalidParameterError(
            "train_final needs budget_epochs > 0 and patience >= 1. "
            f"Got budget_epochs={budget_epochs!r}, patience={patience!r} instead."
        )
    training = dataclasses.replace(
        spec.training, epochs=float(budget_epochs), patience=int(patience)
    )
    recipe_spec = spec.replace(training=training)
    budget = Budget(epochs=float(budget_epochs), eval_every=1.0)
    options: dict[str, Any] = {
        "device": device, "seed": seed, "monitor": metric, "evaluate_test": True,
        "keep_model": keep_model, "pretrained": pretrained if spec.finetune is not None else None,
    }  # fmt: skip
    recipe = recipe_words(budget_epochs, metric, patience)
    if mask_retrain and spec.embedding.prune is not None:
        from recsearch.objectives.pep import retrain_with_mask

        found = retrain_with_mask(recipe_spec, dataset, budget, **options)
        return FinalResult(found.retrained, recipe + "; PEP: retrained with its found mask",
                           found.pruned)  # fmt: skip
    return FinalResult(train(recipe_spec, dataset, budget, **options), recipe)


def recipe_words(budget_epochs: float, metric: str, patience: int) -> str:
    """The full recipe in words, naming the metric early stopping really watches."""
    return FULL_RECIPE.format(epochs=budget_epochs, metric=metric, patience=patience)
