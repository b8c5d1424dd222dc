"""The lesson as notebooks: examples/lesson.ipynb and lesson.zh.ipynb run top to bottom without an error.

Run with nbclient in a fresh Python kernel (ipykernel), in a scratch folder;
the notebooks are kept in git with their outputs cleared (checked here too).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = ["lesson.ipynb", "lesson.zh.ipynb"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom(name, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="pip install nbformat nbclient ipykernel")
    nbclient = pytest.importorskip("nbclient", reason="pip install nbformat nbclient ipykernel")
    pytest.importorskip("ipykernel", reason="pip install ipykernel")
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    assert all(
        not cell.get("outputs") and not cell.get("execution_count") for cell in nb.cells if cell.cell_type == "code"
    ), "keep notebook outputs cleared in git"
    src = str(Path(__file__).resolve().parents[1] / "src")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])))
    client = nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",  # the kernel imports this chainrule
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on the first cell that fails
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    shown = [out for out in outputs if out.get("data", {}).get("text/html", "").startswith("<iframe srcdoc=")]
    assert len(shown) == 2  # the lesson's explorer and the model's, inline
    text = "".join(out.get("text", "") for out in outputs)
    assert "0.18583185743835806" in text  # ∂loss/∂k, the lesson's number
