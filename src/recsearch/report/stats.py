"""Statistics of a strategy comparison: plain records in, tables out (numpy, scipy, pandas).

No study, storage, tracker or plot here: :mod:`recsearch.study.comparison` turns a comparison's
studies into :class:`CellResult` records, and :mod:`recsearch.report.writer` writes the folder.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "GRID_POINTS",
    "REFERENCE",
    "CellResult",
    "TrialRecord",
    "anytime_curves",
    "markdown_table",
    "pareto_front",
    "summarize",
    "trials_frame",
]

_logger = logging.getLogger(__name__)

REFERENCE = "random"
GRID_POINTS = 101


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial of one comparison run (plain values only).

    Example:
        >>> TrialRecord(number=0, state="COMPLETE", value=0.71, epochs=1.0)
        TrialRecord(number=0, state='COMPLETE', value=0.71, epochs=1.0, cost=None, params={})
    """

    number: int
    state: str
    value: float | None
    epochs: float
    cost: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CellResult:
    """The trials of one strategy on one seed, in completion order.

    Example:
        >>> run = CellResult("random", 0, (TrialRecord(0, "COMPLETE", 0.7, 1.0),), 1.2)
        >>> run.anytime(maximize=True)
        (array([1.]), array([0.7]))
    """

    strategy: str
    seed: int
    trials: tuple[TrialRecord, ...]
    seconds: float

    @property
    def epochs(self) -> float:
        """Budget spent (epoch-equivalents)."""
        return float(sum(t.epochs for t in self.trials))

    def anytime(self, *, maximize: bool) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative budget after each trial and the best value so far (nan before any)."""
        spent = np.cumsum([t.epochs for t in self.trials]) if self.trials else np.zeros(0)
        best = np.full(len(self.trials), np.nan)
        current = math.nan
        for i, t in enumerate(self.trials):
            if t.state == "COMPLETE" and t.value is not None and math.isfinite(t.value):
                if math.isnan(current) or (t.value > current if maximize else t.value < current):
                    current = t.value
            best[i] = current
        return spent.astype(float), best

    def final_best(self, *, maximize: bool) -> float:
        """Best completed value of the run (nan when none completed)."""
        _, best = self.anytime(maximize=maximize)
        return float(best[-1]) if len(best) else math.nan

    def best_at(self, budget: float, *, maximize: bool) -> float:
        """Best completed value among the trials finished within ``budget`` (nan before any)."""
        spent, best = self.anytime(maximize=maximize)
        idx = int(np.searchsorted(spent, budget + 1e-9, side="right")) - 1
        return float(best[idx]) if idx >= 0 else math.nan

    def budget_to_reach(self, target: float, *, maximize: bool) -> float:
        """Budget spent when the best so far first reached ``target`` (inf: never; nan: no target).

        Example:
            >>> run = CellResult("x", 0, (TrialRecord(0, "COMPLETE", 0.6, 0.5),
            ...                           TrialRecord(1, "COMPLETE", 0.7, 1.0)), 0.0)
            >>> run.budget_to_reach(0.65, maximize=True), run.budget_to_reach(0.9, maximize=True)
            (1.5, inf)
        """
        if not math.isfinite(target):
            return math.nan
        spent, best = self.anytime(maximize=maximize)
        with np.errstate(invalid="ignore"):
            hit = best >= target - 1e-12 if maximize else best <= target + 1e-12
        return float(spent[np.argmax(hit)]) if hit.any() else math.inf


def anytime_curves(
    runs: Sequence[CellResult], *, budget: float, maximize: bool, points: int = GRID_POINTS
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Best-so-far on a common budget grid: per strategy (grid, median, q25, q75).

    A run's value at budget ``b`` is the best completed trial among those finished when the
    cumulative budget reached ``b`` (nan before its first completed trial).
    """
    grid = np.linspace(0.0, budget, points)
    by_strategy: dict[str, list[np.ndarray]] = {}
    for run in runs:
        spent, best = run.anytime(maximize=maximize)
        idx = np.searchsorted(spent, grid + 1e-12, side="right") - 1
        values = np.where(idx >= 0, best[np.clip(idx, 0, None)] if len(best) else np.nan, np.nan)
        by_strategy.setdefault(run.strategy, []).append(values.astype(float))
    out = {}
    for name, rows in by_strategy.items():
        matrix = np.vstack(rows)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NOTE: all-nan columns stay nan
            median = np.nanmedian(matrix, axis=0)
            q25 = np.nanpercentile(matrix, 25, axis=0)
            q75 = np.nanpercentile(matrix, 75, axis=0)
        out[name] = (grid, median, q25, q75)
    return out


def _area(run: CellResult, *, budget: float, maximize: bool, fill: float) -> float:
    grid = np.linspace(0.0, budget, GRID_POINTS)
    spent, best = run.anytime(maximize=maximize)
    if not len(best):
        return fill
    idx = np.searchsorted(spent, grid + 1e-12, side="right") - 1
    values = np.where(idx >= 0, best[np.clip(idx, 0, None)], np.nan)
    values = np.where(np.isnan(values), fill, values)
    return float(np.mean(values))


def summarize(
    runs: Sequence[CellResult],
    *,
    strategies: Sequence[str],
    budget: float,
    maximize: bool,
    reference: str = REFERENCE,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The results table and the Wilcoxon tests against ``reference``.

    Table columns: ``strategy``, ``runs``, ``trials_mean``, ``final_median``, ``final_q25``,
    ``final_q75``, ``final_mean``, ``final_std``, ``at_budget_median`` (the best among the
    trials finished within ``budget``: a run's last trial may end past it), ``area`` (mean
    best-so-far over the budget grid, the worst value seen before a run's first completed
    trial), ``reach_reference`` (median over seeds of the budget at which the run's best so far
    first reached the same seed's ``reference`` final best; inf when it never did),
    ``mean_rank`` (1 = best, per seed, ties averaged), ``wilcoxon_p``.
    """
    import pandas as pd
    from scipy.stats import rankdata
    from scipy.stats import wilcoxon

    finals: dict[str, dict[int, float]] = {s: {} for s in strategies}
    for run in runs:
        finals.setdefault(run.strategy, {})[run.seed] = run.final_best(maximize=maximize)
    seen = [
        t.value
        for r in runs
        for t in r.trials
        if t.state == "COMPLETE" and t.value is not None and math.isfinite(t.value)
    ]
    fill = (min(seen) if maximize else max(seen)) if seen else math.nan
    seeds = sorted({r.seed for r in runs})
    ranks: dict[str, list[float]] = {s: [] for s in strategies}
    for seed in seeds:
        vals = np.array([finals[s].get(seed, math.nan) for s in strategies], dtype=float)
        worst = -np.inf if maximize else np.inf
        keyed = np.where(np.isnan(vals), worst, vals)
        r = rankdata(-keyed if maximize else keyed, method="average")
        for s, rank in zip(strategies, r, strict=True):
            ranks[s].append(float(rank))

    tests = []
    for s in strategies:
        if s == reference or reference not in finals:
            continue
        pairs = [
            (finals[s][k], finals[reference][k])
            for k in seeds
            if k in finals[s] and k in finals[reference]
            and math.isfinite(finals[s][k]) and math.isfinite(finals[reference][k])
        ]
        diffs = np.array([a - b for a, b in pairs], dtype=float)
        stat, p = math.nan, math.nan
        if len(diffs) and np.all(diffs == 0):
            stat, p = 0.0, 1.0
        elif len(diffs):
            try:
                res = wilcoxon(diffs, zero_method="wilcox", alternative="two-sided")
                stat, p = float(res.statistic), float(res.pvalue)
            except ValueError as err:
                _logger.info("Wilcoxon test of %s against %s: %s", s, reference, err)
        better = None
        if len(diffs) and np.median(diffs) != 0:
            better = bool((np.median(diffs) > 0) == maximize)
        tests.append(
            {
                "strategy": s,
                "reference": reference,
                "pairs": len(diffs),
                "median_difference": float(np.median(diffs)) if len(diffs) else math.nan,
                "statistic": stat,
                "p_value": p,
                "better_than_reference": better,
            }
        )
    tests_df = pd.DataFrame(
        tests,
        columns=[
            "strategy",
            "reference",
            "pairs",
            "median_difference",
            "statistic",
            "p_value",
            "better_than_reference",
        ],
    )
    p_by = dict(zip(tests_df["strategy"], tests_df["p_value"], strict=True))

    rows = []
    for s in strategies:
        its = [r for r in runs if r.strategy == s]
        vals = np.array([finals[s][r.seed] for r in its], dtype=float)
        ok = vals[np.isfinite(vals)]
        at_budget = np.array([r.best_at(budget, maximize=maximize) for r in its], dtype=float)
        at_budget = at_budget[np.isfinite(at_budget)]
        reach = np.array([
            r.budget_to_reach(finals.get(reference, {}).get(r.seed, math.nan), maximize=maximize)
            for r in its
        ], dtype=float)  # fmt: skip
        reach = reach[~np.isnan(reach)]
        rows.append(
            {
                "strategy": s,
                "runs": len(its),
                "trials_mean": float(np.mean([len(r.trials) for r in its])) if its else 0.0,
                "final_median": float(np.median(ok)) if len(ok) else math.nan,
                "final_q25": float(np.percentile(ok, 25)) if len(ok) else math.nan,
                "final_q75": float(np.percentile(ok, 75)) if len(ok) else math.nan,
                "final_mean": float(np.mean(ok)) if len(ok) else math.nan,
                "final_std": float(np.std(ok)) if len(ok) else math.nan,
                "at_budget_median": float(np.median(at_budget)) if len(at_budget) else math.nan,
                "area": float(
                    np.mean([_area(r, budget=budget, maximize=maximize, fill=fill) for r in its])
                )
                if its
                else math.nan,
                "reach_reference": float(np.median(reach)) if len(reach) else math.nan,
                "mean_rank": float(np.mean(ranks[s])) if ranks[s] else math.nan,
                "wilcoxon_p": p_by.get(s, math.nan),
            }
        )
    return pd.DataFrame(rows), tests_df


def markdown_table(frame: pd.DataFrame, *, digits: int = 4) -> str:
    """A GitHub markdown table of ``frame`` (floats rounded to ``digits`` significant places)."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "nan" if math.isnan(v) else f"{v:.{digits}g}"
        return str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    sep = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join([head, sep, *body]) + "\n"

def pareto_front(points: np.ndarray, *, maximize_first: bool) -> np.ndarray:
    """Indices of the non-dominated rows of ``points`` = (metric, cost); cost is minimised."""
    if not len(points):
        return np.zeros(0, dtype=int)
    keyed = np.column_stack([-points[:, 0] if maximize_first else points[:, 0], points[:, 1]])
    keep = []
    for i, p in enumerate(keyed):
        dominated = np.any(np.all(keyed <= p, axis=1) & np.any(keyed < p, axis=1))
        if not dominated:
            keep.append(i)
    return np.array(keep, dtype=int)

def trials_frame(runs: Sequence[CellResult], *, maximize: bool) -> pd.DataFrame:
    """Every trial of every run with its cumulative budget and best-so-far value."""
    import pandas as pd

    rows = []
    for run in runs:
        spent, best = run.anytime(maximize=maximize)
        for t, s, b in zip(run.trials, spent, best, strict=True):
            rows.append(
                {
                    "strategy": run.strategy,
                    "seed": run.seed,
                    "trial": t.number,
                    "state": t.state,
                    "value": t.value,
                    "epochs": t.epochs,
                    "cumulative_epochs": float(s),
                    "best_so_far": float(b),
                    "cost": t.cost,
                    "params": json.dumps(dict(t.params), default=str, sort_keys=True),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "strategy",
            "seed",
            "trial",
            "state",
            "value",
            "epochs",
            "cumulative_epochs",
            "best_so_far",
            "cost",
            "params",
        ],
    )
