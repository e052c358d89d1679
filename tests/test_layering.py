"""The dependency direction of STYLE.md section 7, checked by importing every module for real.

``spaces``, ``strategies``, ``trackers``, ``data`` (and the torch-free parts of ``study`` and
``report``) never import torch; no module of ``objectives`` imports ``strategies`` or
``trackers``. Each check runs in a fresh interpreter, so what another test imported cannot hide
an import.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_WALK = """
import importlib, json, pkgutil, sys
names = []
for package in {packages!r}:
    mod = importlib.import_module(package)
    names.append(package)
    for info in pkgutil.walk_packages(getattr(mod, "__path__", []), package + "."):
        importlib.import_module(info.name)
        names.append(info.name)
for name in {modules!r}:
    importlib.import_module(name)
    names.append(name)
print(json.dumps({{"imported": names, "loaded": sorted(sys.modules)}}))
"""

TORCH_FREE = ("recsearch.spaces", "recsearch.strategies", "recsearch.trackers", "recsearch.data")
TORCH_FREE_MODULES = (
    "recsearch.spec",
    "recsearch.storage",
    "recsearch.study.settings",
    "recsearch.failures",
    "recsearch.study.failures",
    "recsearch.study.studies",
    "recsearch.study.worker",
    "recsearch.report.stats",
)


def _import_all(packages: tuple[str, ...], modules: tuple[str, ...] = ()) -> dict[str, list[str]]:
    code = _WALK.format(packages=list(packages), modules=list(modules))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _assert_torch_free(result: dict[str, list[str]]) -> None:
    torch = [m for m in result["loaded"] if m == "torch" or m.startswith("torch.")]
    assert not torch, "torch imported by one of: " + ", ".join(result["imported"])


def test_torch_free_packages_never_import_torch() -> None:
    result = _import_all(TORCH_FREE, TORCH_FREE_MODULES)
    assert len(result["imported"]) > 30  # every module of those packages, not only __init__
    _assert_torch_free(result)


def test_objectives_modules_never_import_strategies_or_trackers() -> None:
    result = _import_all(("recsearch.objectives",))
    assert "recsearch.objectives.trainer" in result["imported"]
    assert "torch" in result["loaded"]  # the modules were really imported
    wrong = [m for m in result["loaded"]
             if m.startswith(("recsearch.strategies", "recsearch.trackers"))]  # fmt: skip
    assert wrong == []


@pytest.mark.parametrize(
    "package",
    ["recsearch.data", "recsearch.spaces", "recsearch.objectives", "recsearch.strategies"],
)
def test_lower_packages_never_import_the_study_layer(package: str) -> None:
    # NOTE: study, runner, compare and cli sit above these packages (STYLE.md section 7).
    result = _import_all((package,))
    above = ("recsearch.study", "recsearch.runner", "recsearch.compare", "recsearch.cli")
    wrong = [m for m in result["loaded"] if m.startswith(above)]
    assert wrong == [], f"{package} imports {wrong}"


def test_the_check_fails_when_torch_appears() -> None:
    # NOTE: the layering check must be able to fail: a spaces module that imports torch.
    result = _import_all(("recsearch.spaces",), ("recsearch.objectives.model",))
    with pytest.raises(AssertionError, match="torch imported"):
        _assert_torch_free(result)
