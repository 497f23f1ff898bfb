"""Run notebook cells in a real Jupyter kernel (nbclient), recording every message the kernel
sends to the page, so tests see what a notebook user sees, updates and widgets included."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat

REPO = Path(__file__).resolve().parents[1]

# messages that put something on the page
SHOWN = ("stream", "display_data", "update_display_data", "execute_result", "error")


def kernel_environment(cache: Path) -> dict[str, str]:
    """The test process's environment with the session's private cache: the kernel reads and
    writes the same cache as the tests, and nothing of a developer's."""
    return {**os.environ, "EMBSCOPE_CACHE": str(cache)}


def execute(
    notebook: nbformat.NotebookNode | Sequence[str],
    *,
    cache: Path,
    timeout: int = 600,
) -> tuple[nbformat.NotebookNode, list[dict[str, Any]]]:
    """Execute ``notebook`` (or code cells given as strings) in a fresh ``python3`` kernel of
    this interpreter, in the repository root; return it with its outputs, and the messages
    (type and content, with the cell's index) in the order the kernel sent them. A cell that
    raises fails the call (nbclient's CellExecutionError names the cell)."""
    from nbclient import NotebookClient

    if not isinstance(notebook, nbformat.NotebookNode):
        notebook = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(source) for source in notebook]
        )
    messages: list[dict[str, Any]] = []

    class Recording(NotebookClient):
        def process_message(self, msg: dict, cell: Any, cell_index: int) -> Any:
            if msg["msg_type"] in SHOWN:
                messages.append(
                    {"cell": cell_index, "type": msg["msg_type"], "content": msg["content"]}
                )
            return super().process_message(msg, cell, cell_index)

    client = Recording(
        notebook,
        kernel_name="python3",
        timeout=timeout,
        resources={"metadata": {"path": str(REPO)}},
    )
    client.execute(env=kernel_environment(cache))
    return notebook, messages


def output_texts(notebook: nbformat.NotebookNode) -> list[str]:
    """Every text the executed notebook holds: streams, tracebacks, and each output's text,
    HTML and JSON payloads."""
    import json

    texts: list[str] = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.extend(output.get("traceback", []))
            texts.extend(
                value if isinstance(value, str) else json.dumps(value)
                for value in output.get("data", {}).values()
            )
    return texts


def message_texts(messages: list[dict[str, Any]]) -> list[str]:
    import json

    return [json.dumps(message["content"], ensure_ascii=False) for message in messages]


#: the interpreter the kernel must run (the kernelspec's "python" is replaced by it)
PYTHON = sys.executable
