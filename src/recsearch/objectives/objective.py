"""The Optuna objective: suggest a configuration, decode it, train it, report and record it.

One call of :class:`CTRObjective` on a trial:

1. :func:`recsearch.spaces.suggest` (a forbidden configuration fails the trial at once);
2. :func:`recsearch.spaces.decode` into a :class:`~recsearch.spec.ModelSpec`;
3. :func:`recsearch.objectives.trainer.train`, whose report callback calls
   ``trial.report(value, step)`` with ``step`` the 1-based evaluation index, then
   ``trial.should_prune()`` (single-objective studies only: Optuna has no pruning for
   multi-objective studies);
4. the user attributes of :mod:`recsearch.hooks` (validation metrics, ``cost.*``, ``epochs``,
   ``spec``, ``failure``), the resolved recipe (``recipe.batch_size``, ``recipe.lr``), the
   per-trial times (``time.build_s``, ``time.first_step_s``, ``time.train_s``) and the hooks'
   callbacks.

A search trial never reads the test split: test metrics come from the retrain stage
(:func:`recsearch.objectives.objective.CTRObjective.evaluate` with ``evaluate_test=True``).
Training stops early, and keeps its best weights, by the search metric. Latency is measured
once per distinct architecture (the spec without its training settings) and cached on the
objective; ``latency="always"`` measures every trial, ``"never"`` records NaN.

A failure of any step sets the ``failure`` user attribute (``"<ErrorType>: <message>"``) and
re-raises, so Optuna records the trial as FAIL; run the study with ``catch=(Exception,)`` to go
on. A pruned trial records ``epochs`` (the epoch-equivalents it consumed) before
``optuna.TrialPruned`` propagates.
"""

from __future__ import annotations

import dataclasses
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

from recsearch._internals import halving_settings
from recsearch._internals import hyperband_bracket
from recsearch.data.schema import Dataset
from recsearch.errors import InvalidParameterError
from recsearch.failures import exception_kind
from recsearch.failures import record_failure
from recsearch.hooks import COST_PREFIX
from recsearch.hooks import USER_ATTR_EPOCHS
from recsearch.hooks import USER_ATTR_FAILURE
from recsearch.hooks import USER_ATTR_FIDELITY
from recsearch.hooks import USER_ATTR_SPEC
from recsearch.hooks import ObjectiveHook
from recsearch.objectives.recipe import Recipe
from recsearch.objectives.trainer import Budget
from recsearch.objectives.trainer import TrainResult
from recsearch.objectives.trainer import train
from recsearch.spaces import decode
from recsearch.spaces import suggest
from recsearch.spaces import to_param
from recsearch.spaces.decode import sections

if TYPE_CHECKING:
    from recsearch.spec import ModelSpec

__all__ = ["COST_MEASURES", "DEFAULT_BUDGET", "METRICS", "CTRObjective"]

USER_ATTR_BATCH = "recipe.batch_size"
USER_ATTR_RUNG = "recipe.rung"
"""``fidelity="rows"``: the last rung (0-based) the trial trained."""
USER_ATTR_LR = "recipe.lr"
USER_ATTR_TIMES = {"build": "time.build_s", "first_step": "time.first_step_s",
                   "train": "time.train_s"}

_log = logging.getLogger(__name__)

Metric = Literal["auc", "logloss"]
CostMeasure = Literal["params", "embedding_bytes", "flops", "latency_ms", "embedding_nonzero"]
METRICS: dict[str, str] = {"auc": "maximize", "logloss": "minimize"}
COST_MEASURES: tuple[str, ...] = get_args(CostMeasure)
DEFAULT_BUDGET = Budget(epochs=1.0, eval_every=0.25)
"""One epoch, evaluated (and reported to the pruner) four times, with the default
:class:`~recsearch.objectives.recipe.Recipe` (at least 100 optimizer steps)."""


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
        recipe: The training recipe (a :class:`~recsearch.objectives.recipe.Recipe` or its
            ``to_dict()``, as a study's settings store it); replaces the budget's.
        latency: ``cached``: measure inference latency once per distinct architecture;
            ``always``: every trial; ``never``: record NaN.
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
        recipe: Recipe | Mapping[str, Any] | None = None,
        latency: Literal["cached", "always", "never"] = "cached",
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
        self.recipe = recipe
        self.latency = latency

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
        if self.latency not in ("cached", "always", "never"):
            raise InvalidParameterError(
                "The 'latency' parameter of CTRObjective must be a str among "
                f"('cached', 'always', 'never'). Got {self.latency!r} instead."
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
            budget = DEFAULT_BUDGET
        elif isinstance(budget, int | float) and not isinstance(budget, bool) and budget > 0:
            budget = Budget(epochs=float(budget), eval_every=DEFAULT_BUDGET.eval_every)
        elif not isinstance(budget, Budget):
            raise InvalidParameterError(
                "The 'budget' parameter of CTRObjective must be a Budget, a positive number of "
                f"epochs or None. Got {budget!r} instead."
            )
        if self.recipe is None:
            return budget
        recipe = self.recipe
        if not isinstance(recipe, Recipe):
            recipe = Recipe.from_dict(recipe)
        return dataclasses.replace(budget, recipe=recipe)

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
        seed: int | None = None,
        evaluate_test: bool = False,
    ) -> TrainResult:
        """Decode and train one configuration outside a search (the retrain stage's call).

        Args:
            config: A configuration of :attr:`space` (or a mapping of its parameters).
            budget: Overrides the objective's budget.
            report: Passed to the trainer (``report(step, valid_auc, valid_logloss)``).
            seed: Overrides the objective's training seed.
            evaluate_test: Score the test split with the best weights (``test_auc`` and
                ``test_logloss`` in ``result.metrics()``); a search never does.

        Returns:
            The trainer's result.
        """
        self._check()
        if not isinstance(config, Configuration):
            config = Configuration(self.space, values=dict(config))
        spec = decode(config, self.dataset.schema, base=self.base)
        return train(
            spec,
            self.dataset,
            self._budget(budget),
            device=self.device,
            seed=self.seed if seed is None else seed,
            report=report,
            memory_cap=self.memory_cap,
            monitor=self.metric,
            evaluate_test=evaluate_test,
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
        spec = decode(config, self.dataset.schema, base=self.base)
        trial.set_user_attr(USER_ATTR_SPEC, json.dumps(spec.to_dict(), sort_keys=True))
        key = f"valid_{self.metric}"
        budget = self._budget()
        fixed = trial.user_attrs.get(USER_ATTR_FIDELITY)
        pruner = getattr(getattr(trial, "study", None), "pruner", None)
        rows = budget.recipe.fidelity == "rows" and fixed is None and self.cost is None
        rungs: tuple[float | None, ...] = (fixed,)
        first = 0
        if rows and not _never_prunes(pruner):
            rungs = budget.recipe.rungs
            steps = [round(float(r) / float(rungs[0])) for r in budget.recipe.rungs]
            first = first_rung(pruner, trial, steps)
        spent = 0.0
        for rung in range(first, len(rungs)):
            dataset, fraction = self._subsample(rungs[rung])
            per_evaluation = len(rungs) == 1 and self.cost is None  # NOTE: no multi-obj pruning
            result = self._train(trial, state, spec, dataset, fraction, spent, per_evaluation)
            spent = state["epochs"] = spent + float(result.epochs_run) * fraction
            value = float(result.metrics()[key])
            if len(rungs) > 1:
                trial.set_user_attr(USER_ATTR_RUNG, rung)
                if math.isfinite(value):
                    trial.report(value, steps[rung])
                if rung < len(rungs) - 1 and trial.should_prune():
                    raise optuna.TrialPruned(
                        f"pruned after rung {rung + 1} ({fraction:.3g} of the rows, "
                        f"{key}={value:.5f})"
                    )
        return self._record(trial, state, result)

    def _train(
        self, trial: optuna.Trial, state: dict[str, Any], spec: ModelSpec, dataset: Dataset,
        fraction: float, spent: float, prune: bool,
    ) -> TrainResult:
        """One training of ``spec``; each evaluation is hooked and, when ``prune``, reported."""
        key = f"valid_{self.metric}"
        evaluations = [0]

        def report(step: float, valid_auc: float, valid_logloss: float) -> None:
            evaluations[0] += 1
            index = evaluations[0]
            state["epochs"] = spent + float(step) * fraction
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

        arch = _architecture(spec)
        cached = self._latencies.get(arch) if self.latency == "cached" else None
        budget = self._budget()
        if fraction < 1.0:  # NOTE: a subsample costs its fraction of a trial, minimum steps too
            low = math.ceil(budget.recipe.min_steps * fraction)
            budget = dataclasses.replace(
                budget, recipe=dataclasses.replace(budget.recipe, min_steps=low)
            )
        result = train(
            spec,
            dataset,
            budget,
            device=self.device,
            seed=self.seed,
            report=report,
            memory_cap=self.memory_cap,
            measure=self.latency == "always" or (self.latency == "cached" and cached is None),
            monitor=self.metric,
            pretrained=self.pretrained,
        )
        if self.latency != "cached":
            return result
        if cached is None:
            self._latencies[arch] = result.cost.latency_ms_per_1000
            return result
        return dataclasses.replace(
            result, cost=dataclasses.replace(result.cost, latency_ms_per_1000=cached)
        )

    def _record(
        self, trial: optuna.Trial, state: dict[str, Any], result: TrainResult
    ) -> float | tuple[float, float]:
        key = f"valid_{self.metric}"
        metrics = result.metrics()
        state["metrics"] = metrics
        for name, value in metrics.items():
            trial.set_user_attr(name, float(value))
        if result.plan is not None:
            trial.set_user_attr(USER_ATTR_BATCH, result.plan.batch_size)
            trial.set_user_attr(USER_ATTR_LR, result.plan.lr)
        times = {"build": result.build_seconds, "first_step": result.first_step_seconds,
                 "train": result.train_seconds}
        for name, seconds in times.items():
            if math.isfinite(seconds):
                trial.set_user_attr(USER_ATTR_TIMES[name], round(float(seconds), 6))
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

    @property
    def _latencies(self) -> dict[str, float]:
        cache = self.__dict__.get("_latency_cache")
        if cache is None:
            cache = self.__dict__["_latency_cache"] = {}
        return cache

    def __repr__(self) -> str:
        return (
            f"CTRObjective(dataset={getattr(self.dataset, 'name', '?')!r}, "
            f"space={len(self.space)} hyperparameters, metric={self.metric!r}, "
            f"budget={self.budget!r}, cost={self.cost!r})"
        )


def _architecture(spec: ModelSpec) -> str:
    """A key equal for specs that build the same network (training settings left out)."""
    from recsearch.spec import TrainingSpec

    return json.dumps(spec.replace(training=TrainingSpec(), name="").to_dict(), sort_keys=True)


def _never_prunes(pruner: Any) -> bool:
    """A study whose pruner never stops a trial gains nothing from the smaller rungs."""
    return isinstance(pruner, optuna.pruners.NopPruner)


def first_rung(pruner: Any, trial: optuna.Trial, steps: Sequence[int]) -> int:
    """The first rung of ``steps`` (the rows fidelity's report steps) at which ``pruner`` decides.

    A rung below it is trained for nothing: Hyperband's bracket ``s`` first compares trials at
    ``min_resource * reduction_factor**s`` (bracket 0 at every rung, the last bracket never), so
    a trial starts on the subsample of that rung. Before Hyperband knows its brackets (its
    ``max_resource="auto"`` waits for a completed trial) a trial trains the full data only. A
    pruner other than Optuna's Hyperband or successive halving trains every rung.
    """
    last = len(steps) - 1
    pruners = optuna.pruners
    try:
        if isinstance(pruner, pruners.HyperbandPruner):
            pruner = hyperband_bracket(pruner, trial.study, trial)
            if pruner is None:
                return last
        if not isinstance(pruner, pruners.SuccessiveHalvingPruner):
            return 0
        low, eta, rate = halving_settings(pruner)
        if not isinstance(low, int):  # NOTE: "auto" is set by the first completed trial
            return last
        decide = low * eta**rate
    except AttributeError:  # NOTE: Optuna's private layout changed: train every rung
        return 0
    return next((k for k, step in enumerate(steps) if step >= decide), last)
