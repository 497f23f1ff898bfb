"""The README's examples run: Python sessions as doctests, shell sessions through the CLI."""

from __future__ import annotations

import doctest
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from embscope.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README.read_text()) if lang == language]


def test_readme_has_examples():
    assert len(_blocks("pycon")) >= 2 and len(_blocks("console")) >= 2


@pytest.mark.slow  # runs every README example (about 10 s)
def test_python_examples(tmp_path, monkeypatch, shared_data):
    # the examples write files, and read ../shared/data as from the repository's root
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "shared").symlink_to(shared_data.parent, target_is_directory=True)
    monkeypatch.chdir(work)
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    namespace: dict = {}
    for number, block in enumerate(_blocks("pycon")):
        test = parser.get_doctest(block, namespace, f"README block {number}", str(README), 0)
        runner.run(test, clear_globs=False)
        namespace = test.globs
    assert runner.failures == 0, f"{runner.failures} README example(s) failed; see output above"


def _shell_sessions() -> list[tuple[str, list[str]]]:
    sessions = []
    for block in _blocks("console"):
        command, shown = None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command:
                    sessions.append((command, shown))
                command, shown = line[2:], []
            elif command and line.strip():
                shown.append(line.strip())
        if command:
            sessions.append((command, shown))
    return sessions


@pytest.mark.parametrize(("command", "shown"), _shell_sessions(), ids=lambda v: str(v)[:60])
def test_shell_examples(command, shown, tmp_path, monkeypatch):
    if not command.startswith("embscope "):
        pytest.skip("not an embscope command (install steps are exercised by CI itself)")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, shlex.split(command)[1:], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    squeezed = " ".join(result.output.split())
    for line in shown:
        assert " ".join(line.split()) in squeezed, f"README shows {line!r}; got:\n{result.output}"
