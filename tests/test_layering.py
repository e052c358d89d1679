"""The dependency direction of STYLE.md section 7: spaces and strategies never import torch."""

from __future__ import annotations

import subprocess
import sys


def test_spaces_and_strategies_do_not_import_torch() -> None:
    code = (
        "import sys, recsearch.spec, recsearch.data, recsearch.spaces, recsearch.strategies;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_objectives_do_not_import_strategies_or_trackers() -> None:
    code = (
        "import sys, recsearch.objectives;"
        "print(sorted(m for m in sys.modules if m.startswith(('recsearch.strategies',"
        " 'recsearch.trackers'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
