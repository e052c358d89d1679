"""Reports of studies and comparisons (numpy/scipy in, tables and files out).

Comparison statistics are :mod:`~recsearch.report.stats` (pure) and their writer
:mod:`~recsearch.report.writer` (tables, plots, ``report.json``); the retrain stage's report is
:mod:`~recsearch.report.retrain_report`.
"""

from __future__ import annotations
