"""Fidelity, measured: does a low training budget rank configurations as the full budget does?

:func:`fidelity` samples ``configs`` random configurations of a space (seeded) and trains each
one at every low budget and at the full budget, each a separate training from scratch. It runs
as a queue-only study (kind ``fidelity``) on the study machinery: one enqueued trial per
(configuration, budget) cell, so an interrupted run resumes where it stopped (a rerun trains no
completed cell) and ``recsearch worker`` processes elsewhere can serve it.

- A low budget trains as a search trial does: ``Budget(epochs=b, eval_every=0.25)`` with the
  default recipe, early stopping on the search metric, score = best validation evaluation.
- The full budget is the retrain stage's recipe: up to ``full_budget`` epochs, one evaluation an
  epoch, early stopping on the search metric after ``patience`` evaluations without improvement.

:func:`fidelity_report` ranks the configurations at each budget and reports Spearman's rho and
Kendall's tau with the full budget's ranking (as multi-fidelity benchmarks report it), and the
*top-3 regret*: the best full-budget score among the budget's top 3 configurations, below the best
full-budget score of all. A PNG shows each budget's scores against the full budget's.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import KW_ONLY
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from recsearch.errors import InvalidParameterError
from recsearch.hooks import USER_ATTR_EPOCHS
from recsearch.hooks import USER_ATTR_FAILURE

if TYPE_CHECKING:
    import optuna
    from ConfigSpace import ConfigurationSpace

    from recsearch.data.schema import Dataset
    from recsearch.study.settings import StudySettings

__all__ = ["FidelityObjective", "FidelityReport", "fidelity", "fidelity_report"]

CELL_PARAM = "cell"
ATTR_CONFIG = "fidelity.config"
ATTR_BUDGET = "fidelity.budget"
ATTR_FULL = "fidelity.full"
SEARCH_EVAL_EVERY = 0.25
DEFAULT_PATIENCE = 3


def _cells(options: Mapping[str, Any]) -> list[tuple[int, float, bool]]:
    budgets = [float(b) for b in options["budgets"]] + [float(options["full_budget"])]
    n_low = len(options["budgets"])
    return [
        (i, b, j == n_low)
        for i in range(len(options["configs"]))
        for j, b in enumerate(budgets)
    ]


@dataclass
class FidelityObjective:
    """The objective of a fidelity study: trains the trial's (configuration, budget) cell.

    Built by the study machinery as ``FidelityObjective(dataset, space, *, metric, budget, seed,
    hooks, settings, [cost], [device])``; the cells come from ``settings.kind_options``.

    Example:
        >>> objective = FidelityObjective(dataset, space, settings=settings)  # doctest: +SKIP
    """

    dataset: Dataset
    space: ConfigurationSpace
    _: KW_ONLY
    metric: str = "auc"
    budget: float | None = None
    seed: int = 0
    hooks: Sequence[Any] = ()
    settings: StudySettings | None = None
    cost: str | None = None
    device: str = "auto"

    @property
    def directions(self) -> list[str]:
        """One direction: the metric's."""
        return ["maximize" if self.metric == "auc" else "minimize"]

    def __call__(self, trial: optuna.Trial) -> float:
        """Train the trial's cell; returns its validation metric."""
        from recsearch.objectives.objective import CTRObjective
        from recsearch.objectives.recipe import Budget
        from recsearch.objectives.recipe import Recipe

        if self.settings is None:
            raise InvalidParameterError("FidelityObjective needs the fidelity study's settings.")
        opts = self.settings.kind_options
        cells = _cells(opts)
        index = trial.suggest_int(CELL_PARAM, 0, len(cells) - 1)
        config, epochs, full = cells[index]
        trial.set_user_attr(ATTR_CONFIG, config)
        trial.set_user_attr(ATTR_BUDGET, epochs)
        trial.set_user_attr(ATTR_FULL, full)
        recipe = Recipe.from_dict(opts.get("recipe") or {})
        every = 1.0 if full else min(SEARCH_EVAL_EVERY, epochs)
        budget = Budget(epochs=epochs, eval_every=every, recipe=recipe)
        patience = int(opts.get("patience", DEFAULT_PATIENCE))
        objective = CTRObjective(
            self.dataset, self.space, metric=self.metric,  # type: ignore[arg-type]
            device=self.device, seed=self.seed, base=_base(self.space, patience, full),
            hooks=self.hooks,
        )  # fmt: skip
        try:
            result = objective.evaluate(dict(opts["configs"][config]), budget)
        except Exception as exc:
            trial.set_user_attr(USER_ATTR_FAILURE, f"{type(exc).__name__}: {exc}")
            raise
        for name, value in result.metrics().items():
            trial.set_user_attr(name, float(value))
        trial.set_user_attr(USER_ATTR_EPOCHS, float(result.epochs_run))
        value = float(result.metrics()[f"valid_{self.metric}"])
        if not math.isfinite(value):
            raise ValueError(f"the valid_{self.metric} of the trained model is {value}")
        return value


def _base(space: ConfigurationSpace, patience: int, full: bool) -> Any:
    """The decode base: the space's own, with the full recipe's patience at the full budget."""
    from recsearch.spaces.decode import default_base

    base = default_base(space)
    if full:
        base = base.replace(training=dataclasses.replace(base.training, patience=patience))
    return base


@dataclass(frozen=True)
class FidelityReport:
    """Rank correlations of each low budget with the full budget.

    Attributes:
        budgets: The low budgets (epochs).
        full_budget: The full budget (epochs, early-stopped).
        n_configs: Configurations with a score at every budget.
        spearman: Spearman's rho of each low budget with the full budget.
        kendall: Kendall's tau of each low budget with the full budget.
        top3_regret: Best full-budget score of each budget's top 3, below the best of all.
        scores: ``scores[budget][config]``: validation metric (``"full"`` for the full budget).
        epochs: Epochs trained in all, per budget (``"full"`` included).
        png: The scatter plot, when written.
    """

    budgets: tuple[float, ...]
    full_budget: float
    n_configs: int
    spearman: dict[float, float]
    kendall: dict[float, float]
    top3_regret: dict[float, float]
    scores: dict[str, dict[int, float]]
    epochs: dict[str, float]
    png: str | None = None

    def table(self) -> str:
        """The report as a plain-text table."""
        lines = [f"fidelity: {self.n_configs} configurations, full budget up to "
                 f"{self.full_budget:g} epochs (early-stopped)",
                 f"{'budget':>8} {'spearman':>9} {'kendall':>8} {'top-3 regret':>13} "
                 f"{'epochs':>8}"]
        for b in self.budgets:
            lines.append(f"{b:>8g} {self.spearman[b]:>9.3f} {self.kendall[b]:>8.3f} "
                         f"{self.top3_regret[b]:>13.4f} {self.epochs[str(b)]:>8.1f}")
        lines.append(f"{'full':>8} {'':>9} {'':>8} {'':>13} {self.epochs['full']:>8.1f}")
        return "\n".join(lines)


def fidelity_report(
    study: optuna.Study, *, maximize: bool = True, png: str | Path | None = None
) -> FidelityReport:
    """Spearman, Kendall and top-3 regret of each budget of a fidelity study (see module)."""
    import numpy as np
    from optuna.trial import TrialState
    from scipy import stats

    from recsearch.study.studies import settings_of

    settings = settings_of(study, study.study_name)
    opts = settings.kind_options
    budgets = tuple(float(b) for b in opts["budgets"])
    full = float(opts["full_budget"])
    scores: dict[str, dict[int, float]] = {str(b): {} for b in budgets}
    scores["full"] = {}
    epochs = {key: 0.0 for key in scores}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        key = "full" if t.user_attrs.get(ATTR_FULL) else str(float(t.user_attrs[ATTR_BUDGET]))
        scores[key][int(t.user_attrs[ATTR_CONFIG])] = float(t.value)  # type: ignore[arg-type]
        epochs[key] += float(t.user_attrs.get(USER_ATTR_EPOCHS, 0.0))
    common = sorted(set.intersection(*(set(s) for s in scores.values())))
    ref = np.array([scores["full"][c] for c in common])
    rho, tau, regret = {}, {}, {}
    sign = 1.0 if maximize else -1.0
    for b in budgets:
        low = np.array([scores[str(b)][c] for c in common])
        if len(common) >= 3:
            rho[b] = float(stats.spearmanr(low, ref).statistic)
            tau[b] = float(stats.kendalltau(low, ref).statistic)
            top = np.argsort(-sign * low)[:3]
            regret[b] = float(sign * (sign * ref).max() - sign * (sign * ref[top]).max()) * sign
        else:
            rho[b] = tau[b] = regret[b] = math.nan
    report = FidelityReport(budgets, full, len(common), rho, tau, regret, scores, epochs)
    if png is not None and len(common) >= 2:
        _plot(report, common, Path(png))
        report = dataclasses.replace(report, png=str(png))
    return report


def _plot(report: FidelityReport, common: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(report.budgets)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.2), squeeze=False)
    ref = [report.scores["full"][c] for c in common]
    for ax, b in zip(axes[0], report.budgets, strict=True):
        ax.scatter([report.scores[str(b)][c] for c in common], ref, s=14)
        ax.set_title(f"{b:g} epochs: rho {report.spearman[b]:.2f}, tau {report.kendall[b]:.2f}",
                     fontsize=9)
        ax.set_xlabel(f"valid score at {b:g} epochs", fontsize=8)
        ax.set_ylabel("valid score at the full budget", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _sample(space: ConfigurationSpace, n: int, seed: int) -> list[dict[str, Any]]:
    from recsearch.spaces import to_param

    space.seed(seed)
    configs = space.sample_configuration(n) if n > 1 else [space.sample_configuration()]
    return [
        json.loads(json.dumps({k: to_param(space[k], v) for k, v in c.items()}, default=str))
        for c in configs
    ]


def _recipe_dict(recipe: Any) -> dict[str, Any]:
    from recsearch.objectives.recipe import Recipe

    return (Recipe() if recipe is None else recipe).to_dict()


def fidelity(
    dataset: str = "movielens-100k",
    space: str = "aim",
    *,
    configs: int = 20,
    budgets: Sequence[float] = (0.5, 1.0, 3.0),
    full_budget: float = 20.0,
    patience: int = DEFAULT_PATIENCE,
    seed: int = 0,
    metric: str = "auc",
    dataset_options: Mapping[str, Any] | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    device: str | None = None,
    threads: int | None = None,
    png: str | Path | None = None,
    recipe: Any = None,
) -> FidelityReport:
    """Train ``configs`` random configurations at each budget and the full one; report ranks.

    Args:
        dataset: Data set name, file path or ``module:callable``.
        space: Space preset name or ``module:callable(schema)``.
        configs: Random configurations (seeded by ``seed``).
        budgets: Low budgets in epochs, each a separate training as a search trial trains.
        full_budget: The full budget: up to this many epochs, early-stopped (retrain recipe).
        patience: Evaluations without improvement that stop a full-budget training.
        seed: Seeds the configurations and the training.
        metric: The search metric (``auc`` or ``logloss``).
        dataset_options: Loader options.
        storage: Study storage URL; ``None`` is the local journal.
        study_name: ``None``: a name from the settings (rerun = resume).
        device: The workers' device.
        threads: torch threads of this process.
        png: Where to write the scatter plot.
        recipe: The training :class:`~recsearch.objectives.recipe.Recipe` (``None``: the
            default one).

    Returns:
        The :class:`FidelityReport`.

    Example:
        >>> report = fidelity("movielens-100k", "aim", configs=12)  # doctest: +SKIP
        >>> print(report.table())  # doctest: +SKIP
    """
    from recsearch.study.settings import make_settings
    from recsearch.study.studies import _open
    from recsearch.study.studies import create_in
    from recsearch.study.studies import enqueue_missing
    from recsearch.study.studies import prepare
    from recsearch.study.worker import run_worker

    budgets = tuple(float(b) for b in budgets)
    if configs < 2 or not budgets or not all(0 < b < math.inf for b in (*budgets, full_budget)):
        raise InvalidParameterError(
            "fidelity needs configs >= 2 and finite budgets > 0. Got "
            f"configs={configs!r}, budgets={budgets!r}, full_budget={full_budget!r}."
        )
    options: dict[str, Any] = {"budgets": list(budgets), "full_budget": float(full_budget),
                               "patience": int(patience), "configs": [],
                               "recipe": _recipe_dict(recipe)}
    settings = make_settings(
        dataset=dataset, space=space, strategy="random", n_trials=1, budget_epochs=full_budget,
        seed=seed, metric=metric, dataset_options=dataset_options,  # type: ignore[arg-type]
        kind="fidelity", kind_options=options, tracking_uri=None,
    )  # fmt: skip
    settings, components = prepare(settings)
    options["configs"] = _sample(components.space, configs, seed)
    n_cells = len(_cells(options))
    settings = dataclasses.replace(settings, kind_options=options, n_trials=n_cells)
    study, settings = create_in(_open(storage), study_name, settings, components.directions)
    enqueue_missing(study, [{CELL_PARAM: i} for i in range(n_cells)])
    # NOTE: the worker resolves its own components from the stored settings (with the configs).
    run_worker(study_name=study.study_name, storage=storage, threads=threads, device=device,
               finalize=False)
    return fidelity_report(study, maximize=metric == "auc", png=png)


def _floats(text: str) -> tuple[float, ...]:
    import argparse

    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 0.5,1,3; got {text!r}") from None
    if not values or not all(0 < v < math.inf for v in values):
        raise argparse.ArgumentTypeError(f"expected finite positive numbers; got {text!r}")
    return values


def add_arguments(p: Any) -> None:
    """The options of ``recsearch fidelity`` (the CLI wires them, :func:`run_from_args` runs)."""
    p.add_argument("--space", required=True, help="space preset (see `recsearch spaces`)")
    p.add_argument("--configs", type=int, default=20, help="random configurations")
    p.add_argument("--budgets", type=_floats, default=(0.5, 1.0, 3.0),
                   help="low budgets in epochs, comma-separated")  # fmt: skip
    p.add_argument("--full-budget", type=float, default=20.0,
                   help="full budget: up to this many epochs, early-stopped")  # fmt: skip
    p.add_argument("--patience", type=int, default=DEFAULT_PATIENCE)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--metric", choices=("auc", "logloss"), default="auc")
    p.add_argument("--storage", default=None, help="Optuna storage URL (default: local journal)")
    p.add_argument("--study", default=None, help="study name (default: derived from settings)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N")
    p.add_argument("--out", default="reports/fidelity", help="folder of the PNG and JSON")


def run_from_args(args: Any, dataset_options: Mapping[str, Any]) -> int:
    """Run ``recsearch fidelity``: print the table, write ``fidelity.png`` and ``.json``."""
    out = Path(args.out)
    report = fidelity(
        args.dataset, args.space, configs=args.configs, budgets=args.budgets,
        full_budget=args.full_budget, patience=args.patience, seed=args.seed,
        metric=args.metric, dataset_options=dataset_options, storage=args.storage,
        study_name=args.study, device=args.device, threads=args.threads,
        png=out / "fidelity.png",
    )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "fidelity.json").write_text(json.dumps(dataclasses.asdict(report), indent=2,
                                                  default=str))
    print(report.table())
    print(f"plot: {report.png}")
    return 0
