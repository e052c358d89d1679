"""Block-type descriptors: one per BlockType, torch-free."""

from __future__ import annotations

import subprocess
import sys

from recsearch.blocktypes import KINDS
from recsearch.spec import BLOCK_TYPES


def test_one_descriptor_per_block_type() -> None:
    assert list(KINDS) and set(KINDS) == set(BLOCK_TYPES)
    assert all(k.view in ("vector", "embedding") for k in KINDS.values())


def test_descriptors_import_without_torch() -> None:
    code = "import sys, recsearch.blocktypes, recsearch.spaces; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
