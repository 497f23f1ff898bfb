"""Progress in a real Jupyter kernel: no "install ipywidgets" notice from rich (nor tqdm's
"IProgress not found"), an ipywidgets bar where ipywidgets is installed, a line of text
updated in place where it is not; both gone when the work ends."""

from __future__ import annotations

import pytest

from notebook_kernel import PYTHON, execute, message_texts, output_texts

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

WORK = [
    "import sys\nimport embscope\nprint(sys.executable)",
    "run = embscope.train.sentiment('../shared/data/sst/stsa.binary.train', epochs=1, "
    "random_state=0)",
    "report = embscope.tokens.scan('minilm')",
    # what huggingface_hub, transformers and umap-learn import: tqdm's notebook chooser
    "import tqdm.auto",
]
# ``sys.modules[name] = None`` makes ``import name`` fail: a kernel without ipywidgets
WITHOUT_IPYWIDGETS = "import sys\nsys.modules['ipywidgets'] = None"
NOTICES = ('install "ipywidgets"', "IProgress not found", "ipywidgets")


def assert_no_notice(notebook, messages) -> None:
    for text in [*output_texts(notebook), *message_texts(messages)]:
        for notice in NOTICES:
            assert notice not in text, text[:500]


def displayed(messages, kind: str) -> list[str]:
    return [
        m["content"]["data"].get("text/plain", "")
        for m in messages
        if m["type"] == kind and "data" in m["content"]
    ]


@pytest.mark.slow  # a kernel, a training epoch and a token scan (about 12 s)
def test_without_ipywidgets_progress_is_a_line_of_text(private_cache):
    notebook, messages = execute([WITHOUT_IPYWIDGETS, *WORK], cache=private_cache)
    assert notebook.cells[1].outputs[0]["text"].strip() == PYTHON
    assert_no_notice(notebook, messages)
    shown = displayed(messages, "display_data") + displayed(messages, "update_display_data")
    assert any(text.startswith("training ") and "0%" in text for text in shown)
    assert any(text.startswith("epoch 1/1") and "━" in text for text in shown)
    assert any(text.startswith("token indicators") for text in shown)
    # and gone at the end: each bar's output ends empty, and nothing went to stderr
    for cell in notebook.cells[2:4]:
        assert all(
            o.get("data", {}) == {"text/plain": ""}
            for o in cell.outputs
            if o.output_type == "display_data"
        )
        assert all(o.output_type != "stream" for o in cell.outputs)


@pytest.mark.slow  # a kernel, a training epoch and a token scan (about 12 s)
def test_with_ipywidgets_progress_is_a_widget_bar(private_cache):
    pytest.importorskip("ipywidgets")
    notebook, messages = execute(WORK, cache=private_cache)
    assert_no_notice_but_widgets(notebook, messages)
    bars = [
        m["content"]["data"]
        for m in messages
        if m["type"] == "display_data"
        and "application/vnd.jupyter.widget-view+json" in m["content"].get("data", {})
    ]
    assert len(bars) >= 3  # training, the tokenizer audit, the indicators
    assert all("FloatProgress" in bar["text/plain"] for bar in bars)
    assert "Label(value='training')" in bars[0]["text/plain"]
    # the saved notebook keeps no view of a closed widget: each bar's output ends empty
    for cell in notebook.cells[1:3]:
        assert all(
            o.get("data", {}) == {"text/plain": ""}
            for o in cell.outputs
            if o.output_type == "display_data"
        )


def assert_no_notice_but_widgets(notebook, messages) -> None:
    for text in [*output_texts(notebook), *message_texts(messages)]:
        assert 'install "ipywidgets"' not in text and "IProgress not found" not in text
