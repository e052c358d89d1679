"""PEP's retrain with the found mask (the lottery-ticket step).

PEP learns soft thresholds that prune embedding entries while it trains (``PruneSpec``). Its
paper then keeps only the structure: the entries left non-zero form a mask, the model is rewound
to its initial weights (the same seed gives the same initial tables, thresholds or not) and
trained again as a plain model in which only the masked entries learn and the others stay 0.

:func:`retrain_with_mask` does both trainings with one budget each and returns both results;
the second one's ``cost.embedding_nonzero`` is at most the first one's.

Example:
    >>> pep = EmbeddingSpec(prune=PruneSpec("field", init=-5))  # doctest: +SKIP
    >>> spec = DEEPFM_BASE.replace(embedding=pep)  # doctest: +SKIP
    >>> found = retrain_with_mask(spec, dataset, 2.0, seed=0)  # doctest: +SKIP
    >>> found.retrained.test_auc, found.retrained.cost.embedding_nonzero  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

import torch

from recsearch.errors import InvalidParameterError
from recsearch.objectives.trainer import TrainResult
from recsearch.objectives.trainer import train

if TYPE_CHECKING:
    from recsearch.data.schema import Dataset
    from recsearch.objectives.model import CTRModel
    from recsearch.spec import ModelSpec

__all__ = ["MaskedRetrain", "found_masks", "retrain_with_mask"]


@dataclass(frozen=True)
class MaskedRetrain:
    """Both trainings of :func:`retrain_with_mask`.

    Attributes:
        pruned: The PEP training (soft thresholds learned).
        retrained: The plain model trained from the same initial weights with the found mask.
        kept: Embedding entries the mask keeps.
        total: Embedding entries in all (``kept / total`` is the share kept).
    """

    pruned: TrainResult
    retrained: TrainResult
    kept: int
    total: int


def found_masks(model: CTRModel) -> list[torch.Tensor]:
    """One boolean mask per embedding table: the entries the trained thresholds left non-zero."""
    return [t != 0 for t in model.embeddings.effective_tables()]


def retrain_with_mask(
    spec: ModelSpec,
    dataset: Dataset,
    budget: Any = None,
    *,
    seed: int = 0,
    device: str = "auto",
    evaluate_test: bool = False,
    keep_model: bool = False,
    **train_options: Any,
) -> MaskedRetrain:
    """Train ``spec`` (with PEP pruning), then retrain its mask from the initial weights.

    Args:
        spec: A spec whose ``embedding.prune`` is set.
        dataset: Train, valid and test splits.
        budget: Each training's budget (see :func:`recsearch.objectives.trainer.train`).
        seed: The seed of both trainings (so the retrain starts from the same initial tables).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        evaluate_test: Score both on the test split.
        keep_model: Keep the retrained model in ``retrained.model``.
        **train_options: Other options of :func:`~recsearch.objectives.trainer.train`.

    Raises:
        InvalidParameterError: ``spec`` does not prune its embeddings.
    """
    if spec.embedding.prune is None:
        raise InvalidParameterError(
            "retrain_with_mask needs a PEP spec (embedding.prune set); this one does not prune"
        )
    pruned = train(spec, dataset, budget, device=device, seed=seed, evaluate_test=evaluate_test,
                   keep_model=True, **train_options)  # fmt: skip
    assert pruned.model is not None
    masks = [m.cpu() for m in found_masks(pruned.model)]
    kept, total = sum(int(m.sum()) for m in masks), sum(m.numel() for m in masks)
    plain = spec.replace(embedding=dataclasses.replace(spec.embedding, prune=None))
    retrained = train(plain, dataset, budget, device=device, seed=seed,
                      evaluate_test=evaluate_test, embedding_masks=masks, keep_model=keep_model,
                      **train_options)  # fmt: skip
    return MaskedRetrain(dataclasses.replace(pruned, model=None), retrained, kept, total)
