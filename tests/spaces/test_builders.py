"""Space builders and compose: names, types, conditions, constraints."""

from __future__ import annotations

import re

import pytest
from ConfigSpace import ConfigurationSpace
from ConfigSpace import Float
from ConfigSpace.hyperparameters import OrdinalHyperparameter

from recsearch.data.schema import Field
from recsearch.data.schema import Schema
from recsearch.errors import InvalidParameterError
from recsearch.spaces import blocks
from recsearch.spaces import compose
from recsearch.spaces import embedding_dims
from recsearch.spaces import interaction_functions
from recsearch.spaces import interaction_groups
from recsearch.spaces import interaction_set
from recsearch.spaces import loss_mixture
from recsearch.spaces import mlp
from recsearch.spaces import training


def test_embedding_dims_one_ordinal_per_field(movielens_schema: Schema) -> None:
    cs = embedding_dims(movielens_schema, candidates=(16, 0, 4))
    assert list(cs) == sorted(movielens_schema.sparse_names)
    for name in cs:
        hp = cs[name]
        assert isinstance(hp, OrdinalHyperparameter)
        assert tuple(hp.sequence) == (0, 4, 16)
    # Dropping every field is forbidden; ConfigSpace never samples it.
    assert len(cs.forbidden_clauses) == 1
    for config in cs.sample_configuration(100):
        assert any(v > 0 for v in config.values())


def test_embedding_dims_groups_are_capped_by_vocab() -> None:
    schema = Schema("y", (Field("big", "categorical", 100), Field("tiny", "categorical", 2)))
    cs = embedding_dims(schema, groups=3)
    assert sorted(cs) == ["big.g0", "big.g1", "big.g2", "tiny.g0", "tiny.g1"]


def test_embedding_dims_single_field_without_zero_has_no_forbidden() -> None:
    schema = Schema("y", (Field("a", "categorical", 10),))
    assert not embedding_dims(schema, candidates=(4, 8)).forbidden_clauses
    cs = embedding_dims(schema, candidates=(0, 4))
    assert all(c["a"] == 4 for c in cs.sample_configuration(20))


@pytest.mark.parametrize("bad", [(), (-1, 4)])
def test_embedding_dims_rejects_bad_candidates(movielens_schema: Schema, bad: tuple) -> None:
    with pytest.raises(InvalidParameterError, match="candidates"):
        embedding_dims(movielens_schema, candidates=bad)


def test_interaction_set_one_bool_per_pair(movielens_schema: Schema) -> None:
    cs = interaction_set(movielens_schema)
    n = len(movielens_schema.sparse)
    assert len(cs) == n * (n - 1) // 2
    assert "user_id-item_id" in cs
    assert cs["user_id-item_id"].choices == (False, True)


def test_interaction_functions_are_conditional(movielens_schema: Schema) -> None:
    cs = interaction_functions(movielens_schema, functions=("inner", "max"))
    assert len(cs.conditions) == len(cs) // 2
    for config in cs.sample_configuration(50):
        for name in cs:
            if name.endswith(".fn"):
                on = config[name[: -len(".fn")]]
                assert (config.get(name) is not None) == bool(on)
    with pytest.raises(InvalidParameterError, match="functions"):
        interaction_functions(movielens_schema, functions=("nope",))  # type: ignore[arg-type]


def test_interaction_groups_linear_in_fields(criteo_schema: Schema) -> None:
    cs = interaction_groups(criteo_schema, orders=(2, 3), groups=4)
    assert len(cs) == 2 * 4 * 39
    assert "o3.g2.C7" in cs


def test_blocks_no_block_without_input(generated_schema: Schema) -> None:
    cs = blocks(generated_schema, n_blocks=7)
    assert not cs.forbidden_clauses  # impossible by construction, nothing to reject
    assert cs["0.main"].choices == ("dense", "sparse")
    assert cs["3.main"].choices == ("dense", "sparse", "b0", "b1", "b2")
    for config in cs.sample_configuration(200):
        for i in range(7):
            main = config[f"{i}.main"]
            assert config.get(f"{i}.{main}" if main in ("dense", "sparse") else
                              f"{i}.skip{main[1:]}") is None
            t = config[f"{i}.type"]
            assert (config.get(f"{i}.units") is not None) == (t == "mlp")
            assert (config.get(f"{i}.heads") is not None) == (t == "attention")
            assert (config.get(f"{i}.dim") is not None) == (t in ("fm", "efc"))


def test_blocks_without_numeric_fields_never_read_dense() -> None:
    schema = Schema("y", (Field("a", "categorical", 5), Field("b", "categorical", 5)))
    cs = blocks(schema, n_blocks=3, types=("mlp",))
    assert not any(name.endswith(".dense") for name in cs)
    assert cs["0.main"].choices == ("sparse",)


def test_loss_mixture_gamma_only_with_focal() -> None:
    cs = loss_mixture()
    assert cs.get_default_configuration()["bce"] == 1.0
    for config in cs.sample_configuration(100):
        assert (config.get("focal_gamma") is not None) == (config["focal"] > 0)


def test_mlp_widths_follow_depth() -> None:
    cs = mlp(max_depth=3)
    for config in cs.sample_configuration(50):
        depth = config["depth"]
        assert [config.get(f"width.{k}") is not None for k in range(3)] == [
            k < depth for k in range(3)
        ]


def test_training_momentum_only_for_sgd() -> None:
    cs = training()
    assert cs["lr"].log and cs["embedding_weight_decay"].log
    for config in cs.sample_configuration(50):
        assert (config.get("momentum") is not None) == (config["optimizer"] == "sgd")


def test_compose_prefixes_names_and_keeps_constraints(generated_schema: Schema) -> None:
    cs = compose(
        emb=embedding_dims(generated_schema),
        inter=interaction_functions(generated_schema),
        train=training(),
    )
    assert "emb.c0" in cs and "inter.c0-c1" in cs and "inter.c0-c1.fn" in cs
    assert "train.lr" in cs
    assert len(cs.forbidden_clauses) == 1
    assert cs.meta["sections"] == ["emb", "inter", "train"]
    safe = re.compile(r"^[\w.\- /]+$")
    assert all(safe.match(name) for name in cs)
    for config in cs.sample_configuration(30):
        assert (config.get("train.momentum") is not None) == (config["train.optimizer"] == "sgd")


def test_compose_rejects_bad_input() -> None:
    with pytest.raises(InvalidParameterError, match="at least one"):
        compose()
    with pytest.raises(InvalidParameterError, match="MLflow-safe"):
        compose(**{"a:b": ConfigurationSpace({"x": (0, 1)})})
    with pytest.raises(InvalidParameterError, match="ConfigurationSpace"):
        compose(a=Float("x", (0.0, 1.0)))  # type: ignore[arg-type]


def test_unsafe_field_names_are_rejected() -> None:
    schema = Schema("y", (Field("a*b", "categorical", 5), Field("c", "categorical", 5)))
    with pytest.raises(InvalidParameterError, match="'a\\*b' is not MLflow-safe"):
        interaction_set(schema)


def test_ambiguous_pair_names_are_rejected() -> None:
    fields = tuple(Field(n, "categorical", 5) for n in ("a", "b-c", "a-b", "c"))
    with pytest.raises(InvalidParameterError, match="ambiguous"):
        interaction_set(Schema("y", fields))
