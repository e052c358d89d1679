"""Batching: splits as device tensors, and the stream of training batches of one trial.

A split moves to the device once (:func:`to_device`). Each epoch draws one permutation,
reorders the training tensors with it once, and slices batches from the reordered copies: no
per-sample Python and no host-to-device copy per batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from recsearch.data.schema import Split

Tensors = dict[str, "torch.Tensor | list[torch.Tensor]"]
"""A split on the device: ``categorical``, ``numeric``, ``multi_hot`` and ``sequence`` (lists)
and ``label``."""


def to_device(split: Split, device: torch.device) -> Tensors:
    """The arrays of ``split`` as tensors on ``device`` (one copy per array)."""
    return {
        "categorical": torch.from_numpy(split.categorical).to(device, torch.long),
        "numeric": torch.from_numpy(split.numeric).to(device, torch.float32),
        "multi_hot": [torch.from_numpy(m).to(device, torch.long) for m in split.multi_hot],
        "sequence": [torch.from_numpy(m).to(device, torch.long) for m in split.sequence],
        "label": torch.from_numpy(split.label).to(device, torch.float32),
    }


def take(data: Tensors, index: torch.Tensor | slice) -> Tensors:
    """Rows ``index`` (a slice: views; a tensor of row numbers: copies) of every tensor."""
    if isinstance(index, slice):
        return {
            k: [m[index] for m in v] if isinstance(v, list) else v[index]
            for k, v in data.items()
        }
    return {
        k: [m.index_select(0, index) for m in v]
        if isinstance(v, list)
        else v.index_select(0, index)
        for k, v in data.items()
    }


@dataclass(frozen=True)
class Step:
    """One slice of the training stream.

    Attributes:
        batch: The rows to train on; ``None`` for a one-row tail a batch-normalised model
            cannot train on (the rows still count).
        rows: Training rows processed so far, this slice included.
        evaluate: An evaluation is due after this slice.
    """

    batch: Tensors | None
    rows: int
    evaluate: bool


def stream(
    data: Tensors,
    n: int,
    *,
    batch_size: int,
    total: int,
    eval_rows: int,
    generator: torch.Generator,
    drop_single: bool = False,
) -> Iterator[Step]:
    """Batches of up to ``batch_size`` rows until ``total`` rows, none across an evaluation.

    An evaluation is due every ``eval_rows`` rows and after the last slice; a batch never
    spans an epoch's end or an evaluation point.
    """
    done = 0
    next_eval = eval_rows
    while done < total:
        perm = torch.randperm(n, generator=generator)
        label = data["label"]
        assert isinstance(label, torch.Tensor)
        epoch = take(data, perm.to(label.device))
        pos = 0
        while pos < n and done < total:
            end = min(pos + batch_size, n, pos + (total - done), pos + (next_eval - done))
            keep = not (drop_single and end - pos < 2)
            batch = take(epoch, slice(pos, end)) if keep else None
            done += end - pos
            pos = end
            due = done >= next_eval or done >= total
            if due:
                next_eval = done + eval_rows
            yield Step(batch, done, due)
