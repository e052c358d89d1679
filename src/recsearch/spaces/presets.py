"""Named spaces users start from: the seed methods' search spaces.

Base first: each preset's **default configuration is the base model it modifies**, so a study
that evaluates the default first (:func:`enqueue_base`) can never report a best below its own
base. :data:`BASES` says per preset what that base is; with ``decode``'s default base (a DeepFM
whose MLP is ``(128, 64)``, :data:`~recsearch.spaces.decode.DEEPFM_BASE`) most defaults decode to
exactly that DeepFM:

- ``autodim``, ``nis``: every field (every frequency group) at 16 dimensions: the DeepFM base.
- ``autofis``, ``autofeature``: every pair on by inner product: the DeepFM base.
- ``sif``: every pair on by ``hadamard`` (a weighted inner product; SIF has no plain inner).
- ``autogroup``: one order-2 group of every field (an FM, up to a factor 2), every other group
  empty: the DeepFM base with its FM written as a group.
- ``autoctr``: a DeepFM-like DAG (:data:`AUTOCTR_BASE`): an ``fm`` block (16 wide) and a ``dot``
  block on the raw embeddings, the FM's two readings, beside an MLP tower of five one-layer
  ``mlp`` blocks (256, 128, 128, 64, 64) on the raw embeddings (and the dense features when the
  schema has them); the head is one linear layer over the three outputs, as DeepFM sums its parts.
- ``autoloss``: plain BCE; ``hpo``: Adam at lr 1e-3, batch 1024 (weight decays 1e-7);
  ``aim``, ``full``, ``autoias``: the DeepFM base (every field at 16, every pair by inner
  product, MLP ``(128, 64)``, BCE, Adam; ``autoias`` projects interactions to 16).
- ``fives``: no graph edge (the DeepFM base); ``pep``: the DeepFM base with thresholds that
  prune almost nothing; ``autopi``: a DNN (four ``skip`` nodes, MLP ``(128, 128)``);
  ``autodis``: every numeric field a plain dense input (the DeepFM base).

``space.meta`` of a preset holds ``{"preset": name, "sections": [...], "description": ...}`` so
runs can record it; :func:`to_json` / :func:`from_json` keep it (ConfigSpace's own serialization
drops ``meta``; :func:`~recsearch.spaces.decode` does not need it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal
from typing import get_args

from ConfigSpace import ConfigurationSpace

from recsearch.errors import InvalidParameterError
from recsearch.spaces import builders as b
from recsearch.spaces import more_builders as mb
from recsearch.spec import HEAD_ACTIVATIONS
from recsearch.spec import LOSSES
from recsearch.spec import NUMERIC_REPRESENTATIONS
from recsearch.spec import OPTIMIZERS
from recsearch.spec import PAIR_FUNCTIONS
from recsearch.spec import PRUNE_GRANULARITIES
from recsearch.spec import SEQUENCE_OPS
from recsearch.spec import SEQUENCE_OUTPUTS

if TYPE_CHECKING:
    import optuna

    from recsearch.data.schema import Schema

__all__ = [
    "AUTOCTR_BASE",
    "BASES",
    "BASE_ATTR",
    "PRESETS",
    "PresetName",
    "available",
    "base_params",
    "enqueue_base",
    "from_json",
    "preset",
    "to_json",
]

PresetName = Literal[
    "autodim",
    "nis",
    "autofis",
    "autogroup",
    "sif",
    "autofeature",
    "autoctr",
    "autoloss",
    "hpo",
    "aim",
    "full",
    "autoias",
    "fives",
    "autopi",
    "pep",
    "autodis",
    "ameir",
    "autoft",
]

SIF_FUNCTIONS = ("hadamard", "plus", "max", "min", "concat")
AUTOPI_BLOCK_TYPES = ("skip", "attention", "mlp", "fm", "conv")
AUTOPI_UNITS = (32, 64, 128, 256)
AUTOFEATURE_FUNCTIONS = ("inner", "hadamard", "plus", "concat", "outer")


Sections = dict[str, list[Any]]
"""Section name -> hyperparameters, conditions and forbidden clauses named ``<section>.<local>``.

Presets build their items with the final names and add them in one call: ConfigSpace checks each
condition against the whole space, so building sub-spaces and composing them would pay twice.
"""


def _emb(s: Schema, *, groups: int = 1) -> list[Any]:
    return b._embedding_items(s, "emb.", candidates=b.DEFAULT_DIMS, groups=groups)


def _fns(s: Schema, functions: tuple[str, ...] = PAIR_FUNCTIONS) -> list[Any]:
    return b._functions_items(s, "inter.", functions=functions)


def _mlp(_: Schema) -> list[Any]:
    return b._mlp_items("mlp.", max_depth=4, units=b.MLP_UNITS)


def _train(_: Schema) -> list[Any]:
    return b._training_items("train.", optimizers=OPTIMIZERS, batch_sizes=b.BATCH_SIZES)


def _loss(_: Schema) -> list[Any]:
    return b._loss_items("loss.", losses=LOSSES, weights=b.LOSS_WEIGHTS)


def _autoias(s: Schema) -> Sections:
    return {
        "emb": _emb(s),
        "proj": mb._projection_items("proj.", dims=mb.PROJECTION_DIMS),
        "inter": _fns(s),
        "mlp": _mlp(s),
    }


def _autopi(s: Schema) -> Sections:
    return {
        "block": b._blocks_items(
            s, "block.", n_blocks=4, types=AUTOPI_BLOCK_TYPES, units=AUTOPI_UNITS
        ),
        "mlp": b._mlp_items("mlp.", max_depth=2, units=AUTOPI_UNITS),
    }


def _aim(s: Schema) -> Sections:
    return {"emb": _emb(s), "inter": _fns(s), "mlp": _mlp(s), "train": _train(s)}


PRESETS: dict[str, tuple[str, Callable[[Schema], Sections]]] = {
    "autodim": (
        "AutoDim: an embedding dimension per field (0 drops it), on a fixed DeepFM.",
        lambda s: {"emb": _emb(s)},
    ),
    "nis": (
        "NIS: multi-size embeddings, a dimension per field and frequency group (3 groups).",
        lambda s: {"emb": _emb(s, groups=3)},
    ),
    "autofis": (
        "AutoFIS: which field pairs interact (inner product), on a fixed DeepFM.",
        lambda s: {"inter": b._set_items(s, "inter.")},
    ),
    "autogroup": (
        "AutoGroup: 4 field groups per order 2 and 3 replace the FM; linear in the fields.",
        lambda s: {"group": b._groups_items(s, "group.", orders=(2, 3), groups=4)},
    ),
    "sif": (
        "SIF: per pair, on/off and a function among plus/max/min/hadamard/concat.",
        lambda s: {"inter": _fns(s, SIF_FUNCTIONS)},
    ),
    "autofeature": (
        "AutoFeature: per pair, on/off and a function among inner/hadamard/plus/concat/outer.",
        lambda s: {"inter": _fns(s, AUTOFEATURE_FUNCTIONS)},
    ),
    "autoctr": (
        "AutoCTR: a DAG of 7 typed blocks (mlp/fm/dot/efc/cross/attention) with skip inputs.",
        lambda s: {
            "block": b._blocks_items(
                s, "block.", n_blocks=7, types=b.AUTOCTR_BLOCK_TYPES, units=b.MLP_UNITS
            )
        },
    ),
    "autoloss": (
        "AutoLoss (black-box): weights of BCE/focal/hinge/MSE and focal gamma, fixed DeepFM.",
        lambda s: {"loss": _loss(s)},
    ),
    "hpo": (
        "HPO: optimizer, learning rate, weight decays and batch size of a fixed DeepFM.",
        lambda s: {"train": _train(s)},
    ),
    "aim": (
        "AIM: embedding dims + pair interactions with functions + MLP + training.",
        _aim,
    ),
    "full": (
        "Everything of aim plus the loss mixture (a comprehensive search).",
        lambda s: {**_aim(s), "loss": _loss(s)},
    ),
    "autoias": (
        "AutoIAS: embedding dims + projection width + per-pair functions + MLP depth/widths.",
        _autoias,
    ),
    "fives": (
        "FIVES: a 2-layer field graph (orders 2, 3) on DeepFM; a layer-2 edge needs its "
        "layer-1 one.",
        lambda s: {"graph": mb._graph_items(s, "graph.", layers=2)},
    ),
    "autopi": (
        "AutoPI: a 4-node cell (skip/attention/FC/FM/1D conv, chosen inputs) + ensemble MLP.",
        _autopi,
    ),
    "pep": (
        "PEP: learnable soft thresholds prune the embeddings (granularity, initial threshold).",
        lambda s: {"pep": mb._pruning_items("pep.", granularities=PRUNE_GRANULARITIES,
                                            inits=mb.PEP_INITS)},
    ),
    "autodis": (
        "AutoDis: per numeric field dense / field vector / buckets / H meta-embeddings + "
        "temperature.",
        lambda s: {"num": mb._numeric_items(s, "num.", representations=NUMERIC_REPRESENTATIONS,
                                            buckets=mb.BUCKET_COUNTS, meta=mb.META_EMBEDDINGS)},
    ),
    "ameir": (
        "AMEIR: 3-layer behaviour encoder, Hadamard pairs, MLP widths as fractions + activations.",
        lambda s: {
            "seq": mb._behaviour_items(s, "seq.", layers=3, ops=SEQUENCE_OPS,
                                       outputs=SEQUENCE_OUTPUTS),
            "inter": _fns(s, ("hadamard",)),
            "mlp": mb._mlp_fraction_items("mlp.", max_depth=3, fractions=mb.MLP_FRACTIONS,
                                          activations=HEAD_ACTIVATIONS),
        },
    ),
    "autoft": (
        "AutoFT: per field and per part (linear/interaction/MLP), fine-tune or keep pre-trained.",
        lambda s: {"ft": mb._finetuning_items(s, "ft.", parts=("linear", "interaction", "mlp"))},
    ),
}

BASES: dict[str, str] = {
    "autodim": "DeepFM base: every field at 16 dimensions, MLP (128, 64).",
    "nis": "DeepFM base: every frequency group of every field at 16 dimensions.",
    "autofis": "DeepFM base: every pair on (inner product).",
    "autogroup": "DeepFM base with its FM as one order-2 group of every field; others empty.",
    "sif": "DeepFM base with every pair on by hadamard (SIF has no plain inner product).",
    "autofeature": "DeepFM base: every pair on by inner product.",
    "autoctr": "DeepFM-like DAG: fm + dot blocks beside an MLP tower (256, 128, 128, 64, 64).",
    "autoloss": "DeepFM base trained with plain BCE.",
    "hpo": "DeepFM base: Adam, lr 1e-3, batch 1024, weight decays 1e-7.",
    "aim": "DeepFM base: every field at 16, every pair by inner product, MLP (128, 64).",
    "full": "DeepFM base as in aim, trained with plain BCE.",
    "autoias": "DeepFM base (as in aim) with the interaction projection at 16.",
    "fives": "DeepFM base: no graph edge, so only the FM's order-2 pairs.",
    "autopi": "A DNN: four skip nodes pass the raw embeddings to the MLP (128, 128).",
    "pep": "DeepFM base with almost no pruning (per-field thresholds from -5).",
    "autodis": "DeepFM base: every numeric field a dense input, as DeepFM reads it.",
    "ameir": "DIN-like: target attention over each history (no encoder layer), every pair by "
    "hadamard, MLP of 0.5 and 0.5 of its input (ReLU).",
    "autoft": "The pre-trained DeepFM base with everything fine-tuned (nothing frozen).",
}
"""Per preset, the base model its default configuration decodes to (module docstring)."""

AUTOCTR_BASE: tuple[dict[str, Any], ...] = (
    {"type": "fm", "main": "sparse", "dim": 16},
    {"type": "dot", "main": "sparse"},
    {"type": "mlp", "main": "sparse", "dense": True, "units": 256},
    {"type": "mlp", "main": "b2", "units": 128},
    {"type": "mlp", "main": "b3", "units": 128},
    {"type": "mlp", "main": "b4", "units": 64},
    {"type": "mlp", "main": "b5", "units": 64},
)
"""The ``autoctr`` default DAG, block by block (local names of :func:`~.builders.blocks`)."""

BASE_ATTR = "recsearch:base"
"""User attribute (``True``) of the trial :func:`enqueue_base` enqueued."""


def _base_defaults(name: str, space_names: set[str]) -> dict[str, Any]:
    """Default values that differ from the builders' own, so the default is the base."""
    out: dict[str, Any] = {}
    if name == "autoctr":
        for i, block in enumerate(AUTOCTR_BASE):
            for key, value in block.items():
                out[f"block.{i}.{key}"] = value
    elif name == "autogroup":
        for hp in space_names:
            if hp.startswith("group.") and not hp.startswith("group.o2.g0."):
                out[hp] = False
    elif name == "autodis":
        for hp in space_names:
            if hp.startswith("num.") and hp.count(".") == 1:
                out[hp] = "dense"
    elif name in ("aim", "full", "autoias"):
        out["mlp.width.1"] = 64
    return {k: v for k, v in out.items() if k in space_names}


def _with_defaults(space: ConfigurationSpace, defaults: dict[str, Any]) -> ConfigurationSpace:
    # NOTE: ConfigSpace has no setter for a default; its serialized form rebuilds one with
    # conditions and forbidden clauses intact.
    data = space.to_serialized_dict()
    for hp in data["hyperparameters"]:
        if hp["name"] in defaults:
            hp["default_value"] = defaults[hp["name"]]
    return ConfigurationSpace.from_serialized_dict(data)


if set(PRESETS) != set(get_args(PresetName)):  # pragma: no cover - a developer mistake
    raise RuntimeError("PRESETS and PresetName disagree")
# NOTE: a preset without an entry in BASES fails tests/spaces/test_presets.py, not the import.


def available() -> dict[str, str]:
    """Every preset name with a one-line description.

    Example:
        >>> "autodim" in available()
        True
    """
    return {name: desc for name, (desc, _) in PRESETS.items()}


def preset(name: PresetName, schema: Schema, *, seed: int | None = None) -> ConfigurationSpace:
    """The named search space for ``schema``.

    Args:
        name: A preset name (see :func:`available`).
        schema: The data schema.
        seed: Seeds the space's own sampler (``space.sample_configuration``).

    Returns:
        The space; ``space.meta["preset"]`` is ``name``.

    Raises:
        InvalidParameterError: For an unknown name.

    Example:
        >>> from recsearch.data.schema import Field, Schema
        >>> schema = Schema("y", (Field("u", "categorical", 9), Field("i", "categorical", 9)))
        >>> space = preset("autofis", schema)
        >>> list(space), space.meta["preset"]
        (['inter.u-i'], 'autofis')
    """
    key = str(name).lower()
    if key not in PRESETS:
        raise InvalidParameterError(
            f"The 'name' parameter of preset must be among {tuple(PRESETS)}. "
            f"Got {name!r} instead."
        )
    desc, build = PRESETS[key]
    parts = build(schema)
    space = ConfigurationSpace(
        meta={"preset": key, "sections": list(parts), "description": desc}
    )
    space.add([item for items in parts.values() for item in items])
    defaults = _base_defaults(key, set(space))
    if defaults:
        space = _with_defaults(space, defaults)
        space.meta = {"preset": key, "sections": list(parts), "description": desc}
    if seed is not None:
        space.seed(seed)
    return space


def base_params(space: ConfigurationSpace) -> dict[str, Any]:
    """The Optuna params of ``space``'s default configuration: its base model (module docstring).

    Example:
        >>> from recsearch.data.schema import Field, Schema
        >>> schema = Schema("y", (Field("u", "categorical", 9), Field("i", "categorical", 9)))
        >>> base_params(preset("autofis", schema))
        {'inter.u-i': True}
    """
    from recsearch.spaces.bridge import params_from_configuration

    return params_from_configuration(space.get_default_configuration())


def enqueue_base(study: optuna.Study, space: ConfigurationSpace) -> bool:
    """Enqueue the base configuration as the study's next trial (base first).

    It counts toward the trial budget like any other trial; the trial carries the user attribute
    :data:`BASE_ATTR`. Nothing is enqueued when a trial of the study already has these params
    (a resumed study).

    Returns:
        Whether a trial was enqueued.

    Example:
        >>> import optuna
        >>> from recsearch.data.schema import Field, Schema
        >>> schema = Schema("y", (Field("u", "categorical", 9), Field("i", "categorical", 9)))
        >>> study = optuna.create_study(direction="maximize")
        >>> space = preset("autofis", schema)
        >>> enqueue_base(study, space), enqueue_base(study, space)
        (True, False)
    """
    params = base_params(space)
    before = len(study.get_trials(deepcopy=False))
    study.enqueue_trial(params, user_attrs={BASE_ATTR: True}, skip_if_exists=True)
    return len(study.get_trials(deepcopy=False)) > before


def to_json(space: ConfigurationSpace) -> str:
    """ConfigSpace's JSON of ``space`` plus its ``meta`` (which ConfigSpace drops)."""
    data = space.to_serialized_dict()
    data["meta"] = space.meta
    return json.dumps(data)


def from_json(text: str) -> ConfigurationSpace:
    """The space of :func:`to_json` (or of plain ConfigSpace JSON), ``meta`` restored."""
    data = json.loads(text)
    meta = data.pop("meta", None)
    space = ConfigurationSpace.from_serialized_dict(data)
    space.meta = meta
    return space
