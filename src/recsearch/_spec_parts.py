"""Embedding options of :mod:`recsearch.spec`: PEP pruning and numeric-field representations.

Kept apart so that ``spec.py`` stays readable; import them from :mod:`recsearch.spec`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from typing import get_args

from recsearch.errors import InvalidParameterError


def _check_choice(owner: str, name: str, value: object, choices: tuple[object, ...]) -> None:
    if value not in choices:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be among {choices}. Got {value!r} instead."
        )


def _check_range(owner: str, name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be in [{low}, {high}]. Got {value!r} instead."
        )


PruneGranularity = Literal["global", "field", "value"]
PRUNE_GRANULARITIES: tuple[str, ...] = get_args(PruneGranularity)


@dataclass(frozen=True)
class PruneSpec:
    """PEP: embeddings soft-thresholded by a learnable threshold, ``sign(v) * relu(|v| - g(s))``.

    ``g`` is the sigmoid; ``s`` is learned with the model, one scalar for every table
    (``global``), per field (``field``) or per value (``value``: one per embedding row). Values
    under the threshold are exactly 0, so the non-zero embedding parameters after training are a
    measured size (``Cost.embedding_nonzero``).

    Attributes:
        granularity: What one threshold covers.
        init: Initial ``s``; ``g(init)`` is the initial threshold (embeddings start with
            standard deviation 0.01, so ``init`` near ``log(0.01) = -4.6`` prunes a share from
            the start and lower values start dense).

    Example:
        >>> PruneSpec("field", init=-6.0).granularity
        'field'
    """

    granularity: PruneGranularity = "field"
    init: float = -6.0

    def __post_init__(self) -> None:
        _check_choice("PruneSpec", "granularity", self.granularity, PRUNE_GRANULARITIES)


NumericRepresentation = Literal["dense", "field", "bucket", "autodis"]
NUMERIC_REPRESENTATIONS: tuple[str, ...] = get_args(NumericRepresentation)
Bucketing = Literal["quantile", "log"]
BUCKETINGS: tuple[str, ...] = get_args(Bucketing)
AUTODIS_SKIP = 0.1
"""AutoDis's skip factor ``alpha`` (fixed; the paper's default range is around 0.1)."""


@dataclass(frozen=True)
class NumericEmbedding:
    """How one numeric field enters the model (AutoDis).

    ``dense``: only as a dense input (the linear term, the MLP and the blocks' dense input).
    The others embed the value at the interaction width instead (it then takes part in every
    interaction like a sparse field, appended after them): ``field``: the value times a learned
    vector; ``bucket``: the embedding of its bucket among ``buckets`` cut at equal-frequency
    training quantiles (``quantile``) or equally spaced in ``sign(x) log(1 + |x|)`` (``log``;
    ties between quantiles merge buckets); ``autodis``: ``meta`` meta-embeddings mixed by
    ``softmax((W h + alpha h) / temperature)`` with ``h = LeakyReLU(w x)``.

    Example:
        >>> NumericEmbedding("price", "autodis", meta=8, temperature=0.5).representation
        'autodis'
    """

    field: str
    representation: NumericRepresentation = "dense"
    buckets: int = 16
    bucketing: Bucketing = "quantile"
    meta: int = 16
    temperature: float = 1.0

    def __post_init__(self) -> None:
        _check_choice(
            "NumericEmbedding", "representation", self.representation, NUMERIC_REPRESENTATIONS
        )
        _check_choice("NumericEmbedding", "bucketing", self.bucketing, BUCKETINGS)
        if self.buckets < 2 or self.meta < 1 or not self.temperature > 0:
            raise InvalidParameterError(
                "NumericEmbedding needs buckets >= 2, meta >= 1 and temperature > 0. Got "
                f"buckets={self.buckets!r}, meta={self.meta!r}, temperature={self.temperature!r}."
            )


SequenceNorm = Literal["layer", "none"]
SEQUENCE_NORMS: tuple[str, ...] = get_args(SequenceNorm)
SequenceOp = Literal["conv", "gru", "pool", "attention", "zero"]
SEQUENCE_OPS: tuple[str, ...] = get_args(SequenceOp)
SequenceActivation = Literal["relu", "gelu", "swish", "identity"]
SEQUENCE_ACTIVATIONS: tuple[str, ...] = get_args(SequenceActivation)
SequenceOutput = Literal["average", "target", "last"]
SEQUENCE_OUTPUTS: tuple[str, ...] = get_args(SequenceOutput)


@dataclass(frozen=True)
class SequenceLayer:
    """One layer of a behaviour encoder: ``x + activation(op(norm(x)))``, padding kept at 0.

    ``op``: ``conv`` (1D convolution over time, 3 steps wide), ``gru`` (a GRU), ``pool``
    (average over 3 neighbouring steps), ``attention`` (single-head self-attention over the
    history) or ``zero`` (nothing: the layer passes its input on).

    Example:
        >>> SequenceLayer("layer", "attention", "gelu").op
        'attention'
    """

    norm: SequenceNorm = "none"
    op: SequenceOp = "conv"
    activation: SequenceActivation = "relu"

    def __post_init__(self) -> None:
        _check_choice("SequenceLayer", "norm", self.norm, SEQUENCE_NORMS)
        _check_choice("SequenceLayer", "op", self.op, SEQUENCE_OPS)
        _check_choice("SequenceLayer", "activation", self.activation, SEQUENCE_ACTIVATIONS)


@dataclass(frozen=True)
class BehaviourSpec:
    """Encoders of the sequence (behaviour history) fields, one per field, same architecture.

    Each history's items are embedded at the interaction width (a table of its own), run
    through ``layers`` and summarised into one vector by ``output``: ``average`` (over the
    items present), ``last`` (the most recent item) or ``target`` (attention whose query is a
    learned projection of the row's other embeddings, so the candidate item weighs the history;
    DIN-style). The vector joins the embedding views after the sparse and numeric fields.

    Example:
        >>> BehaviourSpec((SequenceLayer(op="gru"),), output="target").output
        'target'
    """

    layers: tuple[SequenceLayer, ...] = ()
    output: SequenceOutput = "average"

    def __post_init__(self) -> None:
        _check_choice("BehaviourSpec", "output", self.output, SEQUENCE_OUTPUTS)


HeadActivation = Literal["relu", "swish", "identity", "dice"]
HEAD_ACTIVATIONS: tuple[str, ...] = get_args(HeadActivation)
"""Activations of the head's hidden layers; ``dice`` is DIN's data-adaptive activation
``p * x + (1 - p) * alpha * x`` with ``p = sigmoid(batch-normalised x)`` and ``alpha`` learned."""


FineTunePart = Literal["linear", "interaction", "blocks", "behaviour", "mlp"]
FINE_TUNE_PARTS: tuple[str, ...] = get_args(FineTunePart)


@dataclass(frozen=True)
class FineTuneSpec:
    """AutoFT: what stays as pre-trained when a model is fine-tuned on a target domain.

    The model starts from a pre-trained state (given to the trainer, never named here) of the
    same spec and schema; the embedding rows of ``frozen_fields`` and every parameter of
    ``frozen_parts`` (``linear``: the first-order term; ``interaction``: pair, group and graph
    interactions; ``blocks``; ``behaviour``: sequence encoders; ``mlp``: the head) keep their
    pre-trained values.

    Example:
        >>> FineTuneSpec(frozen_fields=("user_id",), frozen_parts=("mlp",)).frozen_parts
        ('mlp',)
    """

    frozen_fields: tuple[str, ...] = ()
    frozen_parts: tuple[FineTunePart, ...] = ()

    def __post_init__(self) -> None:
        for part in self.frozen_parts:
            _check_choice("FineTuneSpec", "frozen_parts", part, FINE_TUNE_PARTS)
