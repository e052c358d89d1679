"""``autodim-oneshot``: soft weights over each field's candidate dimensions (AutoDim, Zhao et al.).

Every field ``f`` embeds at the largest candidate ``D`` of its ``emb.<f>`` hyperparameter, and
candidate ``d`` is its first ``d`` coordinates (weight sharing, :class:`MixedEmbeddings`): the
field's vector is the embedding times a soft mask made of ``w_f = gumbel_softmax(alpha_f, tau)``;
candidate 0 masks everything (the field is dropped). The rest of the model is the space's default
configuration with every field at ``D``.

Training is bi-level, first order (DARTS): each training batch updates the model weights, then a
validation batch updates the architecture weights ``alpha`` (Adam), so a field that only fits noise
of the training rows loses weight. The first ``warmup`` share of the steps trains the weights alone
(untrained embeddings would make every width look useless); ``tau`` then falls geometrically from
``tau_start`` to ``tau_end``. The derived configuration gives each field its ``argmax alpha``
candidate; the alternative rounds each field's expected dimension under ``softmax(alpha)`` to the
nearest candidate. Every hyperparameter that is not an ``emb.<field>`` stays at its default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from ConfigSpace import ConfigurationSpace
from ConfigSpace import OrdinalHyperparameter
from torch import nn

from recsearch.errors import SpaceError
from recsearch.objectives.cost import static_cost
from recsearch.objectives.embeddings import EMBEDDING_INIT_STD
from recsearch.objectives.model import build_model
from recsearch.oneshot import _common as c
from recsearch.spaces import decode
from recsearch.spec import EmbeddingSpec

if TYPE_CHECKING:
    from recsearch.data.schema import Schema

NAME = "autodim-oneshot"
PRESETS = ("autodim", "aim", "full", "autoias")


class MixedEmbeddings(nn.Module):
    """Every sparse field as a soft-masked embedding of width ``D`` (weight sharing).

    Candidate ``d`` of a field is the first ``d`` coordinates of the field's ``D``-wide
    embedding, so the field's vector is ``e_f * m_f`` with the soft mask
    ``m_f[k] = sum_{d > k} w_fd``: the weight of every candidate at least ``k + 1`` wide
    (AutoDim's weight-sharing architecture; candidate 0 masks everything). Stands in for
    :class:`~recsearch.objectives.embeddings.FieldEmbeddings` in a model whose fields all have
    width ``D``: ``forward`` returns the one width group, ``stacked`` and ``flat`` read it.

    Args:
        schema: The data schema.
        candidates: The candidate dimensions (sorted; 0 allowed).
    """

    def __init__(self, schema: Schema, candidates: tuple[int, ...]) -> None:
        super().__init__()
        fields = schema.sparse
        self.n_cat = len(schema.categorical)
        self.n_fields = len(fields)
        self.candidates = candidates
        self.width = max(candidates)
        vocab = [int(f.vocab_size) for f in fields]
        offsets = np.concatenate(([0], np.cumsum(vocab)[:-1]))
        self.register_buffer("offsets", torch.as_tensor(offsets, dtype=torch.long), False)
        self.table = nn.Embedding(int(sum(vocab)), self.width)
        nn.init.normal_(self.table.weight, std=EMBEDDING_INIT_STD)
        # NOTE: covers[j, k] = 1 where candidate j is wider than coordinate k.
        covers = torch.as_tensor(
            [[1.0 if k < d else 0.0 for k in range(self.width)] for d in candidates]
        )
        self.register_buffer("covers", covers, False)
        self.alpha = nn.Parameter(torch.zeros(self.n_fields, len(candidates)))
        self.tau = 1.0
        self.hard = False

    def _gather(self, batch: c.Batch) -> torch.Tensor:
        parts = []
        if self.n_cat:
            parts.append(self.table(batch["categorical"] + self.offsets[: self.n_cat]))
        for j, ids in enumerate(batch["multi_hot"]):
            rows = self.table(ids + self.offsets[self.n_cat + j]) * (ids != 0).unsqueeze(-1)
            count = (ids != 0).sum(1, keepdim=True).clamp_min(1)
            parts.append((rows.sum(1) / count).unsqueeze(1))
        return parts[0] if len(parts) == 1 else torch.cat(parts, 1)

    def weights(self) -> torch.Tensor:
        """Candidate weights per field, ``(fields, candidates)``.

        Gumbel-softmax when training, else the one-hot argmax (``hard``) or the softmax.
        """
        if self.training:
            return F.gumbel_softmax(self.alpha, tau=self.tau, dim=1)
        if self.hard:
            return F.one_hot(self.alpha.argmax(1), len(self.candidates)).to(self.alpha.dtype)
        return torch.softmax(self.alpha, 1)

    def forward(self, batch: c.Batch) -> list[torch.Tensor]:
        """The masked field vectors as one width group: ``[(batch, fields, D)]``."""
        mask = self.weights() @ self.covers
        return [self._gather(batch) * mask.unsqueeze(0)]

    def stacked(self, per_width: list[torch.Tensor]) -> torch.Tensor:
        """``(batch, fields, D)``."""
        return per_width[0]

    def flat(self, per_width: list[torch.Tensor]) -> torch.Tensor:
        """``(batch, fields * D)``."""
        return per_width[0].reshape(per_width[0].shape[0], -1)


def _candidates(space: ConfigurationSpace, relaxed: list[str]) -> tuple[int, ...]:
    lists = {tuple(int(v) for v in space[n].sequence) for n in relaxed}
    if len(lists) != 1:
        raise SpaceError(
            f"{NAME} needs one list of candidate dimensions for every field; the space has "
            f"{sorted(lists)}."
        )
    return lists.pop()


def search(request: c.Request) -> c.OneShotResult:
    """Train the mixed-dimension supernet and derive per-field dimensions (module docstring)."""
    space, dataset, epochs, device, seed, base, options = request
    clock = c.Clock()
    schema = dataset.schema
    fields = {f"emb.{f.name}": f.name for f in schema.sparse}

    def accepts(name: str) -> bool:
        return name in fields and isinstance(space[name], OrdinalHyperparameter)

    relaxed, held = c.relaxable(space, NAME, accepts, presets=PRESETS)
    missing = [n for n in fields if n not in relaxed]
    if missing:
        raise SpaceError(
            f"{NAME} relaxes every field's dimension at once; the space has no single "
            f"dimension for {', '.join(missing)} (per-group NIS dimensions are not relaxed)."
        )
    candidates = _candidates(space, relaxed)
    if max(candidates) <= 0:
        raise SpaceError(f"{NAME}: the candidate dimensions {candidates} are all 0.")
    arch_lr = float(options.get("arch_lr", 0.05))
    tau_start = float(options.get("tau_start", 1.0))
    tau_end = float(options.get("tau_end", 0.1))
    width = max(candidates)
    supernet_config = c.configuration(space, {n: width for n in relaxed})
    spec = decode(supernet_config, schema, base=base).replace(
        embedding=EmbeddingSpec(default_dim=width)
    )
    base_spec = decode(space.get_default_configuration(), schema, base=base)
    generator = c.seeded(seed)
    model = build_model(spec, schema)
    mixed = MixedEmbeddings(schema, candidates)
    model.embeddings = mixed
    arch = torch.optim.Adam([mixed.alpha], lr=arch_lr)

    def schedule(progress: float) -> None:
        mixed.tau = tau_start * (tau_end / tau_start) ** progress

    mixed.hard = True  # NOTE: the final evaluation reads the argmax widths
    done, valid_auc = c.train_supernet(
        model, spec, dataset, device=device, epochs=epochs, generator=generator,
        arch=[mixed.alpha], arch_step=arch.step, bilevel=True,
        warmup=float(options.get("warmup", 0.3)), schedule=schedule,
    )
    alpha = mixed.alpha.detach().cpu().numpy().astype(float)
    order = [f"emb.{f.name}" for f in schema.sparse]
    configurations = _derive(space, order, alpha, candidates)
    # NOTE: supernet FLOPs: every field at D plus the mask product (D per field); the mask
    # itself is computed once per batch, not per row.
    extra = len(order) * width
    flops = static_cost(spec, schema).flops_per_sample + extra
    ratio = flops / max(static_cost(base_spec, schema).flops_per_sample, 1)
    return c.OneShotResult(
        method=NAME,
        configurations=configurations,
        weights={
            name: dict(zip(candidates, np.round(c.softmax(a), 4).tolist(), strict=True))
            for name, a in zip(order, alpha, strict=True)
        },
        held=tuple(held),
        epochs=float(done),
        flops_ratio=float(ratio),
        epoch_equivalents=float(done) * float(ratio),
        wall_seconds=clock.seconds,
        valid_auc=float(valid_auc),
        seed=seed,
        info={"dims": {n: configurations[0][n] for n in order}},
    )


def _derive(
    space: ConfigurationSpace, order: list[str], alpha: np.ndarray, candidates: tuple[int, ...]
) -> tuple[Any, ...]:
    """The argmax dimensions, then the expected dimensions rounded to candidates."""
    cands = np.asarray(candidates, dtype=float)
    picks = [cands[np.argmax(alpha, 1)]]
    expected = np.asarray([c.softmax(a) @ cands for a in alpha])
    picks.append(cands[np.abs(expected[:, None] - cands[None, :]).argmin(1)])
    out = []
    for dims in picks:
        if not np.any(dims > 0):
            # NOTE: dropping every field is forbidden; the field most sure of a size keeps it.
            f = int(np.argmax(alpha[:, 1:].max(1)))
            dims = dims.copy()
            dims[f] = cands[1 + int(np.argmax(alpha[f, 1:]))]
        config = c.configuration(space, {n: int(d) for n, d in zip(order, dims, strict=True)})
        if config not in out:
            out.append(config)
    return tuple(out)
