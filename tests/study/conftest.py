from __future__ import annotations

import sys
from pathlib import Path

# NOTE: the shared stand-ins (_scale_support) live one folder up, beside the runner tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
