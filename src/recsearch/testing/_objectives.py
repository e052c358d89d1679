"""A base for stand-in objectives that a study's settings can name instead of ``ctr``."""

from __future__ import annotations

from typing import Any


class StandInObjective:
    """Takes :class:`~recsearch.objectives.objective.CTRObjective`'s constructor arguments.

    The runner builds an objective named in the study settings (``module:callable``) with
    CTRObjective's signature; subclasses keep the arguments this stores and implement
    ``__call__(trial) -> float`` without training (load tests, runner and CLI tests).
    """

    def __init__(
        self,
        dataset: Any,
        space: Any,
        *,
        metric: str = "auc",
        budget: float = 1.0,
        seed: int = 0,
        hooks: tuple[Any, ...] = (),
        cost: str | None = None,
    ) -> None:
        self.dataset = dataset
        self.space = space
        self.metric = metric
        self.budget = budget
        self.seed = seed
        self.hooks = hooks
        self.cost = cost
        self.direction = "maximize"
