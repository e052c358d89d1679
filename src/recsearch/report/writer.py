"""The comparison report folder: tables, plots and ``report.json`` from cell records.

- ``anytime.png``: best validation metric so far against cumulative budget, median and
  inter-quartile band per strategy;
- ``results.csv`` / ``results.md``: final best (median, quartiles, mean, std), normalised area
  under the anytime curve, mean rank over seeds, trials run, Wilcoxon p-value against ``random``;
- ``wilcoxon.csv``: the paired Wilcoxon signed-rank test of every strategy against ``random``;
- ``front.png``: the accuracy-cost front of all completed trials when a cost measure is searched;
- ``trials.csv``: every trial of every run with its cumulative budget and best-so-far value;
- ``report.json``: the settings and the table.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import numpy as np

from recsearch.report.stats import REFERENCE
from recsearch.report.stats import CellResult
from recsearch.report.stats import anytime_curves
from recsearch.report.stats import markdown_table
from recsearch.report.stats import pareto_front
from recsearch.report.stats import summarize
from recsearch.report.stats import trials_frame

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ComparisonReport", "plot_anytime", "plot_front", "write_report"]


@dataclass(frozen=True)
class ComparisonReport:
    """What :func:`recsearch.compare.run_comparison` produced: runs, table and report files.

    Attributes:
        out_dir: The report folder.
        metric: The compared validation metric.
        maximize: Whether larger metric values are better.
        budget: Budget per run (epoch-equivalents).
        runs: One :class:`CellResult` per strategy and seed.
        table: One row per strategy (see the module docstring for the columns).
        tests: The Wilcoxon signed-rank test of each strategy against ``random``.
        files: Report files by role (``anytime``, ``table_csv``, ``table_md``, ``tests``,
            ``trials``, ``report``, and ``front`` when a cost was searched).
        mlflow_run_id: The comparison run in MLflow, ``None`` when not tracked.

    Example:
        >>> report = run_comparison(dataset="synthetic", space="hpo", strategies=["random", "tpe"],
        ...                         seeds=2, budget=4, out_dir="report")  # doctest: +SKIP
        >>> print(report.to_markdown())  # doctest: +SKIP
    """

    out_dir: Path
    metric: str
    maximize: bool
    budget: float
    runs: tuple[CellResult, ...]
    table: pd.DataFrame
    tests: pd.DataFrame
    files: Mapping[str, Path]
    mlflow_run_id: str | None = None

    def to_markdown(self) -> str:
        """The results table as GitHub markdown."""
        return markdown_table(self.table)

    def curves(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Per strategy: budget grid, median, 25th and 75th percentile of best-so-far."""
        return anytime_curves(self.runs, budget=self.budget, maximize=self.maximize)

def plot_anytime(
    runs: Sequence[CellResult],
    path: str | os.PathLike[str],
    *,
    budget: float,
    maximize: bool,
    metric: str,
) -> None:
    """Write the anytime plot (median and inter-quartile band per strategy) as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for i, (name, (grid, median, q25, q75)) in enumerate(
        anytime_curves(runs, budget=budget, maximize=maximize).items()
    ):
        color = f"C{i % 10}"
        ax.plot(grid, median, color=color, label=name, drawstyle="steps-post")
        ax.fill_between(grid, q25, q75, color=color, alpha=0.2, step="post")
    ax.set_xlabel("budget (epoch-equivalents)")
    ax.set_ylabel(f"best validation {metric} so far")
    ax.set_title("Anytime performance (median, inter-quartile band)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right" if maximize else "upper right")
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=100)

def plot_front(
    runs: Sequence[CellResult],
    path: str | os.PathLike[str],
    *,
    maximize: bool,
    metric: str,
    cost: str,
) -> bool:
    """Write the accuracy-cost plot (every completed trial, front per strategy) as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    drawn = False
    names = list(dict.fromkeys(r.strategy for r in runs))
    for i, name in enumerate(names):
        pts = np.array(
            [
                (t.value, t.cost)
                for r in runs
                if r.strategy == name
                for t in r.trials
                if t.state == "COMPLETE" and t.value is not None and t.cost is not None
                and math.isfinite(t.value) and math.isfinite(t.cost)
            ],
            dtype=float,
        ).reshape(-1, 2)
        if not len(pts):
            continue
        drawn = True
        color = f"C{i % 10}"
        ax.scatter(pts[:, 1], pts[:, 0], s=12, alpha=0.35, color=color)
        front = pts[pareto_front(pts, maximize_first=maximize)]
        front = front[np.argsort(front[:, 1])]
        ax.plot(
            front[:, 1], front[:, 0], marker="o", color=color, label=name, drawstyle="steps-post"
        )
    if not drawn:
        return False
    ax.set_xlabel(cost)
    ax.set_ylabel(f"validation {metric}")
    ax.set_xscale("symlog")
    ax.set_title("Accuracy-cost front (all completed trials)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=100)
    return True

def _fidelity_lines(settings: Mapping[str, Any] | None) -> list[str]:
    recipe = (settings or {}).get("recipe") or {}
    if recipe.get("fidelity") != "rows":
        return []
    rungs = ", ".join(f"{float(r):.3g}" for r in recipe.get("rungs", ()))
    return [
        f"Fidelity: rows. A pruning strategy retrains a promoted trial on nested seeded "
        f"subsamples of the training rows ({rungs}); a trial counts its epochs times each "
        "subsample's fraction. `reach_reference`: the budget at which a run's best first "
        f"reached the same seed's `{REFERENCE}` final best.",
        "",
    ]


def write_report(
    runs: Sequence[CellResult],
    *,
    out_dir: str | os.PathLike[str],
    metric: str,
    maximize: bool,
    budget: float,
    strategies: Sequence[str],
    cost: str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> ComparisonReport:
    """Write the report folder for finished runs (see the module docstring) and return it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table, tests = summarize(runs, strategies=strategies, budget=budget, maximize=maximize)
    files: dict[str, Path] = {
        "anytime": out / "anytime.png",
        "table_csv": out / "results.csv",
        "table_md": out / "results.md",
        "tests": out / "wilcoxon.csv",
        "trials": out / "trials.csv",
        "report": out / "report.json",
    }
    plot_anytime(runs, files["anytime"], budget=budget, maximize=maximize, metric=metric)
    table.to_csv(files["table_csv"], index=False)
    direction = "higher" if maximize else "lower"
    from recsearch.oneshot.study import split_name

    one_shot = sorted({s for s in strategies if split_name(s)})
    md = [
        f"# Strategy comparison: validation {metric} ({direction} is better)",
        "",
        f"Budget per run: {budget:g} epoch-equivalents; seeds: "
        f"{len({r.seed for r in runs})}.",
        "",
        *_fidelity_lines(settings),
        *(
            [
                f"One-shot strategies ({', '.join(one_shot)}): the first trial of each run is "
                "the supernet search, charged at its epochs times the supernet's FLOPs per "
                "sample over the base model's (static_cost); it is never ranked.",
                "",
            ]
            if one_shot
            else []
        ),
        markdown_table(table),
        f"## Wilcoxon signed-rank test against `{REFERENCE}` (paired over seeds)",
        "",
        markdown_table(tests) if len(tests) else f"(no `{REFERENCE}` runs to compare against)\n",
    ]
    files["table_md"].write_text("\n".join(md))
    tests.to_csv(files["tests"], index=False)
    trials_frame(runs, maximize=maximize).to_csv(files["trials"], index=False)
    if cost is not None:
        front = out / "front.png"
        if plot_front(runs, front, maximize=maximize, metric=metric, cost=cost):
            files["front"] = front
    payload = {
        "settings": dict(settings or {}),
        "table": json.loads(table.to_json(orient="records")),
        "tests": json.loads(tests.to_json(orient="records")),
        "seconds": {f"{r.strategy}/{r.seed}": r.seconds for r in runs},
    }
    files["report"].write_text(json.dumps(payload, indent=2, default=str))
    return ComparisonReport(
        out_dir=out,
        metric=metric,
        maximize=maximize,
        budget=budget,
        runs=tuple(runs),
        table=table,
        tests=tests,
        files=files,
    )
