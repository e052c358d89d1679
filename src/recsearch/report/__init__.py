"""Reports of studies: statistics and writers (numpy/scipy in, tables and files out)."""

from __future__ import annotations
