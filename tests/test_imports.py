"""Importing embscope stays light: heavy libraries load only inside the functions needing them."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "torch",
    "transformers",
    "pandas",
    "pyarrow",
    "h5py",
    "gensim",
    "huggingface_hub",
    "plotly",
    "sklearn",
    "openTSNE",
    "umap",
    "numba",
)


def _modules_after(code: str) -> set[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(completed.stdout.splitlines()[-1]))


def test_import_loads_no_heavy_library():
    loaded = _modules_after("import embscope")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_loading_a_checkpoint_needs_neither_torch_nor_transformers():
    loaded = _modules_after("import embscope; embscope.load('minilm').neighbors('good')")
    assert not loaded & {"torch", "transformers", "tensorflow", "keras"}


def test_missing_optional_dependency_names_the_extra(tmp_path):
    # a real interpreter in which h5py cannot be imported: the Keras reader must say what to do
    probe = (
        "import sys; sys.modules['h5py'] = None\n"
        "import embscope\n"
        "try:\n"
        f"    embscope.load({str(tmp_path / 'model.keras')!r})\n"
        "except embscope.MissingDependencyError as error:\n"
        "    print(error)\n"
    )
    (tmp_path / "model.keras").write_bytes(b"PK\x05\x06" + bytes(18))
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert "pip install 'embscope[keras]'" in completed.stdout


def test_figures_is_an_attribute_that_loads_plotly_only_when_asked():
    loaded = _modules_after("import embscope; embscope.figures.distance_profile")
    assert "embscope.figures" in loaded
    assert "plotly" not in loaded  # plotly waits for the first figure
