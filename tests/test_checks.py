"""Checks written down in pyproject.toml that must also run: ruff on src/, the doctests of src/."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(
    importlib.util.find_spec("ruff") is None,
    reason="ruff is not installed (it is in the test dependency group: make install)",
)
def test_ruff_finds_nothing_in_src() -> None:
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "src"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-1000:]


def test_doctests_of_src_pass(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--doctest-modules", str(ROOT / "src" / "recsearch"),
         "-q", "-p", "no:cacheprovider", "-o", "addopts=", f"--rootdir={ROOT}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert " passed" in proc.stdout and " failed" not in proc.stdout
