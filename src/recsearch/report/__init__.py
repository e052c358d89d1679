"""Reports of studies and comparisons.

Comparison statistics are :mod:`~recsearch.report.stats` (pure) and their writer
:mod:`~recsearch.report.writer` (tables, plots, ``report.json``).
"""

from __future__ import annotations
