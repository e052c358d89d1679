"""The Optuna objective: suggest a configuration, decode it, train it, report and record it.

One call of :class:`CTRObjective` on a trial:

1. :func:`recsearch.spaces.suggest` (a forbidden configuration fails the trial at once);
2. :func:`recsearch.spaces.decode` into a :class:`~recsearch.spec.ModelSpec`;
3. :func:`recsearch.objectives.trainer.train`, whose report callback calls
   ``trial.report(value, step)`` with ``step`` the 1-based evaluation index, then
   ``trial.should_prune()`` (single-objective studies only: Optuna has no pruning for
   multi-objective studies);
4. the user attributes of :mod:`recsearch.hooks` (metrics, ``cost.*``, ``epochs``, ``spec``,
   ``failure``) and the hooks' callbacks.

A failure of any step sets the ``failure`` user attribute (``"<ErrorType>: <message>"``) and
re-raises, so Optuna records the trial as FAIL; run the study with ``catch=(Exception,)`` to go
on. A pruned trial records ``epochs`` (the epoch-equivalents it consumed) before
``optuna.TrialPruned`` propagates.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal
from typing import get_args

import numpy as np
import optuna
from ConfigSpace import Configuration
from ConfigSpace import ConfigurationSpace

from recsearch.data.schema import Dataset
from recsearch.errors import InvalidParameterError
from recsearch.hooks import COST_PREFIX
from recsearch.hooks import USER_ATTR_EPOCHS
from recsearch.hooks import USER_ATTR_FAILURE
from recsearch.hooks import USER_ATTR_FIDELITY
from recsearch.hooks import USER_ATTR_SPEC
from recsearch.hooks import ObjectiveHook
from recsearch.objectives.trainer import Budget
from recsearch.objectives.trainer import TrainResult
from recsearch.objectives.trainer import train
from recsearch.spaces import decode
from recsearch.spaces import suggest
from recsearch.spaces import to_param
from recsearch.spaces.decode import sections
from recsearch.study.failures import exception_kind
from recsearch.study.failures import record_failure

if TYPE_CHECKING:
    from recsearch.spec import ModelSpec

__all__ = ["COST_MEASURES", "DEFAULT_BUDGET", "METRICS", "CTRObjective"]

_log = logging.getLogger(__name__)

Metric = Literal["auc", "logloss"]
CostMeasure = Literal["params", "embedding_bytes", "flops", "latency_ms", "embedding_nonzero"]
METRICS: dict[str, str] = {"auc": "maximize", "logloss": "minimize"}
COST_MEASURES: tuple[str, ...] = get_args(CostMeasure)
DEFAULT_BUDGET = Budget(epochs=1.0, eval_every=0.25)
"""One epoch, evaluated (and reported to the pruner) four times."""


class CTRObjective:
    """A callable Optuna objective training the CTR model of each suggested configuration.

    Args:
        dataset: Train/valid/test splits; the metric is the validation one.
        space: The search space (a preset or composed builders).
        metric: ``auc`` (maximized) or ``logloss`` (minimized).
        budget: A trainer :class:`~recsearch.objectives.trainer.Budget` or a number of epochs;
            ``None`` means :data:`DEFAULT_BUDGET`.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        seed: Training seed (initialisation, shuffling) and the fidelity subsample seed.
        cost: A cost measure to return as a second, minimized objective (multi-objective
            study); ``None`` returns the metric alone.
        base: Spec supplying what the space does not search (see ``recsearch.spaces.decode``).
        hooks: :class:`~recsearch.hooks.ObjectiveHook` objects (trackers) told of each trial.
        memory_cap: Bytes the embedding tables may use (``None``: the trainer's default).
        pretrained: A pre-trained state every trial starts from (the ``autoft`` space; read it
            with :func:`recsearch.objectives.model.read_state`).

    Example:
        >>> from recsearch.data.synthetic import synthetic
        >>> from recsearch.spaces import preset
        >>> data = synthetic(600, seed=0)
        >>> objective = CTRObjective(data, preset("hpo", data.schema), budget=0.5, device="cpu")
        >>> study = optuna.create_study(directions=objective.directions)
        >>> study.optimize(objective, n_trials=1)  # doctest: +SKIP
    """

    def __init__(
        self,
        dataset: Dataset,
        space: ConfigurationSpace,
        *,
        metric: Metric = "auc",
        budget: Budget | float | None = None,
        device: str = "auto",
        seed: int = 0,
        cost: CostMeasure | None = None,
        base: ModelSpec | None = None,
        hooks: Sequence[ObjectiveHook] = (),
        memory_cap: int | None = None,
        pretrained: Mapping[str, Any] | None = None,
    ) -> None:
        self.dataset = dataset
        self.space = space
        self.metric = metric
        self.budget = budget
        self.device = device
        self.seed = seed
        self.cost = cost
        self.base = base
        self.hooks = hooks
        self.pretrained = pretrained
        self.memory_cap = memory_cap

    # -- configuration ---------------------------------------------------------------------
    def _check(self) -> None:
        if self.metric not in METRICS:
            raise InvalidParameterError(
                f"The 'metric' parameter of CTRObjective must be a str among {tuple(METRICS)}. "
                f"Got {self.metric!r} instead."
            )
        if self.cost is not None and self.cost not in COST_MEASURES:
            raise InvalidParameterError(
                f"The 'cost' parameter of CTRObjective must be None or a str among "
                f"{COST_MEASURES}. Got {self.cost!r} instead."
            )
        if not isinstance(self.dataset, Dataset):
            raise InvalidParameterError(
                "The 'dataset' parameter of CTRObjective must be a recsearch Dataset. "
                f"Got {type(self.dataset).__name__} instead."
            )
        if not isinstance(self.space, ConfigurationSpace):
            raise InvalidParameterError(
                "The 'space' parameter of CTRObjective must be a ConfigurationSpace. "
                f"Got {type(self.space).__name__} instead."
            )
        if self.pretrained is None and "ft" in sections(self.space):
            raise InvalidParameterError(
                "The space fine-tunes a pre-trained model (the autoft space, section 'ft'), and "
                "CTRObjective has no 'pretrained' state; pass "
                "pretrained=recsearch.objectives.model.read_state(PATH)."
            )

    @property
    def directions(self) -> list[str]:
        """Study directions: the metric's, then ``minimize`` for the cost when there is one."""
        self._check()
        dirs = [METRICS[self.metric]]
        if self.cost is not None:
            dirs.append("minimize")
        return dirs

    @property
    def direction(self) -> str:
        """The metric's direction (``maximize`` for AUC, ``minimize`` for logloss)."""
        return self.directions[0]

    def _budget(self, override: Budget | float | None = None) -> Budget:
        budget = self.budget if override is None else override
        if budget is None:
            return DEFAULT_BUDGET
        if isinstance(budget, Budget):
            return budget
        if isinstance(budget, int | float) and not isinstance(budget, bool) and budget > 0:
            return Budget(epochs=float(budget), eval_every=DEFAULT_BUDGET.eval_every)
        raise InvalidParameterError(
            "The 'budget' parameter of CTRObjective must be a Budget, a positive number of "
            f"epochs or None. Got {budget!r} instead."
        )

    def _subsample(self, fidelity: Any) -> tuple[Dataset, float]:
        if fidelity is None:
            return self.dataset, 1.0
        frac = float(fidelity)
        if not 0.0 < frac <= 1.0:
            raise InvalidParameterError(
                f"The trial's {USER_ATTR_FIDELITY!r} user attribute must be in (0, 1]. "
                f"Got {fidelity!r} instead."
            )
        if frac >= 1.0:
            return self.dataset, 1.0
        ds = self.dataset
        n = len(ds.train)
        keep = max(1, round(frac * n))
        rows = np.sort(np.random.default_rng(self.seed).permutation(n)[:keep])
        sub = Dataset(ds.name, ds.schema, ds.train.take(rows), ds.valid, ds.test, ds.info)
        return sub, keep / n

    # -- calls -----------------------------------------------------------------------------
    def evaluate(
        self,
        config: Configuration,
        budget: Budget | float | None = None,
        *,
        report: Callable[[float, float, float], None] | None = None,
    ) -> TrainResult:
        """Decode and train one configuration outside Optuna.

        Args:
            config: A configuration of :attr:`space`.
            budget: Overrides the objective's budget.
            report: Passed to the trainer (``report(step, valid_auc, valid_logloss)``).

        Returns:
            The trainer's result.
        """
        self._check()
        spec = decode(config, self.dataset.schema, base=self.base)
        return train(
            spec,
            self.dataset,
            self._budget(budget),
            device=self.device,
            seed=self.seed,
            report=report,
            memory_cap=self.memory_cap,
            pretrained=self.pretrained,
        )

    def _hook(self, method: str, *args: Any) -> None:
        for hook in self.hooks:
            try:
                getattr(hook, method)(*args)
            except Exception:  # NOTE: a tracking outage never fails a trial.
                _log.exception("Hook %r failed in %s", hook, method)

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float]:
        """Run one trial; returns the metric, or ``(metric, cost)`` when ``cost`` is set."""
        self._check()
        state: dict[str, Any] = {"epochs": 0.0, "metrics": {}}
        try:
            return self._run(trial, state)
        except optuna.TrialPruned:
            trial.set_user_attr(USER_ATTR_EPOCHS, state["epochs"])
            self._hook("trial_ended", trial, dict(state["metrics"]), None)
            raise
        except Exception as exc:
            kind = exception_kind(exc)
            record_failure(trial, kind, f"{type(exc).__name__}: {exc}", keep_text=True)
            reason = trial.user_attrs.get(USER_ATTR_FAILURE)
            trial.set_user_attr(USER_ATTR_EPOCHS, state["epochs"])
            self._hook("trial_ended", trial, dict(state["metrics"]), reason)
            raise

    def _run(self, trial: optuna.Trial, state: dict[str, Any]) -> float | tuple[float, float]:
        config = suggest(trial, self.space)
        params = {k: to_param(self.space[k], v) for k, v in config.items()}
        self._hook("trial_started", trial, params)
        schema = self.dataset.schema
        spec = decode(config, schema, base=self.base)
        trial.set_user_attr(USER_ATTR_SPEC, json.dumps(spec.to_dict(), sort_keys=True))
        dataset, fraction = self._subsample(trial.user_attrs.get(USER_ATTR_FIDELITY))
        key = f"valid_{self.metric}"
        prune = self.cost is None
        evaluations = [0]

        def report(step: float, valid_auc: float, valid_logloss: float) -> None:
            evaluations[0] += 1
            index = evaluations[0]
            state["epochs"] = float(step) * fraction
            metrics = {"valid_auc": float(valid_auc), "valid_logloss": float(valid_logloss)}
            state["metrics"] = metrics
            self._hook("step_reported", trial, index, {**metrics, "epoch": float(step)})
            if not prune:
                return
            value = metrics[key]
            if math.isfinite(value):
                trial.report(value, index)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at evaluation {index} ({key}={value:.5f})")

        result = train(
            spec,
            dataset,
            self._budget(),
            device=self.device,
            seed=self.seed,
            report=report,
            memory_cap=self.memory_cap,
            pretrained=self.pretrained,
        )
        state["epochs"] = float(result.epochs_run) * fraction
        metrics = result.metrics()
        state["metrics"] = metrics
        for name, value in metrics.items():
            trial.set_user_attr(name, float(value))
        costs = result.cost.as_dict()
        for name, value in costs.items():
            trial.set_user_attr(f"{COST_PREFIX}{name}", float(value))
        trial.set_user_attr(USER_ATTR_EPOCHS, state["epochs"])
        self._hook("trial_ended", trial, dict(metrics), None)
        value = float(metrics[key])
        if not math.isfinite(value):
            raise ValueError(f"the {key} of the trained model is {value}")
        if self.cost is not None:
            return value, float(costs[self.cost])
        return value

    def __repr__(self) -> str:
        return (
            f"CTRObjective(dataset={getattr(self.dataset, 'name', '?')!r}, "
            f"space={len(self.space)} hyperparameters, metric={self.metric!r}, "
            f"budget={self.budget!r}, cost={self.cost!r})"
        )
