"""The life of a study (issue 15); this branch only holds the retrain stage until it merges."""

from __future__ import annotations
