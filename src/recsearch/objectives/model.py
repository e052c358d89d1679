"""A CTR model assembled from a :class:`recsearch.spec.ModelSpec`: a thin composition of parts."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from recsearch.blocktypes import KINDS
from recsearch.errors import InvalidParameterError
from recsearch.objectives._plan import ModelPlan
from recsearch.objectives._plan import model_plan
from recsearch.objectives._plan import unconsumed
from recsearch.objectives.blocks import Block
from recsearch.objectives.embeddings import Batch
from recsearch.objectives.embeddings import FieldEmbeddings
from recsearch.objectives.embeddings import LinearTerm
from recsearch.objectives.graph import GraphInteraction
from recsearch.objectives.interactions import GroupInteractions
from recsearch.objectives.interactions import PairInteractions
from recsearch.objectives.interactions import fm_interaction
from recsearch.objectives.numeric import NumericEmbeddings
from recsearch.objectives.sequence import SequenceEncoders

if TYPE_CHECKING:
    from recsearch.data.schema import Schema
    from recsearch.spec import FineTuneSpec
    from recsearch.spec import HeadSpec
    from recsearch.spec import ModelSpec


class Dice(nn.Module):
    """DIN's Dice: ``p * x + (1 - p) * alpha * x``, ``p = sigmoid(batch-normalised x)``.

    Example:
        >>> Dice(3)(torch.randn(4, 3)).shape
        torch.Size([4, 3])
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(width, affine=False)
        self.alpha = nn.Parameter(torch.zeros(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same shape as ``x``."""
        p = torch.sigmoid(self.norm(x))
        return p * x + (1 - p) * self.alpha * x


def _activation(name: str, width: int) -> nn.Module:
    if name == "dice":
        return Dice(width)
    return {"relu": nn.ReLU, "swish": nn.SiLU, "identity": nn.Identity}[name]()


class Head(nn.Module):
    """The MLP on top: hidden layers (batch norm, activation, dropout), then one output unit.

    Args:
        width: Input width.
        spec: The head spec.
        widths: Hidden widths (``spec.resolved_widths(width)`` when not given).

    Example:
        >>> from recsearch.spec import HeadSpec
        >>> Head(10, HeadSpec(widths=(8,)))(torch.randn(4, 10)).shape
        torch.Size([4])
    """

    def __init__(self, width: int, spec: HeadSpec, widths: tuple[int, ...] | None = None) -> None:
        super().__init__()
        widths = spec.resolved_widths(width) if widths is None else widths
        acts = spec.activations or ("relu",) * len(widths)
        mods: list[nn.Module] = []
        for w, act in zip(widths, acts, strict=True):
            mods.append(nn.Linear(width, w))
            if spec.batch_norm:
                mods.append(nn.BatchNorm1d(w))
            mods.append(_activation(act, w))
            if spec.dropout > 0:
                mods.append(nn.Dropout(spec.dropout))
            width = w
        mods.append(nn.Linear(width, 1, bias=False))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch,)``."""
        return self.net(x).squeeze(-1)


def _cat(parts: list[torch.Tensor], extra: torch.Tensor | None) -> torch.Tensor | None:
    """``parts`` (and ``extra``) concatenated along axis 1; ``None`` when there is nothing."""
    if extra is not None:
        parts = [*parts, extra]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else torch.cat(parts, 1)


class CTRModel(nn.Module):
    """``logit = bias + linear + interactions + head(blocks)`` over the parts the spec has.

    Args:
        spec: The model spec.
        schema: The data schema.

    Example:
        >>> model = CTRModel(baseline("deepfm"), dataset.schema)  # doctest: +SKIP
        >>> model(batch)["logit"].shape  # doctest: +SKIP
        torch.Size([4096])
    """

    def __init__(self, spec: ModelSpec, schema: Schema) -> None:
        super().__init__()
        plan = model_plan(spec, schema)
        self.spec = spec
        self.plan: ModelPlan = plan
        emb = plan.embedding
        self.embeddings = FieldEmbeddings(
            emb, schema, stacked=plan.needs_stacked, prune=spec.embedding.prune
        )
        self.bias = nn.Parameter(torch.zeros(1))
        self.linear = (
            LinearTerm(emb, n_categorical=len(schema.categorical), n_dense=plan.n_dense)
            if spec.linear
            else None
        )
        inter = spec.interaction
        self.fm = inter is not None and inter.pairs is None and emb.n_fields >= 2
        self.pairs = PairInteractions(plan.pairs, dim=emb.common_dim) if plan.pairs else None
        self.groups = (
            GroupInteractions(plan.groups, n_fields=emb.n_fields) if plan.groups else None
        )
        self.graph = (
            GraphInteraction(plan.graph, n_fields=emb.n_fields, dim=emb.common_dim)
            if plan.graph
            else None
        )
        self.blocks = nn.ModuleList(
            Block(b, plan.blocks[i], plan.blocks[:i], n_dense=plan.n_dense, dim=emb.common_dim)
            for i, b in enumerate(spec.blocks)
        )
        self.head_reads = unconsumed(spec) if spec.blocks else ()
        self.head = (
            Head(plan.head_input, spec.head, plan.head_widths) if plan.head_input else None
        )
        self.needs_flat = bool(
            (not spec.blocks and self.head is not None)
            or any(b.sparse_input and KINDS[b.type].view == "vector" for b in spec.blocks)
        )
        self.numeric = NumericEmbeddings(emb.numeric) if emb.numeric else None
        self.sequences = (
            SequenceEncoders(emb.sequences, spec.behaviour)
            if emb.sequences and spec.behaviour is not None
            else None
        )
        self._target = spec.behaviour is not None and spec.behaviour.output == "target"
        self.has_dense = plan.n_dense > 0
        self.has_fields = len(emb.fields) > 0
        self._select_dense = list(emb.dense_columns) != list(range(len(schema.numeric)))
        self.register_buffer(
            "dense_columns", torch.tensor(emb.dense_columns, dtype=torch.long), False
        )

    def embedding_parameters(self) -> list[nn.Parameter]:
        """The embedding tables and first-order weights (their own weight decay)."""
        params = [t.weight for t in self.embeddings.tables]
        if self.numeric is not None:
            params += self.numeric.embedding_parameters()
        if self.sequences is not None:
            params += self.sequences.embedding_parameters()
        if self.linear is not None and self.linear.weight is not None:
            params.append(self.linear.weight.weight)
        return params

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """``{"logit": (batch,)}`` for a batch of ``categorical``, ``numeric``, ``multi_hot``."""
        logit = self.bias
        numeric = batch["numeric"]
        assert isinstance(numeric, torch.Tensor)
        dense = None
        if self.has_dense:
            dense = numeric.index_select(1, self.dense_columns) if self._select_dense else numeric
        per_width = self.embeddings(batch) if self.has_fields else []
        num = self.numeric(numeric) if self.numeric is not None else None
        sparse_flat = None
        if per_width and (self.needs_flat or self._target):
            sparse_flat = self.embeddings.flat(per_width)
        if self.sequences is not None:
            seq = batch["sequence"]
            assert isinstance(seq, list)
            encoded = self.sequences(seq, sparse_flat)
            num = encoded if num is None else torch.cat((num, encoded), 1)
        stacked = flat = None
        if self.plan.needs_stacked:
            stacked = _cat([self.embeddings.stacked(per_width)] if per_width else [], num)
        if self.needs_flat:
            flat = _cat([sparse_flat] if sparse_flat is not None else [],
                        None if num is None else num.flatten(1))
        if self.linear is not None:
            logit = logit + self.linear(batch, dense)
        if self.fm:
            assert stacked is not None
            logit = logit + fm_interaction(stacked)
        if self.pairs is not None:
            assert stacked is not None
            logit = logit + self.pairs(stacked)
        if self.groups is not None:
            assert stacked is not None
            logit = logit + self.groups(stacked)
        if self.graph is not None:
            assert stacked is not None
            logit = logit + self.graph(stacked)
        if self.head is not None:
            if self.blocks:
                outputs: list[torch.Tensor] = []
                for block in self.blocks:
                    outputs.append(block(dense, flat, stacked, outputs))
                parts = [
                    outputs[i] if outputs[i].dim() == 2 else outputs[i].flatten(1)
                    for i in self.head_reads
                ]
            else:
                parts = [p for p in (dense, flat) if p is not None]
            x = parts[0] if len(parts) == 1 else torch.cat(parts, 1)
            logit = logit + self.head(x)
        if logit.dim() == 1 and logit.shape[0] == 1:
            n = next(v for v in batch.values() if isinstance(v, torch.Tensor)).shape[0]
            logit = logit.expand(n)
        return {"logit": logit}


def build_model(
    spec: ModelSpec,
    schema: Schema,
    *,
    pretrained: Mapping[str, torch.Tensor] | None = None,
    embedding_masks: Sequence[torch.Tensor] | None = None,
) -> CTRModel:
    """Build the torch model of ``spec`` for data of ``schema`` (on the CPU).

    Args:
        spec: The model spec.
        schema: The data schema.
        pretrained: A state dict of the same spec on a schema of the same sizes (AutoFT); the
            model starts from it, and ``spec.finetune`` says what stays frozen.
        embedding_masks: One mask per embedding table: only the entries it keeps are trained,
            the others stay 0 (PEP's retrain with the found mask, :mod:`recsearch.objectives.pep`).

    Raises:
        InvalidParameterError: The spec names fields the schema lacks or predicts from nothing,
            or ``pretrained`` does not fit (named keys and shapes).

    Example:
        >>> from recsearch.spec import baseline
        >>> model = build_model(baseline("deepfm"), dataset.schema)  # doctest: +SKIP
    """
    if spec.finetune is not None and pretrained is None:
        raise InvalidParameterError(
            "ModelSpec.finetune (the autoft space) needs a pre-trained model to start from; "
            "give its state (recsearch.objectives.model.read_state(PATH)) to the trainer or "
            "the objective (pretrained=...)."
        )
    model = CTRModel(spec, schema)
    if pretrained is not None:
        load_pretrained(model, pretrained)
    if spec.finetune is not None:
        freeze(model, spec.finetune)
    if embedding_masks is not None:
        model.embeddings.fix_masks(embedding_masks)
    return model


def read_state(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict saved with ``torch.save(model.state_dict(), path)``, loaded safely.

    ``weights_only=True``: tensors only, never an arbitrary pickle.

    Raises:
        InvalidParameterError: The file is missing or is not a state dict of tensors.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidParameterError(f"{p}: no such pre-trained model file")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is the same user error
        raise InvalidParameterError(f"{p}: not a state dict of tensors ({exc})") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InvalidParameterError(f"{p}: not a state dict of tensors")
    return state


def load_pretrained(model: CTRModel, state: Mapping[str, torch.Tensor]) -> None:
    """Copy a pre-trained state into ``model``, or name what differs.

    Raises:
        InvalidParameterError: Keys are missing or extra, or shapes differ (a pre-trained model
            of another spec, or of a schema with other fields or vocabularies).
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    shapes = [
        f"{k}: {tuple(state[k].shape)} (pre-trained) vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or extra or shapes:
        raise InvalidParameterError(
            "The pre-trained state does not fit this model (another spec, or a schema with "
            f"other fields or vocabulary sizes): missing {missing[:5]}, unexpected {extra[:5]}, "
            f"shapes {shapes[:5]}."
        )
    model.load_state_dict(dict(state))


def freeze(model: CTRModel, finetune: FineTuneSpec) -> None:
    """Keep the frozen field embeddings and parts of ``finetune`` at their current values."""
    known = {f.name for f in model.plan.embedding.fields} | set(model.plan.embedding.dropped)
    unknown = [f for f in finetune.frozen_fields if f not in known]
    if unknown:
        raise InvalidParameterError(
            f"FineTuneSpec freezes fields {unknown} that the schema does not embed; sparse "
            f"fields: {sorted(known)}"
        )
    model.embeddings.freeze_fields(set(finetune.frozen_fields))
    parts: dict[str, list[nn.Module | None]] = {
        "linear": [model.linear],
        "interaction": [model.pairs, model.groups, model.graph],
        "blocks": [model.blocks],
        "behaviour": [model.sequences],
        "mlp": [model.head],
    }
    for part in finetune.frozen_parts:
        for module in parts[part]:
            if module is not None:
                module.requires_grad_(False)
