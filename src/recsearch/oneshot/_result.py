"""The record a one-shot search returns (torch-free, so listings and the wiring can read it)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from ConfigSpace import Configuration


@dataclass(frozen=True)
class OneShotResult:
    """What one supernet search produced.

    Attributes:
        method: The method name (``autofis-oneshot``...).
        configurations: Derived configurations of the searched space, the method's pick first.
        weights: The learned architecture weights by hyperparameter name (per choice for a
            categorical one, one gate for a pair boolean).
        held: Hyperparameters of the space the method could not relax, held at their defaults.
        epochs: Epochs the supernet trained.
        flops_ratio: FLOPs per sample of the supernet over those of the base model (the space's
            default configuration).
        epoch_equivalents: ``epochs * flops_ratio``: what the search costs in trainings of the
            base model.
        wall_seconds: Wall time of the search.
        valid_auc: Validation AUC of the supernet at the end of the search.
        seed: The seed.
        info: Method-specific findings (``selected`` pairs, ``dims`` per field...), JSON-safe.

    Example:
        >>> result = search(space, dataset, method="autofis-oneshot")  # doctest: +SKIP
        >>> result.configurations[0]  # doctest: +SKIP
    """

    method: str
    configurations: tuple[Configuration, ...]
    weights: dict[str, Any]
    held: tuple[str, ...]
    epochs: float
    flops_ratio: float
    epoch_equivalents: float
    wall_seconds: float
    valid_auc: float
    seed: int
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> Configuration:
        """The method's own pick (the first configuration)."""
        return self.configurations[0]

    def summary(self) -> dict[str, Any]:
        """Everything but the configurations and weights, JSON-safe (for trial attributes)."""
        return {
            "method": self.method,
            "held": list(self.held),
            "epochs": self.epochs,
            "flops_ratio": self.flops_ratio,
            "epoch_equivalents": self.epoch_equivalents,
            "wall_seconds": self.wall_seconds,
            "valid_auc": self.valid_auc,
            "seed": self.seed,
            "configurations": len(self.configurations),
            "info": self.info,
        }
