"""Evaluation and model selection: validation metrics, the best state and early stopping.

:class:`Monitor` keeps the weights of the best evaluation by the monitored metric (the search
metric: ``auc`` is maximised, ``logloss`` minimised) and says when ``patience`` evaluations in a
row brought no improvement.
"""

from __future__ import annotations

import contextlib
import math
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Literal

import torch

from recsearch.objectives.batching import take
from recsearch.objectives.metrics import auc
from recsearch.objectives.metrics import logloss

if TYPE_CHECKING:
    from recsearch.objectives.batching import Tensors
    from recsearch.objectives.model import CTRModel

EVAL_BATCH_ROWS = 65536

Monitored = Literal["auc", "logloss"]


@dataclass(frozen=True)
class StepRecord:
    """One evaluation during training.

    Attributes:
        step: Epochs trained so far.
        rows: Training rows processed so far.
        train_loss: Mean training loss since the previous evaluation.
        valid_auc: Validation AUC.
        valid_logloss: Validation logloss.
        seconds: Wall time since training started.
    """

    step: float
    rows: int
    train_loss: float
    valid_auc: float
    valid_logloss: float
    seconds: float


def predict(
    model: CTRModel, data: Tensors, rows: int, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Float32 logits of the first ``rows`` rows of ``data``, in batches, without gradients.

    ``dtype``: autocast the forward pass to it (mixed precision).
    """
    outs = []
    label = data["label"]
    assert isinstance(label, torch.Tensor)
    with torch.inference_mode():
        for start in range(0, rows, EVAL_BATCH_ROWS):
            batch = take(data, slice(start, start + EVAL_BATCH_ROWS))
            with _autocast(label.device, dtype):
                outs.append(model(batch)["logit"].float())
    return torch.cat(outs) if outs else torch.zeros(0)


def _autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def evaluate(
    model: CTRModel, data: Tensors, rows: int, dtype: torch.dtype | None = None
) -> tuple[float, float]:
    """``(auc, logloss)`` of ``model`` on ``data`` (NaNs when it has no rows)."""
    if rows == 0:
        return math.nan, math.nan
    was = model.training
    model.eval()
    logits = predict(model, data, rows, dtype)
    model.train(was)
    label = data["label"]
    assert isinstance(label, torch.Tensor)
    return auc(logits, label), logloss(logits, label)


class Monitor:
    """The best evaluation so far by ``metric``, its weights, and early stopping.

    Args:
        metric: ``auc`` (higher is better) or ``logloss`` (lower is better).
        patience: Evaluations without improvement that stop training; 0 never stops.

    Example:
        >>> m = Monitor("auc", patience=1)
        >>> m.update(None, 1.0, 0.70, 0.5), m.update(None, 2.0, 0.69, 0.4), m.stop
        (True, False, True)
    """

    def __init__(self, metric: Monitored, patience: int) -> None:
        self.metric = metric
        self.patience = patience
        self.best_auc = math.nan
        self.best_logloss = math.nan
        self.best_step = 0.0
        self.bad = 0
        self.seen = False
        self._state: dict[str, torch.Tensor] | None = None

    def _better(self, value: float) -> bool:
        best = self.best_auc if self.metric == "auc" else self.best_logloss
        if math.isnan(best):
            return not math.isnan(value)
        return value > best if self.metric == "auc" else value < best

    def update(self, model: CTRModel | None, step: float, v_auc: float, v_loss: float) -> bool:
        """Record one evaluation; keep ``model``'s weights when it is the best. True if best."""
        better = self._better(v_auc if self.metric == "auc" else v_loss)
        best = better or not self.seen
        self.seen = True
        if not best:
            self.bad += 1
            return False
        self.bad = 0 if better else self.bad
        self.best_auc, self.best_logloss, self.best_step = v_auc, v_loss, step
        if model is not None:
            self._state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return True

    @property
    def stop(self) -> bool:
        """``patience`` evaluations in a row brought no improvement."""
        return self.patience > 0 and self.bad >= self.patience

    def restore(self, model: CTRModel) -> None:
        """Load the best evaluation's weights into ``model``."""
        if self._state is not None:
            model.load_state_dict(self._state)
