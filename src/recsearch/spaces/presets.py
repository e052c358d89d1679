"""Named spaces users start from: the seed methods' search spaces.

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
    from recsearch.data.schema import Schema

__all__ = ["PRESETS", "PresetName", "available", "from_json", "preset", "to_json"]

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

if set(PRESETS) != set(get_args(PresetName)):  # pragma: no cover - a developer mistake
    raise RuntimeError("PRESETS and PresetName disagree")


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
    if seed is not None:
        space.seed(seed)
    return space


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
