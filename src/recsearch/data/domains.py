"""Two domains of one data set, for transfer between them (AutoFT).

Both domains keep the data set's schema (same fields and vocabularies), so a model trained on
the source domain loads on the target domain. A rule names a categorical field, the values
(or indices) of it that make up the source domain, and the share of the target's **training**
rows kept (a seeded subsample; its validation and test rows are all kept, so scores stay as
precise as the domain allows).

MovieLens-100K's documented rule (:data:`DOMAIN_RULES`, what ``load("movielens-100k",
domain="source" | "target")`` uses): the source domain is the ratings of male users (``gender
== "M"``, 59.5k training rows), the target domain those of female users, with a quarter of their
training rows (5.1k of 20.5k; all 2.6k validation and 2.7k test rows): a small target domain,
whose users the source never saw, where fine-tuning a source model beats training from scratch
and what to fine-tune matters.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recsearch.data.schema import Dataset
from recsearch.errors import InvalidParameterError

__all__ = ["DOMAIN_RULES", "DomainRule", "domain_split", "select_domain"]


@dataclass(frozen=True)
class DomainRule:
    """Which rows are the source domain, and how much of the target's training data is kept.

    Attributes:
        field: A categorical field.
        source: Its raw values (looked up in the loader's vocabulary) or indices.
        target_fraction: Share of the target domain's training rows kept (seeded).
        seed: Seed of that subsample.

    Example:
        >>> DomainRule.from_value({"field": "gender", "source": ["M"]}).target_fraction
        1.0
    """

    field: str
    source: tuple[Any, ...]
    target_fraction: float = 1.0
    seed: int = 0

    @classmethod
    def from_value(cls, value: Mapping[str, Any] | DomainRule) -> DomainRule:
        """A rule from ``{"field", "source", "target_fraction"?, "seed"?}`` (``domain_rule=``)."""
        if isinstance(value, DomainRule):
            return value
        keys = {"field", "source", "target_fraction", "seed"}
        if not isinstance(value, Mapping) or not {"field", "source"} <= set(value) or set(
            value
        ) - keys:
            raise InvalidParameterError(
                "The 'domain_rule' option must be a mapping with 'field' and 'source' (and "
                f"optionally 'target_fraction', 'seed'). Got {value!r} instead."
            )
        source = value["source"]
        source = tuple(source) if isinstance(source, list | tuple) else (source,)
        return cls(str(value["field"]), source, float(value.get("target_fraction", 1.0)),
                   int(value.get("seed", 0)))  # fmt: skip


DOMAIN_RULES: dict[str, DomainRule] = {
    "movielens-100k": DomainRule("gender", ("M",), target_fraction=0.25),
}
"""The documented domain rule of each data set name (module docstring)."""


def _indices(dataset: Dataset, field: str, values: Sequence[Any]) -> list[int]:
    vocab = (dataset.info.get("encoder") or {}).get("vocabularies", {}).get(field)
    out = []
    for v in values:
        if isinstance(v, int | np.integer) and not isinstance(v, bool):
            out.append(int(v))
        elif vocab is not None and str(v) in [str(x) for x in vocab]:
            out.append([str(x) for x in vocab].index(str(v)) + 1)  # NOTE: index 0 is OOV
        else:
            known = f"; its values: {[str(x) for x in vocab][:20]}" if vocab else ""
            raise InvalidParameterError(
                f"domain rule: {v!r} is not a value of field {field!r}{known}"
            )
    return out


def domain_split(
    dataset: Dataset,
    field: str,
    *,
    source: Sequence[Any],
    target_fraction: float = 1.0,
    seed: int = 0,
) -> tuple[Dataset, Dataset]:
    """Rows whose categorical ``field`` is in ``source``, and the others.

    Args:
        dataset: The data set.
        field: A categorical field.
        source: Its values (raw, as the loader's vocabulary has them) or indices that make up
            the source domain.
        target_fraction: Share of the target's training rows kept (a seeded subsample; its
            validation and test rows are all kept).
        seed: Seed of that subsample.

    Returns:
        ``(source domain, target domain)``, each split like ``dataset``.

    Raises:
        InvalidParameterError: ``field`` is not categorical, a value is not one of its values,
            the fraction is outside (0, 1], or a domain has no training row.

    Example:
        >>> from recsearch.data.synthetic import synthetic
        >>> src, tgt = domain_split(synthetic(500, seed=0), "c7", source=(1, 2))
        >>> len(src) + len(tgt)
        500
    """
    names = [f.name for f in dataset.schema.categorical]
    if field not in names:
        raise InvalidParameterError(
            f"domain_split: {field!r} is not a categorical field; categorical fields: {names}"
        )
    if not 0 < target_fraction <= 1:
        raise InvalidParameterError(
            f"domain_split: target_fraction must be in (0, 1]. Got {target_fraction!r} instead."
        )
    column = names.index(field)
    chosen = np.asarray(_indices(dataset, field, list(source)), dtype=np.int64)
    parts = []
    for keep in (True, False):
        splits = []
        for split in (dataset.train, dataset.valid, dataset.test):
            mask = np.isin(split.categorical[:, column], chosen) == keep
            splits.append(split.take(np.flatnonzero(mask)))
        if not keep and target_fraction < 1:
            n = len(splits[0])
            rng = np.random.default_rng(seed)
            kept = np.sort(rng.permutation(n)[: max(1, round(target_fraction * n))])
            splits[0] = splits[0].take(kept)
        if len(splits[0]) == 0:
            raise InvalidParameterError(
                f"domain_split: the {'source' if keep else 'target'} domain of {field!r} in "
                f"{tuple(chosen.tolist())} has no training row."
            )
        tail = "" if keep or target_fraction == 1 else f"x{target_fraction:g}"
        name = f"{dataset.name}/{field}{'' if keep else '-not'}{tuple(chosen.tolist())}{tail}"
        parts.append(Dataset(name, dataset.schema, *splits, info=dict(dataset.info)))
    return parts[0], parts[1]


def select_domain(
    dataset: Dataset, domain: str, rule: Mapping[str, Any] | DomainRule | None = None
) -> Dataset:
    """One domain of ``dataset``: ``load(..., domain=, domain_rule=)``.

    Args:
        dataset: The loaded data set.
        domain: ``source`` or ``target``.
        rule: A :class:`DomainRule` (or its mapping); ``None``: the data set's documented rule
            (:data:`DOMAIN_RULES`).

    Raises:
        InvalidParameterError: ``domain`` is neither, or the data set has no documented rule
            and none was given.
    """
    if domain not in ("source", "target"):
        raise InvalidParameterError(
            f"The 'domain' option must be 'source' or 'target'. Got {domain!r} instead."
        )
    if rule is None:
        if dataset.name not in DOMAIN_RULES:
            raise InvalidParameterError(
                f"data set {dataset.name!r} has no documented domain rule (rules: "
                f"{sorted(DOMAIN_RULES)}); give domain_rule={{\"field\": ..., \"source\": [...]}}"
            )
        rule = DOMAIN_RULES[dataset.name]
    r = DomainRule.from_value(rule)
    pair = domain_split(dataset, r.field, source=r.source, target_fraction=r.target_fraction,
                        seed=r.seed)  # fmt: skip
    return pair[0] if domain == "source" else pair[1]
