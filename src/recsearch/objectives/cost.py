"""Cost measures of a model: parameters, embedding bytes, analytic FLOPs and inference latency.

:func:`static_cost` needs only the spec and the schema (no torch, nothing built or trained), so
strategies and the wiring can weigh model size cheaply; the trainer adds the measured latency.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from recsearch.objectives._plan import model_plan

if TYPE_CHECKING:
    import torch

    from recsearch.data.schema import Schema
    from recsearch.objectives.embeddings import Batch
    from recsearch.spec import ModelSpec

OPTIMIZER_STATES = {"adam": 2, "adagrad": 1, "sgd": 1}
"""Float tensors an optimizer keeps per parameter (SGD: the momentum buffer)."""


@dataclass(frozen=True)
class Cost:
    """Size and speed of one model.

    Attributes:
        params: Number of trainable parameters.
        embedding_bytes: Bytes of the embedding tables and first-order weights (float32).
        flops_per_sample: Analytic floating-point operations of one forward pass per row.
        latency_ms_per_1000: Measured inference time of 1,000 rows in milliseconds (``nan``
            when not measured).
        embedding_nonzero: Measured non-zero entries of the embedding tables as the trained
            model reads them (PEP prunes to exact zeros); ``nan`` when not measured.

    Example:
        >>> Cost(params=10, embedding_bytes=40, flops_per_sample=20).latency_ms_per_1000
        nan
    """

    params: int
    embedding_bytes: int
    flops_per_sample: int
    latency_ms_per_1000: float = math.nan
    embedding_nonzero: float = math.nan

    def as_dict(self) -> dict[str, float]:
        """The measures under the ``cost.*`` names of :mod:`recsearch.hooks`."""
        return {
            "params": float(self.params),
            "embedding_bytes": float(self.embedding_bytes),
            "flops": float(self.flops_per_sample),
            "latency_ms": float(self.latency_ms_per_1000),
            "embedding_nonzero": float(self.embedding_nonzero),
        }


def static_cost(spec: ModelSpec, schema: Schema) -> Cost:
    """Parameters, embedding bytes and FLOPs of ``spec`` on ``schema`` without building it.

    Raises:
        InvalidParameterError: The spec does not fit the schema.

    Example:
        >>> static_cost(baseline("deepfm"), schema).params  # doctest: +SKIP
        123456
    """
    plan = model_plan(spec, schema)
    return Cost(plan.params, plan.embedding_bytes, plan.flops)


def training_bytes(spec: ModelSpec, schema: Schema) -> int:
    """Estimated bytes the embedding tables need while training (weights, gradients, optimizer).

    Example:
        >>> training_bytes(baseline("fm"), schema)  # doctest: +SKIP
        1638400
    """
    states = OPTIMIZER_STATES[spec.training.optimizer]
    if spec.training.optimizer == "sgd" and spec.training.momentum == 0:
        states = 0
    return model_plan(spec, schema).embedding_bytes * (2 + states)


def parameter_count(model: torch.nn.Module) -> int:
    """Number of parameters of a built model (frozen ones included: they are part of its size)."""
    return sum(p.numel() for p in model.parameters())


def nonzero_embedding_params(model: torch.nn.Module) -> int:
    """Non-zero entries of a built model's embedding tables as it reads them (PEP: pruned).

    Example:
        >>> nonzero_embedding_params(build_model(baseline("fm"), schema))  # doctest: +SKIP
        6400
    """
    return int(sum(int((t != 0).sum()) for t in model.embeddings.effective_tables()))


def measure_latency(model: torch.nn.Module, batch: Batch, *, repeats: int = 5) -> float:
    """Median inference time of ``batch`` in milliseconds per 1,000 rows (eval mode, no grad).

    Example:
        >>> measure_latency(model, batch)  # doctest: +SKIP
        1.9
    """
    import torch

    rows = next(v for v in batch.values() if isinstance(v, torch.Tensor)).shape[0]
    if rows == 0:
        return math.nan
    was_training = model.training
    model.eval()
    times = []
    with torch.inference_mode():
        model(batch)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            out = model(batch)["logit"]
            if out.is_cuda:
                torch.cuda.synchronize(out.device)
            times.append(time.perf_counter() - start)
    model.train(was_training)
    return statistics.median(times) * 1000.0 * 1000.0 / rows
