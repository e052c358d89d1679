"""decode: each section of a configuration lands in the right part of the spec."""

from __future__ import annotations

import itertools

import pytest
from ConfigSpace import Configuration
from ConfigSpace import ConfigurationSpace

from recsearch.data.schema import Field
from recsearch.data.schema import Schema
from recsearch.errors import InvalidParameterError
from recsearch.spaces import blocks
from recsearch.spaces import compose
from recsearch.spaces import configuration_from_params
from recsearch.spaces import decode
from recsearch.spaces import default_base
from recsearch.spaces import embedding_dims
from recsearch.spaces import interaction_functions
from recsearch.spaces import loss_mixture
from recsearch.spaces import mlp
from recsearch.spaces import preset
from recsearch.spaces import training
from recsearch.spaces.decode import BLOCKS_BASE
from recsearch.spaces.decode import DEEPFM_BASE
from recsearch.spec import HeadSpec
from recsearch.spec import baseline


def _with(space: ConfigurationSpace, **values: object) -> Configuration:
    """Defaults with some values replaced (names use '__' for '.'); inactive ones dropped."""
    params = {name: hp.default_value for name, hp in space.items()}
    params.update({k.replace("__", "."): v for k, v in values.items()})
    return configuration_from_params(params, space)


def test_autodim_dims_and_dropped_fields(movielens_schema: Schema) -> None:
    space = preset("autodim", movielens_schema, seed=1)
    for config in space.sample_configuration(30):
        spec = decode(config, movielens_schema)
        for f in movielens_schema.sparse_names:
            assert spec.embedding.dims_of(f) == (config[f"emb.{f}"],)
        assert spec.interaction == DEEPFM_BASE.interaction
        assert spec.head == DEEPFM_BASE.head


def test_nis_group_dims(generated_schema: Schema) -> None:
    space = preset("nis", generated_schema, seed=2)
    config = space.sample_configuration()
    spec = decode(config, generated_schema)
    for f in generated_schema.sparse:
        n = min(3, f.vocab_size)
        assert spec.embedding.dims_of(f.name) == tuple(config[f"emb.{f.name}.g{k}"]
                                                       for k in range(n))


def test_autofis_pairs_are_the_selected_ones(generated_schema: Schema) -> None:
    space = preset("autofis", generated_schema, seed=3)
    for config in space.sample_configuration(20):
        spec = decode(config, generated_schema)
        chosen = {tuple(k.split(".", 1)[1].split("-")) for k, v in config.items() if v}
        got = set() if spec.interaction is None else {p.fields for p in spec.interaction.pairs}
        assert got == chosen
        assert spec.interaction is None or all(
            p.function == "inner" for p in spec.interaction.pairs
        )


def test_no_selected_pair_means_no_interaction(generated_schema: Schema) -> None:
    space = preset("autofis", generated_schema)
    off = {name.replace(".", "__"): False for name in space}
    spec = decode(_with(space, **off), generated_schema)
    assert spec.interaction is None


def test_pair_functions_and_dropped_fields(movielens_schema: Schema) -> None:
    space = compose(
        emb=embedding_dims(movielens_schema),
        inter=interaction_functions(movielens_schema, functions=("max", "concat")),
    )
    config = _with(space, **{"emb__age": 0, "inter__user_id-item_id__fn": "concat",
                             "inter__user_id-age": True})
    spec = decode(config, movielens_schema)
    pairs = {p.fields: p.function for p in spec.interaction.pairs}
    assert pairs[("user_id", "item_id")] == "concat"
    assert not any("age" in fields for fields in pairs), "a dropped field cannot interact"
    assert spec.embedding.dims_of("age") == (0,)
    n = len(movielens_schema.sparse_names) - 1
    assert len(pairs) == n * (n - 1) // 2


def test_autogroup_groups_replace_pairs(generated_schema: Schema) -> None:
    space = preset("autogroup", generated_schema, seed=4)
    names = generated_schema.sparse_names
    for config in space.sample_configuration(20):
        spec = decode(config, generated_schema)
        expected = []
        for order, k in itertools.product((2, 3), range(4)):
            members = tuple(f for f in names if config[f"group.o{order}.g{k}.{f}"])
            if len(members) >= 2:
                expected.append((members, order))
        if not expected:
            assert spec.interaction is None
            continue
        assert spec.interaction.pairs == ()
        assert [(g.fields, g.order) for g in spec.interaction.groups] == expected


def test_autoctr_blocks_inputs_and_types(generated_schema: Schema) -> None:
    space = preset("autoctr", generated_schema, seed=5)
    assert default_base(space) is BLOCKS_BASE
    seen_types = set()
    for config in space.sample_configuration(60):
        spec = decode(config, generated_schema)
        assert len(spec.blocks) == 7
        assert spec.interaction is None and spec.head.widths == () and not spec.linear
        for i, block in enumerate(spec.blocks):
            seen_types.add(block.type)
            assert block.type == config[f"block.{i}.type"]
            main = config[f"block.{i}.main"]
            if main.startswith("b"):
                assert int(main[1:]) in block.inputs
            else:
                assert getattr(block, f"{main}_input")
            assert all(
                (j in block.inputs) == (main == f"b{j}" or bool(config.get(f"block.{i}.skip{j}")))
                for j in range(i)
            )
            if block.type == "mlp":
                assert block.units == config[f"block.{i}.units"]
                assert block.layers == config[f"block.{i}.depth"]
            if block.type == "cross":
                assert block.layers == config[f"block.{i}.cross_layers"]
                assert block.cross_version == config[f"block.{i}.cross_version"]
            if block.type == "attention":
                assert block.heads == config[f"block.{i}.heads"]
    assert seen_types == {"mlp", "fm", "dot", "efc", "cross", "attention"}


def test_dot_block_with_one_embedding_also_reads_the_raw_ones(generated_schema: Schema) -> None:
    space = compose(block=blocks(generated_schema, n_blocks=2, types=("mlp", "dot")))
    config = _with(space, **{"block__0.type": "mlp", "block__1.type": "dot",
                             "block__1.main": "b0", "block__1.sparse": False,
                             "block__1.dense": False})
    spec = decode(config, generated_schema)
    assert spec.blocks[1].inputs == (0,)
    assert spec.blocks[1].sparse_input


def test_loss_mixture_and_all_zero_weights() -> None:
    schema = Schema("y", (Field("a", "categorical", 5), Field("b", "categorical", 5)))
    space = compose(loss=loss_mixture())
    spec = decode(_with(space, loss__bce=0.25, loss__focal=0.5, loss__focal_gamma=3.0), schema)
    assert (spec.loss.bce, spec.loss.focal, spec.loss.focal_gamma) == (0.25, 0.5, 3.0)
    zero = decode(_with(space, loss__bce=0.0), schema)
    assert zero.loss.active == ("bce",) and zero.loss.bce == 1.0


def test_mlp_and_training_sections() -> None:
    schema = Schema("y", (Field("a", "categorical", 5), Field("b", "categorical", 5)))
    space = compose(mlp=mlp(max_depth=3), train=training())
    config = _with(space, **{"mlp__depth": 3, "mlp__width.0": 512, "mlp__width.1": 64,
                             "mlp__width.2": 32, "mlp__batch_norm": True,
                             "train__optimizer": "sgd", "train__momentum": 0.5,
                             "train__lr": 0.05, "train__batch_size": 256})
    spec = decode(config, schema)
    assert spec.head == HeadSpec(widths=(512, 64, 32), dropout=0.0, batch_norm=True)
    t = spec.training
    assert (t.optimizer, t.momentum, t.lr, t.batch_size) == ("sgd", 0.5, 0.05, 256)
    adam = decode(_with(space, train__optimizer="adam"), schema)
    assert adam.training.momentum == DEEPFM_BASE.training.momentum  # inactive: base value


def test_explicit_base_supplies_missing_sections(generated_schema: Schema) -> None:
    space = preset("hpo", generated_schema)
    base = baseline("dcn")
    spec = decode(space.get_default_configuration(), generated_schema, base=base)
    assert spec.blocks == base.blocks and spec.head == base.head
    assert spec.training.lr == space.get_default_configuration()["train.lr"]


def test_decode_rejects_a_non_schema(generated_schema: Schema) -> None:
    space = preset("autofis", generated_schema)
    with pytest.raises(InvalidParameterError, match="Schema"):
        decode(space.get_default_configuration(), "nope")  # type: ignore[arg-type]


def test_spec_name_records_the_preset_or_says_custom(generated_schema: Schema) -> None:
    config = compose(train=training()).get_default_configuration()
    assert decode(config, generated_schema).name == "custom"
    assert decode(config, generated_schema, base=baseline("dcn")).name == "dcn"
    hpo = preset("hpo", generated_schema).get_default_configuration()
    assert decode(hpo, generated_schema).name == "hpo"


def test_autoias_projection_width_and_fives_order_priority(generated_schema: Schema) -> None:
    import json

    from recsearch.spec import ModelSpec

    space = preset("autoias", generated_schema, seed=0)
    for config in space.sample_configuration(10):
        assert decode(config, generated_schema).embedding.interaction_dim == config["proj.dim"]
    space = preset("fives", generated_schema, seed=0)
    seen_two = False
    for config in space.sample_configuration(30):
        spec = decode(config, generated_schema)
        assert spec.interaction is not None and spec.interaction.pairs is None, "FM kept"
        layers = spec.interaction.graph
        if len(layers) == 2:
            seen_two = True
            assert set(layers[1]) <= set(layers[0]), "a layer-2 edge needs its layer-1 edge"
        assert ModelSpec.from_dict(json.loads(spec.to_json())) == spec
    assert seen_two
    default = decode(space.get_default_configuration(), generated_schema)
    assert default.replace(name="x") == DEEPFM_BASE.replace(name="x")


@pytest.mark.parametrize(
    "name", ["autoias", "fives", "autopi", "pep", "autodis", "ameir", "autoft"]
)
def test_new_preset_specs_survive_their_json(name: str, generated_schema: Schema) -> None:
    import json

    from recsearch.spec import ModelSpec

    space = preset(name, generated_schema, seed=4)
    for config in space.sample_configuration(8):
        spec = decode(config, generated_schema)
        assert ModelSpec.from_dict(json.loads(spec.to_json())) == spec
