"""Torch-free description of one CTR model: the contract between ``spaces`` and ``objectives``.

A :class:`ModelSpec` says everything needed to build and train a model:

- ``embedding``: a dimension per sparse field, or per frequency group of a field (NIS multi-size
  embedding: the field's values ranked by training frequency, most frequent first, cut into
  ``len(dims)`` groups of equal numbers of values; each group has its own dimension). Dimension 0
  drops the field (or the group, whose values then embed as zeros). Where an interaction needs equal
  widths, mixed dimensions are projected to ``embedding.interaction_dim``.
- ``linear``: a first-order (logistic regression) term over the sparse fields and dense features.
- ``interaction``: explicit feature interactions whose scalar outputs are added to the logit: a set
  of field pairs, each with its own function (AutoFIS / SIF / AutoFeature), and higher-order field
  groups combined FM-style ``sum_d((sum_i e_i)^p - sum_i e_i^p)`` (AutoGroup), and a FIVES graph
  (layer-wise adjacency over the fields; :mod:`recsearch.objectives.graph` gives the formula).
- ``blocks``: an AutoCTR / NASRec DAG of interaction blocks. Block ``i`` reads the raw dense
  features (``dense_input``), the raw embeddings (``sparse_input``) and the outputs of earlier blocks
  listed in ``inputs``. The head reads every block output that no later block consumes. With no
  blocks, the head reads the flattened embeddings and the dense features (the DNN of DeepFM).
- ``behaviour``: encoders of the sequence fields (AMEIR / DIN), one more embedding per history.
- ``finetune``: AutoFT: what keeps its pre-trained values (``None``: everything trains).
- ``head``: the MLP on top (``widths=()`` means no deep part when there are no blocks, or a single
  linear layer over the block outputs when there are), then one output unit.
- ``loss``: non-negative weights over BCE, focal, hinge and squared error on the probability.
- ``training``: optimizer and schedule.

The logit is ``linear + interaction + head`` over whichever parts are present.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal
from typing import get_args

from recsearch._spec_parts import AUTODIS_SKIP
from recsearch._spec_parts import BUCKETINGS
from recsearch._spec_parts import FINE_TUNE_PARTS
from recsearch._spec_parts import HEAD_ACTIVATIONS
from recsearch._spec_parts import NUMERIC_REPRESENTATIONS
from recsearch._spec_parts import PRUNE_GRANULARITIES
from recsearch._spec_parts import SEQUENCE_ACTIVATIONS
from recsearch._spec_parts import SEQUENCE_NORMS
from recsearch._spec_parts import SEQUENCE_OPS
from recsearch._spec_parts import SEQUENCE_OUTPUTS
from recsearch._spec_parts import BehaviourSpec
from recsearch._spec_parts import Bucketing
from recsearch._spec_parts import FineTunePart
from recsearch._spec_parts import FineTuneSpec
from recsearch._spec_parts import HeadActivation
from recsearch._spec_parts import NumericEmbedding
from recsearch._spec_parts import NumericRepresentation
from recsearch._spec_parts import PruneGranularity
from recsearch._spec_parts import PruneSpec
from recsearch._spec_parts import SequenceLayer
from recsearch._spec_parts import _check_choice
from recsearch._spec_parts import _check_range
from recsearch.errors import InvalidParameterError

if TYPE_CHECKING:
    from recsearch.data.schema import Schema

__all__ = [
    "AUTODIS_SKIP", "BASELINES", "BLOCK_TYPES", "BUCKETINGS", "BehaviourSpec", "BlockSpec",
    "BlockType", "Bucketing", "CROSS_VERSIONS", "CrossVersion", "EmbeddingSpec",
    "FINE_TUNE_PARTS", "FieldEmbedding", "FieldGroup", "FineTunePart", "FineTuneSpec",
    "HEAD_ACTIVATIONS", "HeadActivation", "HeadSpec", "InteractionSpec", "LOSSES", "LossName",
    "LossSpec", "ModelSpec", "NUMERIC_REPRESENTATIONS", "NumericEmbedding",
    "NumericRepresentation", "OPTIMIZERS", "OptimizerName", "PAIR_FUNCTIONS",
    "PRUNE_GRANULARITIES", "PairFunction", "PairInteraction", "PruneGranularity", "PruneSpec",
    "SEQUENCE_ACTIVATIONS", "SEQUENCE_NORMS", "SEQUENCE_OPS", "SEQUENCE_OUTPUTS",
    "SequenceLayer", "TrainingSpec", "baseline",
]

PairFunction = Literal["inner", "hadamard", "plus", "max", "min", "concat", "outer"]
PAIR_FUNCTIONS: tuple[str, ...] = get_args(PairFunction)
"""Interaction functions of a field pair, each producing one scalar added to the logit.

``inner``: <e_i, e_j>. ``hadamard``: w . (e_i * e_j). ``plus``/``max``/``min``: w . op(e_i, e_j).
``concat``: a small MLP on [e_i, e_j]. ``outer``: the outer product e_i e_j^T projected by a learned
matrix, <W, e_i e_j^T>.
"""

BlockType = Literal["mlp", "fm", "dot", "efc", "cross", "attention", "conv", "skip"]
BLOCK_TYPES: tuple[str, ...] = get_args(BlockType)
"""Interaction block types (AutoCTR's six, plus AutoPI's ``conv`` and ``skip``).

Each has a descriptor in :mod:`recsearch.blocktypes` (its hyperparameters, shape plan and
module), which the space builder, ``decode``, the cost model and the model all read.

``mlp``: fully connected layers over the flattened inputs. ``fm``: the FM bi-interaction vector
(``0.5 * ((sum e)^2 - sum e^2)``) of the inputs projected to ``dim``. ``dot``: the pairwise dot
products of the inputs. ``efc``: a learned linear mix of the input embeddings over the field axis
into ``dim`` new embeddings. ``cross``: a DCN cross network (``cross_version`` 1 or 2) of
``layers`` layers over the flattened inputs. ``attention``: AutoInt multi-head self-attention of
``layers`` layers and ``heads`` heads over the input embeddings, output width
``heads * max(1, dim // heads)``. ``conv``: a 1D convolution along the field axis of the input
embeddings (embedding width in and out, ``kernel`` fields wide, zero-padded so every input
embedding gives one output), then ReLU. ``skip``: the input embeddings unchanged (the identity).
The hidden width of the ``concat`` pair MLP is ``max(8, interaction width)``.
"""

LossName = Literal["bce", "focal", "hinge", "mse"]
LOSSES: tuple[str, ...] = get_args(LossName)
"""Loss terms of a :class:`LossSpec` mixture (each a weight attribute of it)."""

OptimizerName = Literal["adam", "adagrad", "sgd"]
OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)
"""Optimizers of a :class:`TrainingSpec`."""

CrossVersion = Literal[1, 2]
CROSS_VERSIONS: tuple[int, ...] = get_args(CrossVersion)
"""DCN (1) and DCN-V2 (2) cross layers."""

PrecisionName = Literal["off", "bf16", "fp16"]
PRECISIONS: tuple[str, ...] = get_args(PrecisionName)
"""Mixed-precision modes of a :class:`TrainingSpec` (``off``: float32)."""


@dataclass(frozen=True)
class FieldEmbedding:
    """Embedding dimensions of one sparse field.

    Attributes:
        field: Field name.
        dims: One dimension (a plain embedding) or one per frequency group, most frequent group
            first (NIS). ``(0,)`` drops the field.

    Example:
        >>> FieldEmbedding("item_id", (32, 8, 2))
        FieldEmbedding(field='item_id', dims=(32, 8, 2))
    """

    field: str
    dims: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.dims or any(int(d) < 0 for d in self.dims):
            raise InvalidParameterError(
                f"The 'dims' of FieldEmbedding {self.field!r} must be non-negative integers, "
                f"at least one. Got {self.dims!r} instead."
            )

    @property
    def dropped(self) -> bool:
        """Whether every group has dimension 0 (the field is not used)."""
        return all(d == 0 for d in self.dims)


@dataclass(frozen=True)
class EmbeddingSpec:
    """Per-field embedding sizes.

    Attributes:
        default_dim: Dimension of every sparse field not listed in ``fields``.
        fields: Per-field overrides.
        interaction_dim: Common width that mixed dimensions are projected to where an interaction
            needs equal widths; ``None`` means the largest dimension in use.
        prune: PEP soft thresholds on every embedding table; ``None``: plain embeddings.
        numeric: Per numeric field, its representation; unlisted numeric fields are ``dense``.

    Example:
        >>> EmbeddingSpec(default_dim=16, fields=(FieldEmbedding("zip", (0,)),)).dims_of("zip")
        (0,)
    """

    default_dim: int = 16
    fields: tuple[FieldEmbedding, ...] = ()
    interaction_dim: int | None = None
    prune: PruneSpec | None = None
    numeric: tuple[NumericEmbedding, ...] = ()

    def numeric_of(self, name: str) -> NumericEmbedding:
        """The representation of numeric field ``name`` (``dense`` when it is not listed)."""
        for ne in self.numeric:
            if ne.field == name:
                return ne
        return NumericEmbedding(name)

    def dims_of(self, name: str) -> tuple[int, ...]:
        """The dimensions of field ``name`` (the default when it is not listed)."""
        for fe in self.fields:
            if fe.field == name:
                return fe.dims
        return (self.default_dim,)


@dataclass(frozen=True)
class PairInteraction:
    """One interacting pair of fields and its function.

    Example:
        >>> PairInteraction(("user_id", "item_id"), "hadamard")
        PairInteraction(fields=('user_id', 'item_id'), function='hadamard')
    """

    fields: tuple[str, str]
    function: PairFunction = "inner"

    def __post_init__(self) -> None:
        _check_choice("PairInteraction", "function", self.function, PAIR_FUNCTIONS)
        if len(self.fields) != 2 or self.fields[0] == self.fields[1]:
            raise InvalidParameterError(
                f"The 'fields' of PairInteraction must be two different fields. "
                f"Got {self.fields!r} instead."
            )


@dataclass(frozen=True)
class FieldGroup:
    """A higher-order interaction: ``sum_d((sum_i e_i)^order - sum_i e_i^order)`` over the group.

    Example:
        >>> FieldGroup(("age", "gender", "occupation"), order=3)
        FieldGroup(fields=('age', 'gender', 'occupation'), order=3)
    """

    fields: tuple[str, ...]
    order: int = 2

    def __post_init__(self) -> None:
        if self.order < 2 or len(self.fields) < 2:
            raise InvalidParameterError(
                f"A FieldGroup needs order >= 2 and at least two fields. "
                f"Got order={self.order}, fields={self.fields!r} instead."
            )


@dataclass(frozen=True)
class InteractionSpec:
    """Explicit feature interactions added to the logit.

    Attributes:
        pairs: Interacting pairs, each with its function. ``None`` means every pair of sparse
            fields with the inner product (a factorization machine).
        groups: Higher-order field groups (AutoGroup).
        graph: FIVES adjacency: ``graph[k - 1]`` holds the edges ``(field, neighbour)`` of layer
            ``k`` (the field reads the neighbour's layer ``k - 1`` node).

    Example:
        >>> InteractionSpec(pairs=(PairInteraction(("a", "b")),)).all_pairs
        False
    """

    pairs: tuple[PairInteraction, ...] | None = None
    groups: tuple[FieldGroup, ...] = ()
    graph: tuple[tuple[tuple[str, str], ...], ...] = ()

    def __post_init__(self) -> None:
        for k, layer in enumerate(self.graph, start=1):
            bad = [e for e in layer if len(e) != 2 or e[0] == e[1]]
            if bad:
                raise InvalidParameterError(
                    f"The 'graph' of InteractionSpec has edges {bad} at layer {k}; an edge is "
                    "(field, neighbour) of two different fields."
                )

    @property
    def all_pairs(self) -> bool:
        """Whether every pair interacts by inner product (FM)."""
        return self.pairs is None


@dataclass(frozen=True)
class BlockSpec:
    """One block of an AutoCTR interaction DAG.

    Attributes:
        type: Block type (see ``BLOCK_TYPES``).
        dense_input: Reads the raw dense (numeric) features.
        sparse_input: Reads the raw sparse embeddings.
        inputs: Indices of earlier blocks whose outputs this block reads.
        units: Width of each ``mlp`` layer.
        layers: Number of layers (``mlp``, ``cross``, ``attention``).
        dim: Output dimension of ``fm`` and number of output embeddings of ``efc``.
        heads: Attention heads.
        cross_version: 1 (DCN) or 2 (DCN-V2).
        kernel: Width of a ``conv`` block's kernel in fields (odd).

    Example:
        >>> BlockSpec("cross", dense_input=True, sparse_input=True, layers=3)
        BlockSpec(type='cross', dense_input=True, sparse_input=True, inputs=(), units=256, \
layers=3, dim=16, heads=2, cross_version=1, kernel=3)
    """

    type: BlockType
    dense_input: bool = False
    sparse_input: bool = True
    inputs: tuple[int, ...] = ()
    units: int = 256
    layers: int = 1
    dim: int = 16
    heads: int = 2
    cross_version: CrossVersion = 1
    kernel: int = 3

    def __post_init__(self) -> None:
        _check_choice("BlockSpec", "type", self.type, BLOCK_TYPES)
        _check_choice("BlockSpec", "cross_version", self.cross_version, CROSS_VERSIONS)
        if self.kernel < 1 or self.kernel % 2 == 0:
            raise InvalidParameterError(
                f"The 'kernel' parameter of BlockSpec must be an odd integer >= 1. "
                f"Got {self.kernel!r} instead."
            )


@dataclass(frozen=True)
class HeadSpec:
    """The MLP on top of the model.

    Attributes:
        widths: Hidden widths.
        dropout: Dropout after each hidden layer.
        batch_norm: Batch norm before each activation.
        fractions: When given, replace ``widths``: each hidden width is this fraction of the
            previous layer's width (the first of the head input), at least 1 (AMEIR).
        activations: One per hidden layer; empty means ReLU everywhere.

    Example:
        >>> HeadSpec(widths=(400, 400, 400), dropout=0.1).depth
        3
        >>> HeadSpec(fractions=(0.5, 0.2), activations=("dice", "swish")).depth
        2
    """

    widths: tuple[int, ...] = (256, 128)
    dropout: float = 0.0
    batch_norm: bool = False
    fractions: tuple[float, ...] = ()
    activations: tuple[HeadActivation, ...] = ()

    def __post_init__(self) -> None:
        _check_range("HeadSpec", "dropout", self.dropout, 0.0, 0.99)
        for f in self.fractions:
            _check_range("HeadSpec", "fractions", f, 1e-6, 1.0)
        for a in self.activations:
            _check_choice("HeadSpec", "activations", a, HEAD_ACTIVATIONS)
        if self.activations and len(self.activations) != self.depth:
            raise InvalidParameterError(
                f"HeadSpec has {self.depth} hidden layers but {len(self.activations)} "
                "activations; give one per layer or none."
            )

    @property
    def depth(self) -> int:
        """Number of hidden layers."""
        return len(self.fractions) if self.fractions else len(self.widths)

    def resolved_widths(self, input_width: int) -> tuple[int, ...]:
        """The hidden widths on an input of ``input_width`` (``fractions`` resolved)."""
        if not self.fractions:
            return self.widths
        out, prev = [], input_width
        for f in self.fractions:
            prev = max(1, round(f * prev))
            out.append(prev)
        return tuple(out)


@dataclass(frozen=True)
class LossSpec:
    """A loss mixture: non-negative weights over BCE, focal, hinge and MSE on the probability.

    Example:
        >>> LossSpec(bce=0.5, focal=0.5, focal_gamma=2.0).active
        ('bce', 'focal')
    """

    bce: float = 1.0
    focal: float = 0.0
    hinge: float = 0.0
    mse: float = 0.0
    focal_gamma: float = 2.0

    def __post_init__(self) -> None:
        for name in LOSSES:
            if getattr(self, name) < 0:
                raise InvalidParameterError(
                    f"The {name!r} weight of LossSpec must be non-negative. "
                    f"Got {getattr(self, name)!r} instead."
                )
        if sum(getattr(self, name) for name in LOSSES) <= 0:
            raise InvalidParameterError("LossSpec needs at least one positive loss weight.")

    @property
    def active(self) -> tuple[str, ...]:
        """Names of the losses with a positive weight."""
        return tuple(name for name in LOSSES if getattr(self, name) > 0)


@dataclass(frozen=True)
class TrainingSpec:
    """Optimizer and schedule.

    Attributes:
        lr: Learning rate; ``None``: the recipe's rule, which follows the training rows
            (:func:`recsearch.objectives.recipe.default_lr`: Adam at 1e-3 on a million rows,
            up to 1e-2 on a few thousand).
        batch_size: Rows per step at most. The recipe shrinks it when a budget would take
            fewer than its minimum number of steps (:class:`recsearch.objectives.recipe.Recipe`);
            raise it for Criteo-size data.
        epochs: Epoch budget (fractional allowed). A ``Budget`` given to the trainer replaces it
            (``Budget.epochs``) or caps it in rows (``Budget.rows``), so a multi-fidelity strategy
            sets the fidelity, not the spec.
        patience: Early stopping after this many evaluations without a better validation value
            of the monitored metric (the search metric); 0 disables it.
        grad_clip: Gradient-norm clip; 0 disables it.
        mixed_precision: ``bf16`` or ``fp16`` autocast of the forward pass (``fp16`` with a
            gradient scaler on CUDA); ``off`` trains in float32.

    Example:
        >>> TrainingSpec(optimizer="adagrad", lr=0.01).optimizer
        'adagrad'
    """

    optimizer: OptimizerName = "adam"
    lr: float | None = None
    momentum: float = 0.9
    embedding_weight_decay: float = 0.0
    dense_weight_decay: float = 0.0
    batch_size: int = 1024
    epochs: float = 1.0
    patience: int = 2
    grad_clip: float = 10.0
    mixed_precision: PrecisionName = "off"

    def __post_init__(self) -> None:
        _check_choice("TrainingSpec", "optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("TrainingSpec", "mixed_precision", self.mixed_precision, PRECISIONS)
        bad_lr = self.lr is not None and not self.lr > 0
        if bad_lr or self.batch_size < 1 or not 0 < self.epochs < float("inf"):
            raise InvalidParameterError(
                "TrainingSpec needs lr > 0 (or None), batch_size >= 1 and finite epochs > 0. "
                f"Got lr={self.lr!r}, batch_size={self.batch_size!r}, epochs={self.epochs!r}."
            )


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to build and train one CTR model (see the module docstring).

    Example:
        >>> spec = ModelSpec(interaction=InteractionSpec(), head=HeadSpec(widths=(64,)))
        >>> spec.replace(linear=False).linear
        False
    """

    embedding: EmbeddingSpec = field(default_factory=EmbeddingSpec)
    linear: bool = True
    interaction: InteractionSpec | None = None
    blocks: tuple[BlockSpec, ...] = ()
    behaviour: BehaviourSpec | None = None
    finetune: FineTuneSpec | None = None
    head: HeadSpec = field(default_factory=HeadSpec)
    loss: LossSpec = field(default_factory=LossSpec)
    training: TrainingSpec = field(default_factory=TrainingSpec)
    name: str = "custom"

    def __post_init__(self) -> None:
        for i, block in enumerate(self.blocks):
            bad = [j for j in block.inputs if not 0 <= j < i]
            if bad:
                raise InvalidParameterError(
                    f"Block {i} of ModelSpec reads blocks {bad}; a block may only read earlier "
                    "blocks."
                )
            if not (block.dense_input or block.sparse_input or block.inputs):
                raise InvalidParameterError(f"Block {i} of ModelSpec has no input.")

    def replace(self, **changes: Any) -> ModelSpec:
        """A copy with some top-level attributes replaced."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready nested dict (tuples become lists)."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """The spec as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """Rebuild a spec from :meth:`to_dict` output."""
        emb = data.get("embedding", {})
        inter = data.get("interaction")
        return cls(
            embedding=EmbeddingSpec(
                default_dim=emb.get("default_dim", 16),
                fields=tuple(
                    FieldEmbedding(f["field"], tuple(f["dims"])) for f in emb.get("fields", ())
                ),
                interaction_dim=emb.get("interaction_dim"),
                prune=None if emb.get("prune") is None else PruneSpec(**emb["prune"]),
                numeric=tuple(NumericEmbedding(**ne) for ne in emb.get("numeric", ())),
            ),
            linear=data.get("linear", True),
            interaction=None
            if inter is None
            else InteractionSpec(
                pairs=None
                if inter.get("pairs") is None
                else tuple(
                    PairInteraction(tuple(p["fields"]), p["function"])  # type: ignore[arg-type]
                    for p in inter["pairs"]
                ),
                groups=tuple(
                    FieldGroup(tuple(g["fields"]), g["order"]) for g in inter.get("groups", ())
                ),
                graph=tuple(
                    tuple((str(a), str(b)) for a, b in layer) for layer in inter.get("graph", ())
                ),
            ),
            blocks=tuple(
                BlockSpec(**{**b, "inputs": tuple(b.get("inputs", ()))})
                for b in data.get("blocks", ())
            ),
            behaviour=None
            if data.get("behaviour") is None
            else BehaviourSpec(
                tuple(SequenceLayer(**x) for x in data["behaviour"].get("layers", ())),
                data["behaviour"].get("output", "average"),
            ),
            finetune=None
            if data.get("finetune") is None
            else FineTuneSpec(
                tuple(data["finetune"].get("frozen_fields", ())),
                tuple(data["finetune"].get("frozen_parts", ())),
            ),
            head=HeadSpec(**{
                **data.get("head", {}),
                **{k: tuple(data.get("head", {}).get(k, getattr(HeadSpec(), k)))
                   for k in ("widths", "fractions", "activations")},
            }),
            loss=LossSpec(**data.get("loss", {})),
            training=TrainingSpec(**data.get("training", {})),
            name=data.get("name", "custom"),
        )


BASELINES: dict[str, str] = {
    "lr": "Logistic regression over the sparse and dense features.",
    "fm": "Factorization machine: linear term plus every pair by inner product.",
    "dnn": "A plain MLP over the concatenated embeddings and dense features.",
    "deepfm": "DeepFM: linear + FM + an MLP over the embeddings.",
    "dcn": "DCN: a cross network and an MLP side by side over the embeddings and dense features.",
    "dcnv2": "DCN-V2: like DCN with matrix-valued cross layers.",
    "autoint": "AutoInt: multi-head self-attention over the embeddings, then the head.",
    "nfm": "NFM: the FM bi-interaction vector fed to an MLP.",
    "din": "DIN-style: target attention over each history, then an MLP (needs a sequence field).",
}


def baseline(name: str, schema: Schema | None = None, **overrides: Any) -> ModelSpec:
    """A named baseline model as a spec.

    Args:
        name: One of :data:`BASELINES`, e.g. ``deepfm`` (``-`` and ``_`` are ignored).
        schema: Accepted for symmetry with the space builders; baselines use every field of any
            schema, so it is only checked against per-field ``embedding`` overrides.
        **overrides: Top-level :class:`ModelSpec` attributes to replace (``head=...``,
            ``training=...``), or ``embedding_dim=...`` as a shortcut for the default dimension.

    Returns:
        The spec.

    Example:
        >>> spec = baseline("deepfm", embedding_dim=16, head=HeadSpec(widths=(400, 400, 400)))
        >>> spec.interaction.all_pairs
        True
    """
    key = name.lower().replace("-", "").replace("_", "")
    if key not in BASELINES:
        raise InvalidParameterError(
            f"The 'name' parameter of baseline must be among {tuple(BASELINES)}. "
            f"Got {name!r} instead."
        )
    dim = overrides.pop("embedding_dim", 16)
    from recsearch._baselines import baseline_specs

    spec = baseline_specs(dim)[key].replace(name=key)
    if schema is not None and spec.behaviour is not None and not schema.sequence:
        raise InvalidParameterError(
            f"baseline({name!r}) reads behaviour histories, and the schema has no sequence "
            "field (load MovieLens with movielens_100k(history=K))."
        )
    if schema is not None:
        names = set(schema.sparse_names)
        unknown = [fe.field for fe in overrides.get("embedding", spec.embedding).fields
                   if fe.field not in names]
        if unknown:
            raise InvalidParameterError(
                f"baseline({name!r}): embedding overrides name fields {unknown} that the schema "
                f"does not have; sparse fields: {sorted(names)}"
            )
    return spec.replace(**overrides) if overrides else spec
