"""Ranking and calibration metrics: a rank-based AUC with tie handling, and logloss from logits."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def auc(scores: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray) -> float:
    """Area under the ROC curve by the Mann-Whitney rank sum (tied scores get average ranks).

    Runs on whatever device the tensors are on; ``nan`` when one class is missing.

    Example:
        >>> auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
        0.75
    """
    s = torch.as_tensor(scores).detach().flatten().double()
    y = torch.as_tensor(labels, device=s.device).detach().flatten().double()
    n = s.numel()
    pos = float(y.sum())
    neg = n - pos
    if pos == 0 or neg == 0:
        return math.nan
    sorted_s, order = torch.sort(s)
    _, inverse, counts = torch.unique_consecutive(
        sorted_s, return_inverse=True, return_counts=True
    )
    ends = counts.cumsum(0).double()
    avg_rank = ends - (counts.double() - 1.0) / 2.0
    rank_sum = float((avg_rank[inverse] * y[order]).sum())
    return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg)


def logloss(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean binary cross-entropy of ``sigmoid(logits)`` against ``labels`` (numerically stable).

    Example:
        >>> round(logloss(torch.zeros(4), torch.tensor([0.0, 1.0, 0.0, 1.0])), 4)
        0.6931
    """
    return float(
        F.binary_cross_entropy_with_logits(logits.double(), labels.to(logits.device).double())
    )
