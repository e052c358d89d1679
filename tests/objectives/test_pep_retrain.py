"""PEP's retrain with the found mask: same initial tables, only the kept entries learn."""

from __future__ import annotations

import pytest
import torch

from recsearch.data.synthetic import synthetic
from recsearch.errors import InvalidParameterError
from recsearch.objectives import build_model
from recsearch.objectives.pep import found_masks
from recsearch.objectives.pep import retrain_with_mask
from recsearch.objectives.recipe import Recipe
from recsearch.objectives.trainer import Budget
from recsearch.spaces.decode import DEEPFM_BASE
from recsearch.spec import EmbeddingSpec
from recsearch.spec import PruneSpec


def _spec(init: float) -> object:
    return DEEPFM_BASE.replace(embedding=EmbeddingSpec(default_dim=8,
                                                       prune=PruneSpec("field", init=init)))


def test_the_retrain_keeps_the_mask_and_trains_the_rest() -> None:
    torch.set_num_threads(1)
    data = synthetic(400, seed=0)
    budget = Budget(epochs=1, eval_every=1, recipe=Recipe(min_steps=20))
    found = retrain_with_mask(_spec(-4.5), data, budget, seed=0, device="cpu", measure=False,
                              evaluate_test=True)  # fmt: skip
    assert 0 < found.kept < found.total
    assert found.pruned.cost.embedding_nonzero == found.kept
    nonzero = found.retrained.cost.embedding_nonzero
    assert 0.9 * found.kept < nonzero <= found.kept  # the kept entries learn, no other does
    assert 0.0 < found.retrained.test_auc < 1.0


def test_masked_entries_stay_zero_through_training() -> None:
    data = synthetic(300, seed=1)
    plain = DEEPFM_BASE.replace(embedding=EmbeddingSpec(default_dim=4))
    torch.manual_seed(0)
    model = build_model(plain, data.schema)
    masks = [torch.rand_like(t.weight) > 0.5 for t in model.embeddings.tables]
    model = build_model(plain, data.schema, embedding_masks=masks)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    from recsearch.objectives.trainer import batch_of

    batch = batch_of(data.train)
    for _ in range(3):
        opt.zero_grad()
        model(batch)["logit"].sum().backward()
        opt.step()
    for mask, table in zip(masks, model.embeddings.tables, strict=True):
        assert bool((table.weight[~mask] == 0).all())
        assert float((table.weight[mask] != 0).float().mean()) > 0.9
    assert [m.shape for m in found_masks(model)] == [m.shape for m in masks]


def test_bad_masks_and_plain_specs_are_refused() -> None:
    data = synthetic(200, seed=0)
    plain = DEEPFM_BASE.replace(embedding=EmbeddingSpec(default_dim=4))
    with pytest.raises(InvalidParameterError, match="do not fit the tables"):
        build_model(plain, data.schema, embedding_masks=[torch.ones(3, 4, dtype=torch.bool)])
    with pytest.raises(InvalidParameterError, match="does not prune"):
        retrain_with_mask(plain, data, 0.5, device="cpu")


def test_train_final_retrains_a_pep_model_with_its_mask() -> None:
    from recsearch.objectives.final import train_final

    data = synthetic(300, seed=2)
    final = train_final(_spec(-4.5), data, seed=0, budget_epochs=1, patience=1, device="cpu",
                        mask_retrain=True)  # fmt: skip
    assert final.unmasked is not None and "found mask" in final.recipe
    metrics = final.metrics()
    assert metrics["cost.embedding_nonzero"] <= metrics["pep.unmasked_embedding_nonzero"]
    assert 0.0 < metrics["test_auc"] < 1.0 and 0.0 < metrics["pep.unmasked_test_auc"] < 1.0
    plain = train_final(DEEPFM_BASE, data, seed=0, budget_epochs=1, patience=1, device="cpu",
                        mask_retrain=True)  # fmt: skip
    assert plain.unmasked is None  # nothing to mask: one training
