"""examples/tutorials.ipynb, executed top to bottom in a fresh kernel of this interpreter (the
repository root as its working directory, the session's private cache): no cell fails, and
its outputs say what the tutorials teach."""

from __future__ import annotations

import re

import nbformat
import pytest

from notebook_kernel import PYTHON, REPO, execute, message_texts, output_texts

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = REPO / "examples" / "tutorials.ipynb"


def test_the_committed_notebook_has_no_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)
    titles = [
        cell.source.splitlines()[0] for cell in notebook.cells if cell.cell_type == "markdown"
    ]
    assert "## The explorer, inline" in titles


def cell_after(notebook, text: str):
    """The first code cell whose source holds ``text``."""
    return next(c for c in notebook.cells if c.cell_type == "code" and text in c.source)


def html_of(cell) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)


@pytest.mark.slow  # the whole notebook: training, t-SNE, encoding 200 texts (about 45 s)
def test_the_tutorials_notebook_runs(private_cache):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import sys\nprint(sys.executable)"))
    executed, messages = execute(notebook, cache=private_cache)
    assert executed.cells[-1].outputs[0]["text"].strip() == PYTHON  # the venv's kernel
    for cell in executed.cells:
        assert all(o.output_type != "error" for o in cell.get("outputs", []))

    # the sentiment model: its run, curves and all, and the polarity it learned
    assert "loss by epoch" in html_of(cell_after(executed, "embscope.train.sentiment("))
    printed = cell_after(executed, "cos(wonderful, horrible)").outputs[0]["text"]
    similarity = float(re.search(r"cos\(wonderful, horrible\) = (-?[\d.]+)", printed)[1])
    assert similarity < -0.5
    # the terrible cluster, drawn
    cluster = html_of(cell_after(executed, 'neighborhood("terrible"'))
    assert "t-SNE 2D" in cluster and "Plotly.newPlot" in cluster
    # the direction holds most of the variance, about as much as PCA's first component
    shares = re.search(
        r"holds (\d+)% of the variance; PCA's first component (\d+)%",
        cell_after(executed, "variance_share()").outputs[0]["text"],
    )
    assert int(shares[1]) > 50 and abs(int(shares[1]) - int(shares[2])) <= 5
    # the lecture's profile figure (plotly's own notebook output)
    profile = cell_after(executed, "embscope.figures.distance_profile(")
    figure = profile.outputs[0]["data"]["application/vnd.plotly.v1+json"]
    assert "beauty" in figure["layout"]["title"]["text"]
    # the token scan found candidates among MiniLM's reachable tokens
    found = re.search(
        r"Candidates, most likely first \(([\d,]+)\)",
        html_of(cell_after(executed, "embscope.tokens.scan(")),
    )
    assert int(found[1].replace(",", "")) > 0
    # AG News: the classes separate
    separation = html_of(cell_after(executed, "docs.separation()"))
    knn = float(re.search(r"kNN \(k=\d+, cosine\) <b>([\d.]+)</b>", separation)[1])
    assert knn > 0.6
    # and no progress bar left a notice behind
    for text in [*output_texts(executed), *message_texts(messages)]:
        assert 'install "ipywidgets"' not in text and "IProgress not found" not in text
