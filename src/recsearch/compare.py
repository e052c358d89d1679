"""Strategy comparison at equal budget; it lives in :mod:`recsearch.study.comparison` now.

The statistics are :mod:`recsearch.report.stats` and the report folder is written by
:mod:`recsearch.report.writer`. Every name this module had is re-exported here.
"""

from __future__ import annotations

from recsearch.report.stats import GRID_POINTS
from recsearch.report.stats import REFERENCE
from recsearch.report.stats import CellResult
from recsearch.report.stats import TrialRecord
from recsearch.report.stats import anytime_curves
from recsearch.report.stats import markdown_table
from recsearch.report.stats import pareto_front
from recsearch.report.stats import summarize
from recsearch.report.stats import trials_frame
from recsearch.report.writer import ComparisonReport
from recsearch.report.writer import plot_anytime
from recsearch.report.writer import plot_front
from recsearch.report.writer import write_report
from recsearch.study.comparison import ObjectiveFactory
from recsearch.study.comparison import run_comparison
from recsearch.study.settings import MetricName

RunResult = CellResult
"""The old name of :class:`~recsearch.report.stats.CellResult` (one strategy on one seed)."""

__all__ = [
    "GRID_POINTS",
    "REFERENCE",
    "CellResult",
    "ComparisonReport",
    "MetricName",
    "ObjectiveFactory",
    "RunResult",
    "TrialRecord",
    "anytime_curves",
    "markdown_table",
    "pareto_front",
    "plot_anytime",
    "plot_front",
    "run_comparison",
    "summarize",
    "trials_frame",
    "write_report",
]
