"""Re-export of :mod:`recsearch.failures`.

The failure kinds live below every package, so ``spaces`` and ``objectives`` record failures
without importing the study layer.
"""

from __future__ import annotations

from recsearch.failures import *  # noqa: F403
from recsearch.failures import NOT_COUNTED as NOT_COUNTED
from recsearch.failures import __all__ as __all__
