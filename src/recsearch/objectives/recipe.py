"""The training recipe: how a budget becomes optimizer steps, a batch size and a learning rate.

A budget names how much data a trial may see (epochs, rows or steps); the recipe turns it into
a plan that trains properly at every data size:

- **Minimum steps.** A trial takes at least :attr:`Recipe.min_steps` optimizer steps. When the
  budget's rows at the spec's batch size would give fewer, the batch shrinks (to a power of two,
  never below :attr:`Recipe.min_batch`); when even the smallest batch gives fewer, the trial trains
  past its budget until it has taken them. ``TrainResult.epochs_run`` (and the ``epochs`` user
  attribute) count what was actually trained.
- **Learning rate from the data size.** ``TrainingSpec.lr=None`` (the default) means
  ``BASE_LR[optimizer] * clip(sqrt(REFERENCE_ROWS / n_train), 1, MAX_LR_FACTOR)``: Adam at 1e-3 on
  a million training rows or more, up to 1e-2 on a few thousand, where every embedding row is seen
  a few times only. A learning rate the spec (or the space) sets is used as it is.
- **Evaluations.** Every ``eval_every`` epochs of the budget, and at the end. When the recipe
  extends training, the spacing stretches by the same factor, so a budget reports as many times
  as it names: a pruner's resource (the evaluation index) means the same at every data size.
- **No schedule.** The learning rate is constant, so a shorter budget trains exactly the first
  part of a longer one (Hyperband's continued runs and fidelity studies rely on it).
- **The fidelity resource.** ``fidelity="epochs"`` (the default): a Hyperband pruner sees the
  evaluations of one continuing training (resource = evaluation index). ``fidelity="rows"``:
  successive halving on data size. A trial trains rung by rung, each rung a fresh training of
  the full budget on a seeded subsample of :attr:`Recipe.rungs` of the training rows (the same
  subsample for every trial at one rung, nested: each is a prefix of one seeded permutation).
  After each rung the trial reports its validation metric at step ``rungs[k] / rungs[0]``
  (1, 3, 9: the resource in units of the smallest rung); a Hyperband pruner (Optuna's defaults:
  ``min_resource=1``, ``max_resource="auto"``, ``reduction_factor=3``) stops it there or promotes
  it to the next, larger subsample. A trial starts on the first rung at which its Hyperband
  bracket decides (bracket ``s`` at step ``3**s``; the last bracket trains the full data only,
  as does every trial before Hyperband has its brackets), so no rung is trained for nothing.
  On a subsample the minimum steps scale with its fraction (a ninth of the rows never costs a
  whole trial's 100 steps). Its cost, in epoch-equivalents of the full data, is the sum over
  the rungs it trained of epochs times the rung's fraction. A promoted trial is retrained, not
  continued, so it costs ``1 + 1/3 + 1/9`` of a full trial, and Hyperband's hedging brackets
  (which start trials on 1/3 or on all the rows) cost more than they save at the budgets of a
  search: a study's Hyperband strategy (``hyperband``, ``bohb``, ``smac-hb``) prunes by
  successive halving from the smallest rung (:attr:`Recipe.halving` ``"successive"``: Optuna's
  ``SuccessiveHalvingPruner`` with the strategy's ``min_resource`` and ``reduction_factor``);
  ``"hyperband"`` keeps its brackets.

The resolved recipe (:meth:`Recipe.to_dict`) belongs to a study's identity: a resumed study
never mixes recipes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal

from recsearch.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from recsearch.spec import TrainingSpec

__all__ = ["BASE_LR", "Budget", "Plan", "Recipe", "default_lr", "plan"]

BASE_LR: dict[str, float] = {"adam": 1e-3, "adagrad": 1e-2, "sgd": 1e-2}
"""Learning rate of each optimizer on :data:`REFERENCE_ROWS` training rows or more."""
REFERENCE_ROWS = 1_000_000
MAX_LR_FACTOR = 10.0


def default_lr(optimizer: str, n_train: int) -> float:
    """The recipe's learning rate for ``optimizer`` on ``n_train`` training rows.

    Example:
        >>> default_lr("adam", 2_000_000), default_lr("adam", 10_000)
        (0.001, 0.01)
    """
    factor = math.sqrt(REFERENCE_ROWS / max(int(n_train), 1))
    return BASE_LR[optimizer] * min(max(factor, 1.0), MAX_LR_FACTOR)


def _check_count(owner: str, name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an int >= {minimum}. "
            f"Got {value!r} instead."
        )


@dataclass(frozen=True)
class Recipe:
    """The rules that turn a budget into optimizer steps (see the module docstring).

    Attributes:
        min_steps: Optimizer steps a trial takes at least; 0 turns the rule off.
        min_batch: Smallest batch the minimum-steps rule shrinks to.
        fidelity: The multi-fidelity resource: ``epochs`` or ``rows`` (module docstring).
        rungs: Training-row fractions of the ``rows`` fidelity, increasing, the last 1.
        halving: How a study prunes on the ``rows`` fidelity (module docstring):
            ``successive`` replaces a Hyperband strategy's pruner by successive halving from
            the smallest rung; ``hyperband`` keeps its brackets.

    Example:
        >>> Recipe().to_dict() == Recipe.from_dict(Recipe().to_dict()).to_dict()
        True
    """

    min_steps: int = 100
    min_batch: int = 32
    fidelity: Literal["epochs", "rows"] = "epochs"
    rungs: tuple[float, ...] = (1 / 9, 1 / 3, 1.0)
    halving: Literal["successive", "hyperband"] = "successive"

    def __post_init__(self) -> None:
        _check_count("Recipe", "min_steps", self.min_steps, 0)
        _check_count("Recipe", "min_batch", self.min_batch, 1)
        for name, allowed in (("fidelity", ("epochs", "rows")),
                              ("halving", ("successive", "hyperband"))):  # fmt: skip
            if getattr(self, name) not in allowed:
                raise InvalidParameterError(
                    f"The {name!r} parameter of Recipe must be a str among {allowed}. "
                    f"Got {getattr(self, name)!r} instead."
                )
        rungs = tuple(float(r) for r in self.rungs)
        ordered = all(a < b for a, b in zip(rungs, rungs[1:], strict=False))
        if not rungs or not ordered or rungs[0] <= 0 or rungs[-1] != 1.0:
            raise InvalidParameterError(
                "The 'rungs' parameter of Recipe must be increasing fractions in (0, 1] ending "
                f"with 1. Got {self.rungs!r} instead."
            )
        object.__setattr__(self, "rungs", rungs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (the learning-rate rule's constants; halving on rows only)."""
        out: dict[str, Any] = dataclasses.asdict(self)
        out["rungs"] = list(self.rungs)
        if self.fidelity != "rows":
            del out["halving"]  # NOTE: moot on epochs; epochs studies keep their identity
        out["lr_rule"] = {"base": dict(BASE_LR), "reference_rows": REFERENCE_ROWS,
                          "max_factor": MAX_LR_FACTOR}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipe:
        """The inverse of :meth:`to_dict` (the learning-rate rule is the code's)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in data.items() if k in names}
        if "rungs" in kept:
            kept["rungs"] = tuple(kept["rungs"])
        return cls(**kept)


def _check_amount(name: str, value: Any, *, integer: bool = False) -> None:
    if value is None:
        return
    bad = isinstance(value, bool) or not isinstance(value, int | float)
    if not bad and integer and not float(value).is_integer():
        bad = True
    if bad or not math.isfinite(value) or not value > 0:
        kind = "a finite integer" if integer else "a finite number"
        raise InvalidParameterError(
            f"The {name!r} parameter of Budget must be {kind} > 0. Got {value!r} instead."
        )


@dataclass(frozen=True)
class Budget:
    """How much training a call may spend, and the recipe that spends it.

    Attributes:
        epochs: Passes over the training rows (fractional allowed); replaces
            ``spec.training.epochs`` when given.
        rows: Training rows to process at most (a fidelity in rows rather than epochs).
        steps: Optimizer steps to take at most; also lowers the recipe's minimum to it.
        eval_every: Epochs of the budget between evaluations (``0.25``: four reports an epoch).
        recipe: Minimum steps and the smallest batch (:class:`Recipe`).

    Example:
        >>> Budget(epochs=0.5, eval_every=0.25).eval_every
        0.25
    """

    epochs: float | None = None
    rows: int | None = None
    steps: int | None = None
    eval_every: float = 1.0
    recipe: Recipe = field(default_factory=Recipe)

    def __post_init__(self) -> None:
        _check_amount("epochs", self.epochs)
        _check_amount("rows", self.rows, integer=True)
        _check_amount("steps", self.steps, integer=True)
        _check_amount("eval_every", self.eval_every)
        if not isinstance(self.recipe, Recipe):
            raise InvalidParameterError(
                f"The 'recipe' parameter of Budget must be a Recipe. Got {self.recipe!r} instead."
            )

    def total_rows(self, training: TrainingSpec, n_train: int) -> int:
        """Rows the budget names, before the recipe.

        Its epochs (else the spec's), capped by ``rows``; ``steps`` caps later, once the batch
        size is known.
        """
        epochs = self.epochs if self.epochs is not None else training.epochs
        total = max(1, round(epochs * n_train))
        if self.rows is not None:
            total = min(total, int(self.rows))
        return total

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (for a study's settings)."""
        out = dataclasses.asdict(self)
        out["recipe"] = self.recipe.to_dict()
        return out


@dataclass(frozen=True)
class Plan:
    """A budget resolved for one spec and one training split.

    Attributes:
        batch_size: Rows per optimizer step.
        lr: Learning rate.
        total_rows: Training rows to process (the budget's, or more to reach the minimum steps).
        budget_rows: Training rows the budget named.
        eval_rows: Rows between evaluations (one more closes training).
        n_evaluations: Evaluations planned (early stopping may end training before).
        min_steps: The minimum steps applied.
    """

    batch_size: int
    lr: float
    total_rows: int
    budget_rows: int
    eval_rows: int
    n_evaluations: int
    min_steps: int

    @property
    def steps(self) -> int:
        """Optimizer steps planned."""
        return math.ceil(self.total_rows / self.batch_size)


def _pow2_floor(x: float) -> int:
    return 1 << max(int(math.floor(math.log2(max(x, 1.0)))), 0)


def plan(budget: Budget, training: TrainingSpec, n_train: int) -> Plan:
    """Resolve ``budget`` and ``training`` on ``n_train`` rows into a :class:`Plan`.

    Example:
        >>> from recsearch.spec import TrainingSpec
        >>> p = plan(Budget(epochs=1.0), TrainingSpec(batch_size=1024), 2400)
        >>> p.batch_size, p.steps >= 100, p.total_rows > 2400
        (32, True, True)
    """
    if n_train < 1:
        raise InvalidParameterError("The recipe needs at least one training row.")
    recipe = budget.recipe
    rows = budget.total_rows(training, n_train)
    batch = int(training.batch_size)
    if budget.steps is not None:
        rows = min(rows, int(budget.steps) * batch)
    floor = recipe.min_steps if budget.steps is None else min(recipe.min_steps, int(budget.steps))
    total = rows
    if floor and math.ceil(rows / batch) < floor:
        batch = max(min(batch, _pow2_floor(rows / floor)), min(recipe.min_batch, batch))
        total = max(rows, floor * batch)
    eval_rows = max(1, round(budget.eval_every * n_train * total / rows))
    n_evals = math.ceil(total / eval_rows)
    lr = training.lr if training.lr is not None else default_lr(training.optimizer, n_train)
    return Plan(batch, float(lr), total, rows, eval_rows, n_evals, floor)
