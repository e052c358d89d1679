"""Presets: the sampling bars (ConfigSpace and Optuna TPE), names, JSON round trips."""

from __future__ import annotations

import io
import json
import re

import optuna
import pytest
from ConfigSpace import ConfigurationSpace
from optuna.trial import TrialState

from recsearch.data.schema import Schema
from recsearch.errors import InvalidParameterError
from recsearch.spaces import available
from recsearch.spaces import configuration_from_trial
from recsearch.spaces import decode
from recsearch.spaces import from_json
from recsearch.spaces import preset
from recsearch.spaces import suggest
from recsearch.spaces import to_json
from recsearch.spaces.decode import DEEPFM_BASE
from recsearch.spaces.presets import BASE_ATTR
from recsearch.spaces.presets import BASES
from recsearch.spaces.presets import _base_defaults
from recsearch.spaces.presets import base_params
from recsearch.spaces.presets import enqueue_base
from recsearch.spec import ModelSpec

PRESETS = sorted(available())
SAFE = re.compile(r"^[\w.\- /]+$")


def test_available_lists_every_preset_once() -> None:
    names = available()
    assert set(names) == {
        "autodim", "nis", "autofis", "autogroup", "sif", "autofeature", "autoctr", "autoloss",
        "hpo", "aim", "full", "autoias", "fives", "autopi", "pep", "autodis", "ameir", "autoft",
    }
    assert all(isinstance(d, str) and d and "\n" not in d for d in names.values())


def test_unknown_preset_names_the_choices(generated_schema: Schema) -> None:
    with pytest.raises(InvalidParameterError, match="autodim"):
        preset("nope", generated_schema)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", PRESETS)
def test_preset_configspace_samples_are_valid_and_decode(name: str, schema: Schema) -> None:
    space = preset(name, schema, seed=0)
    assert space.meta["preset"] == name
    assert all(SAFE.match(n) for n in space), "hyperparameter names must be MLflow-safe"
    configs = space.sample_configuration(200)
    for config in configs:
        config.check_valid_configuration()
        spec = decode(config, schema)
        assert isinstance(spec, ModelSpec)
        assert spec.name == name
    assert len({tuple(sorted(c.items())) for c in configs}) > 1


def _tpe_bar(name: str, schema: Schema, n_trials: int) -> None:
    space = preset(name, schema)
    sampler = optuna.samplers.TPESampler(
        multivariate=True, group=True, seed=0, n_startup_trials=10
    )
    study = optuna.create_study(sampler=sampler)

    def objective(trial: optuna.Trial) -> float:
        config = suggest(trial, space)
        config.check_valid_configuration()
        spec = decode(config, schema)
        return float(len(spec.to_json()) % 97)

    study.optimize(objective, n_trials=n_trials, catch=(Exception,))
    for trial in study.trials:
        assert trial.state == TrialState.COMPLETE, trial.user_attrs.get("failure")
        decode(configuration_from_trial(trial, space), schema)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_tpe_suggestions_are_valid_and_decode(name: str, generated_schema: Schema) -> None:
    # NOTE: the full bar (200 trials, both schemas) is the slow test below.
    _tpe_bar(name, generated_schema, 50)


@pytest.mark.slow
@pytest.mark.parametrize("name", PRESETS)
def test_preset_tpe_bar_200(name: str, schema: Schema) -> None:
    _tpe_bar(name, schema, 200)


@pytest.mark.parametrize("name", PRESETS)
def test_json_round_trip(name: str, movielens_schema: Schema) -> None:
    space = preset(name, movielens_schema)
    # Ours keeps meta.
    back = from_json(to_json(space))
    assert back == space
    assert back.meta["preset"] == name
    # ConfigSpace's own drops meta but keeps everything decode needs.
    buf = io.StringIO()
    space.to_json(buf)
    plain = ConfigurationSpace.from_json(io.StringIO(buf.getvalue()))
    assert set(plain) == set(space)
    assert plain.conditions == space.conditions
    assert plain.forbidden_clauses == space.forbidden_clauses
    space.seed(3)
    for config in space.sample_configuration(5):
        from ConfigSpace import Configuration

        other = Configuration(plain, values=dict(config))
        a = decode(config, movielens_schema)
        b = decode(other, movielens_schema)
        assert a.replace(name="x") == b.replace(name="x")
    json.loads(to_json(space))  # plain JSON


def test_criteo_size_spaces_stay_usable(criteo_schema: Schema) -> None:
    groups = preset("autogroup", criteo_schema, seed=0)
    assert len(groups) == 2 * 4 * 39
    pairs = preset("autofis", criteo_schema, seed=0)
    assert len(pairs) == 741
    for name in ("autodim", "nis", "autogroup", "autofis", "autoctr"):
        space = preset(name, criteo_schema, seed=0)
        for config in space.sample_configuration(20):
            decode(config, criteo_schema)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sif", "autofeature", "aim", "full"])
def test_criteo_size_pair_function_spaces(name: str, criteo_schema: Schema) -> None:
    space = preset(name, criteo_schema, seed=0)
    for config in space.sample_configuration(50):
        decode(config, criteo_schema)


def test_from_json_reads_plain_configspace_json(generated_schema: Schema) -> None:
    space = preset("autoloss", generated_schema)
    buf = io.StringIO()
    space.to_json(buf)
    back = from_json(buf.getvalue())
    assert back.meta is None and set(back) == set(space)


def _compose_equivalent(name: str, schema: Schema) -> ConfigurationSpace:
    from recsearch.spaces import behaviour
    from recsearch.spaces import blocks
    from recsearch.spaces import compose
    from recsearch.spaces import embedding_dims
    from recsearch.spaces import finetuning
    from recsearch.spaces import graph
    from recsearch.spaces import interaction_functions
    from recsearch.spaces import interaction_groups
    from recsearch.spaces import interaction_set
    from recsearch.spaces import loss_mixture
    from recsearch.spaces import mlp
    from recsearch.spaces import mlp_fractions
    from recsearch.spaces import numeric_fields
    from recsearch.spaces import projection
    from recsearch.spaces import pruning
    from recsearch.spaces import training
    from recsearch.spaces.presets import AUTOFEATURE_FUNCTIONS
    from recsearch.spaces.presets import AUTOPI_BLOCK_TYPES
    from recsearch.spaces.presets import AUTOPI_UNITS
    from recsearch.spaces.presets import SIF_FUNCTIONS

    aim = {"emb": embedding_dims(schema), "inter": interaction_functions(schema),
           "mlp": mlp(schema), "train": training(schema)}
    return compose(**{
        "autodim": {"emb": embedding_dims(schema)},
        "nis": {"emb": embedding_dims(schema, groups=3)},
        "autofis": {"inter": interaction_set(schema)},
        "autogroup": {"group": interaction_groups(schema)},
        "sif": {"inter": interaction_functions(schema, functions=SIF_FUNCTIONS)},
        "autofeature": {"inter": interaction_functions(schema, functions=AUTOFEATURE_FUNCTIONS)},
        "autoctr": {"block": blocks(schema)},
        "autoloss": {"loss": loss_mixture(schema)},
        "hpo": {"train": training(schema)},
        "aim": aim,
        "full": {**aim, "loss": loss_mixture(schema)},
        "autoias": {"emb": embedding_dims(schema), "proj": projection(schema),
                    "inter": interaction_functions(schema), "mlp": mlp(schema)},
        "fives": {"graph": graph(schema, layers=2)},
        "pep": {"pep": pruning(schema)},
        "autodis": {"num": numeric_fields(schema)},
        "autoft": {"ft": finetuning(schema)},
        "ameir": {"seq": behaviour(schema, layers=3),
                  "inter": interaction_functions(schema, functions=("hadamard",)),
                  "mlp": mlp_fractions(schema, max_depth=3)},
        "autopi": {"block": blocks(schema, n_blocks=4, types=AUTOPI_BLOCK_TYPES,
                                   units=AUTOPI_UNITS),
                   "mlp": mlp(schema, max_depth=2, units=AUTOPI_UNITS)},
    }[name])


@pytest.mark.parametrize("name", PRESETS)
def test_preset_equals_the_composition_of_its_builders(name: str, generated_schema: Schema) -> None:
    space = preset(name, generated_schema)
    other = _compose_equivalent(name, generated_schema)
    assert list(space) == list(other)
    # NOTE: only the defaults a preset sets to make its default configuration its base differ.
    based = _base_defaults(name, set(space))
    assert all(space[n] == other[n] for n in space if n not in based)
    assert all(space[n].default_value == based[n] for n in based)
    assert sorted(map(repr, space.conditions)) == sorted(map(repr, other.conditions))
    assert sorted(map(repr, space.forbidden_clauses)) == sorted(
        map(repr, other.forbidden_clauses)
    )


def test_spaces_needing_numeric_or_sequence_fields_name_what_is_missing(
    criteo_schema: Schema,
) -> None:
    with pytest.raises(InvalidParameterError, match="no numeric field.*numeric='keep'"):
        preset("autodis", criteo_schema)
    with pytest.raises(InvalidParameterError, match="no sequence field.*history=K"):
        preset("ameir", criteo_schema)


# ------------------------------------------------------------------------- base first


@pytest.mark.parametrize("name", PRESETS)
def test_each_default_configuration_decodes_to_its_documented_base(
    name: str, generated_schema: Schema
) -> None:
    spec = decode(preset(name, generated_schema).get_default_configuration(), generated_schema)
    if name == "autoctr":
        kinds = [(b.type, b.inputs, b.units if b.type == "mlp" else b.dim) for b in spec.blocks]
        assert kinds == [("fm", (), 16), ("dot", (), 16), ("mlp", (), 256), ("mlp", (2,), 128),
                         ("mlp", (3,), 128), ("mlp", (4,), 64), ("mlp", (5,), 64)]
        assert spec.blocks[2].dense_input and spec.head.widths == ()
        return
    if name == "autopi":
        assert {b.type for b in spec.blocks} == {"skip"} and spec.head.widths == (128, 128)
        return
    if name == "ameir":
        assert spec.behaviour is not None and spec.behaviour.output == "target"
        assert {layer.op for layer in spec.behaviour.layers} == {"zero"}
        assert spec.interaction is not None and spec.interaction.pairs
        assert {p.function for p in spec.interaction.pairs} == {"hadamard"}
        assert spec.head.fractions == (0.5, 0.5) and set(spec.head.activations) == {"relu"}
        assert name in BASES
        return
    if name == "autoft":
        assert spec.finetune is not None and not spec.finetune.frozen_fields
        assert not spec.finetune.frozen_parts
    base = DEEPFM_BASE
    assert spec.head == base.head and spec.loss == base.loss and spec.linear
    assert all(spec.embedding.dims_of(f) in ((16,), (16, 16, 16)) for f in
               generated_schema.sparse_names)
    n_pairs = len(generated_schema.sparse_names) * (len(generated_schema.sparse_names) - 1) // 2
    inter = spec.interaction
    assert inter is not None
    if name == "autogroup":
        assert inter.pairs == () and len(inter.groups) == 1
        assert inter.groups[0].order == 2
        assert inter.groups[0].fields == generated_schema.sparse_names
    elif inter.pairs is not None:
        assert len(inter.pairs) == n_pairs
        functions = {p.function for p in inter.pairs}
        assert functions == ({"hadamard"} if name == "sif" else {"inner"})
    assert name in BASES


def test_enqueue_base_runs_the_base_first_once_with_a_configspace_sampler(
    generated_schema: Schema,
) -> None:
    from recsearch import strategies

    space = preset("autofis", generated_schema)
    strategy = strategies.create("random", space, seed=0)
    study = optuna.create_study(direction="maximize", sampler=strategy.sampler)
    assert enqueue_base(study, space) is True
    assert enqueue_base(study, space) is False  # resumed: nothing enqueued twice
    study.optimize(lambda t: float(sum(bool(v) for v in suggest(t, space).values())), n_trials=3)
    first = study.trials[0]
    assert first.params == base_params(space) and first.user_attrs[BASE_ATTR] is True
    assert first.value == max(t.value for t in study.trials)  # every pair on: the most pairs
    assert all(BASE_ATTR not in t.user_attrs for t in study.trials[1:])
