"""The example notebooks: committed without outputs, built by their script, and they run.

Each notebook is executed with nbclient at tiny budgets (``RECSEARCH_NOTEBOOK_SMOKE=1``) on
generated data (``RECSEARCH_DATASET=synthetic``), in a temporary working directory that receives
the MLflow store and the reports.
"""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("01_quickstart.ipynb", "02_compare_strategies.ipynb", "03_custom_space.ipynb")


def _builder() -> Any:
    path = NOTEBOOKS / "build_notebooks.py"
    spec = importlib.util.spec_from_file_location("build_notebooks", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs_and_up_to_date(name: str, tmp_path: Path) -> None:
    committed = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in committed.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name} has outputs"
    _builder().build(tmp_path)
    rebuilt = nbformat.read(tmp_path / name, as_version=4)
    assert [c.source for c in rebuilt.cells] == [c.source for c in committed.cells], (
        f"{name} differs from notebooks/build_notebooks.py; rerun the script"
    )


def _execute(name: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("RECSEARCH_NOTEBOOK_SMOKE", "1")
    monkeypatch.setenv("RECSEARCH_DATASET", "synthetic")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{workdir / 'mlflow.db'}")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    return nb


def _text(nb: Any) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(str(out.get("data", {}).get("text/plain", "")))
            parts.append(str(out.get("data", {}).get("text/markdown", "")))
    return "\n".join(parts)


def _runs(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return int(con.execute("select count(*) from runs").fetchone()[0])


def test_quickstart_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = _execute("01_quickstart.ipynb", tmp_path, monkeypatch)
    text = _text(nb)
    assert "best validation AUC" in text
    assert f"mlflow ui --backend-store-uri sqlite:///{tmp_path / 'mlflow.db'}" in text
    assert _runs(tmp_path / "mlflow.db") == 1 + 3  # the study's parent and three trials


def test_compare_strategies_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = _execute("02_compare_strategies.ipynb", tmp_path, monkeypatch)
    assert any(
        "image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", [])
    )
    report = tmp_path / "reports" / "compare"
    assert (report / "anytime.png").exists() and (report / "results.md").exists()
    assert "| hyperband |" in _text(nb)


def test_custom_space_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = _execute("03_custom_space.ipynb", tmp_path, monkeypatch)
    text = _text(nb)
    assert "best score" in text and "parameters" in text
    assert _runs(tmp_path / "mlflow.db") == 1 + 4
