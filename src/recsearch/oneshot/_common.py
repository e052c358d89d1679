"""What every one-shot method shares: the result record, the relaxation check, the search loop.

A method relaxes some hyperparameters of a space into architecture weights of one supernet; every
other hyperparameter is held at the space's default. The supernet trains on the training split
(model weights) and, for bi-level methods, on validation batches (architecture weights), then
the method derives configurations of the same space from the architecture weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple

import numpy as np
import torch
from ConfigSpace import Configuration
from ConfigSpace import ConfigurationSpace

from recsearch.errors import InvalidParameterError
from recsearch.errors import SpaceError
from recsearch.objectives.metrics import auc
from recsearch.objectives.metrics import logloss
from recsearch.objectives.recipe import default_lr
from recsearch.objectives.trainer import mixture_loss
from recsearch.oneshot._result import OneShotResult

if TYPE_CHECKING:
    from recsearch.data.schema import Dataset
    from recsearch.data.schema import Split
    from recsearch.objectives.model import CTRModel
    from recsearch.spec import ModelSpec

Batch = dict[str, Any]


class Request(NamedTuple):
    """One search as :func:`recsearch.oneshot.search` hands it to a method's ``search``."""

    space: ConfigurationSpace
    dataset: Dataset
    epochs: float
    device: torch.device
    seed: int
    base: ModelSpec | None
    options: dict[str, Any]

__all__ = ["Batch", "OneShotResult", "Request"]


def relaxable(
    space: ConfigurationSpace,
    method: str,
    accepts: Callable[[str], bool],
    *,
    presets: Sequence[str],
) -> tuple[list[str], list[str]]:
    """Split ``space`` into the hyperparameters ``method`` relaxes and those it holds.

    Raises:
        SpaceError: The method relaxes nothing in ``space``; the message names the parameters.
    """
    names = list(space)
    relaxed = [n for n in names if accepts(n)]
    held = [n for n in names if n not in relaxed]
    if not relaxed:
        shown = ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")
        raise SpaceError(
            f"{method} cannot relax any hyperparameter of this space ({shown}); it relaxes "
            f"the spaces of the presets {', '.join(presets)}."
        )
    return relaxed, held


def configuration(space: ConfigurationSpace, values: dict[str, Any]) -> Configuration:
    """The space's default configuration with ``values`` replacing some of its values.

    Values that become inactive are dropped; children that become active take their defaults.
    """
    default = dict(space.get_default_configuration())
    merged = {**default, **values}
    for _ in range(len(space)):
        active = {}
        for name in space:
            if name not in merged:
                continue
            parents = space.parent_conditions_of[name]
            if all(c.satisfied_by_value(merged) for c in parents):
                active[name] = merged[name]
        for name, hp in space.items():
            if name not in active and all(
                c.satisfied_by_value(active) for c in space.parent_conditions_of[name]
            ):
                active[name] = hp.default_value
        if active == merged:
            break
        merged = active
    return Configuration(space, values=merged)


def tensors(split: Split, device: torch.device) -> Batch:
    """A split as device tensors (``categorical``, ``numeric``, ``multi_hot``, ``label``)."""
    return {
        "categorical": torch.from_numpy(split.categorical).to(device, torch.long),
        "numeric": torch.from_numpy(split.numeric).to(device, torch.float32),
        "multi_hot": [torch.from_numpy(m).to(device, torch.long) for m in split.multi_hot],
        "label": torch.from_numpy(split.label).to(device, torch.float32),
    }


def spec_lr(spec: Any, n_train: int) -> float:
    """The spec's learning rate; ``None`` is the recipe's data-size rule (issue 12)."""
    lr = spec.training.lr
    return default_lr("adam", n_train) if lr is None else float(lr)


def rows(data: Batch, index: torch.Tensor) -> Batch:
    """The rows ``index`` of every tensor of ``data``."""
    return {
        k: [m.index_select(0, index) for m in v]
        if isinstance(v, list)
        else v.index_select(0, index)
        for k, v in data.items()
    }


def batches(
    data: Batch, n: int, batch_size: int, epochs: float, generator: torch.Generator
) -> Iterator[tuple[float, Batch]]:
    """``(epochs done, batch)`` over ``epochs`` shuffled passes of ``n`` rows."""
    total = max(1, round(epochs * n))
    done = 0
    device = data["label"].device
    while done < total:
        perm = torch.randperm(n, generator=generator).to(device)
        for start in range(0, n, batch_size):
            if done >= total:
                return
            index = perm[start : min(start + batch_size, n, start + total - done)]
            done += int(index.shape[0])
            yield done / n, rows(data, index)


def cycle(data: Batch, n: int, batch_size: int, generator: torch.Generator) -> Iterator[Batch]:
    """Endless shuffled batches of ``n`` rows (the validation batches of bi-level methods)."""
    while True:
        for _, batch in batches(data, n, batch_size, 1.0, generator):
            yield batch


def evaluate(model: torch.nn.Module, data: Batch) -> tuple[float, float]:
    """Validation AUC and logloss of ``model`` on ``data`` (eval mode, no grad)."""
    was = model.training
    model.eval()
    with torch.inference_mode():
        n = int(data["label"].shape[0])
        outs = [
            model(rows(data, torch.arange(s, min(s + 65536, n), device=data["label"].device)))[
                "logit"
            ]
            for s in range(0, n, 65536)
        ]
    model.train(was)
    if not outs:
        return math.nan, math.nan
    logits = torch.cat(outs).float()
    return auc(logits, data["label"]), logloss(logits, data["label"])


def train_supernet(
    model: CTRModel,
    spec: ModelSpec,
    dataset: Dataset,
    *,
    device: torch.device,
    epochs: float,
    generator: torch.Generator,
    arch: Sequence[torch.nn.Parameter],
    arch_step: Callable[[], None],
    bilevel: bool,
    warmup: float = 0.0,
    schedule: Callable[[float], None] | None = None,
) -> tuple[float, float]:
    """Train a supernet: Adam on the model weights, ``arch_step`` on the architecture's.

    The model weights use the spec's learning rate; ``arch`` are the architecture weights.

    One level (``bilevel=False``, AutoFIS): ``arch`` takes its gradient from the training batch.
    Bi-level, first order (DARTS): after each training step a validation batch gives ``arch`` its
    gradient; the first ``warmup`` share of the steps leaves ``arch`` alone. ``schedule`` is
    called before each step with the share of the architecture steps done (a temperature).

    Returns:
        The epochs trained and the supernet's validation AUC at the end (eval mode).
    """
    check_rows(dataset)
    skip = {id(p) for p in arch}
    params = [p for p in model.parameters() if id(p) not in skip and p.requires_grad]
    weights = torch.optim.Adam(params, lr=spec_lr(spec, len(dataset.train)))
    model.to(device)
    model.train()
    train = tensors(dataset.train, device)
    valid = tensors(dataset.valid, device)
    n = len(dataset.train)
    bs = spec.training.batch_size
    steps = max(1, math.ceil(epochs * n / bs))
    first = int(warmup * steps) if bilevel else 0
    held_out = cycle(valid, len(dataset.valid), bs, generator)
    done = 0.0
    for step, (progress, batch) in enumerate(batches(train, n, bs, epochs, generator)):
        done = progress
        if schedule is not None:
            schedule(max(0, step - first) / max(1, steps - first - 1))
        if int(batch["label"].shape[0]) < 2:
            continue  # NOTE: batch norm needs two rows
        loss = mixture_loss(model(batch)["logit"], batch["label"], spec.loss)
        weights.zero_grad(set_to_none=True)
        for p in arch:
            p.grad = None
        loss.backward()
        weights.step()
        if not bilevel:
            arch_step()
            continue
        v = next(held_out)
        if step < first or int(v["label"].shape[0]) < 2:
            continue
        for p in arch:
            p.grad = None
        mixture_loss(model(v)["logit"], v["label"], spec.loss).backward()
        arch_step()
    return float(done), evaluate(model, valid)[0]


def softmax(a: np.ndarray) -> np.ndarray:
    """The softmax of a vector."""
    e = np.exp(a - a.max())
    return e / e.sum()


class Clock:
    """Wall time since construction."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        """Seconds since construction."""
        return time.perf_counter() - self.start


class Supernet(NamedTuple):
    """The relaxed model of a one-shot search, its spec and the space's base spec."""

    spec: Any
    base_spec: Any
    generator: torch.Generator
    model: Any


def supernet(
    space: ConfigurationSpace, values: dict[str, Any], schema: Any, *, base: Any, seed: int
) -> Supernet:
    """Decode ``values`` (relaxed parameters all on) and the base; seed torch; build the model."""
    from recsearch.objectives.model import build_model
    from recsearch.spaces import decode

    spec = decode(configuration(space, values), schema, base=base)
    base_spec = decode(space.get_default_configuration(), schema, base=base)
    generator = seeded(seed)
    return Supernet(spec, base_spec, generator, build_model(spec, schema))


def seeded(seed: int) -> torch.Generator:
    """Seed torch's global state (initialisation) and return a generator for shuffling."""
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    return torch.Generator().manual_seed(seed)


def check_rows(dataset: Dataset) -> None:
    """Refuse a data set without training or validation rows."""
    if len(dataset.train) == 0 or len(dataset.valid) == 0:
        raise InvalidParameterError(
            f"one-shot search needs training and validation rows; {dataset.name!r} has "
            f"{len(dataset.train)} and {len(dataset.valid)}."
        )
