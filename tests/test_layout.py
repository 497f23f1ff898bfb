"""The package layout's rules, checked on the real source tree.

* every module imports on its own (no module works only because another was imported first);
* no import cycle among module-level imports (function-level, lazy imports are the way out);
* no module reaches a ``_private`` name of a module outside its own folder;
* no module over 600 lines, and the front end's ``main.ts`` under 400;
* the public surface: ``embscope.__all__`` and every other ``__all__`` name what they export.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import embscope

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PACKAGE_DIR = SRC / "embscope"
MAX_MODULE_LINES = 600
MAIN_TS = REPO / "frontend" / "src" / "main.ts"
MAX_MAIN_TS_LINES = 400


def _module_files() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its own name)."""
    modules: dict[str, Path] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if "static" in parts or "__pycache__" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _module_files()
PACKAGES = {name for name, path in MODULES.items() if path.name == "__init__.py"}


def _package_of(module: str) -> str:
    """The folder a module lives in, dotted: a package is its own folder."""
    return module if module in PACKAGES else module.rpartition(".")[0]


def _is_inside(package: str, folder: str) -> bool:
    return package == folder or package.startswith(folder + ".")


def _tree(module: str) -> ast.Module:
    path = MODULES[module]
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute name of what ``from ... import`` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = _package_of(module).split(".")
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run when the module is imported: the module body, the branches of
    its ``if``/``try``/``with`` blocks and class bodies, but not function bodies nor the
    ``if TYPE_CHECKING:`` branch (its ``else`` runs, so it counts)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(stmt, ast.If):
            if not _is_type_checking(stmt.test):
                yield from _import_time_statements(stmt.body)
            yield from _import_time_statements(stmt.orelse)
        elif isinstance(stmt, ast.Try) or (
            sys.version_info >= (3, 11) and isinstance(stmt, ast.TryStar)
        ):
            yield from _import_time_statements(stmt.body)
            for handler in stmt.handlers:
                yield from _import_time_statements(handler.body)
            yield from _import_time_statements(stmt.orelse)
            yield from _import_time_statements(stmt.finalbody)
        elif isinstance(stmt, (ast.With, ast.AsyncWith, ast.ClassDef, ast.For, ast.While)):
            yield from _import_time_statements(stmt.body)
            yield from _import_time_statements(getattr(stmt, "orelse", []))


def _import_edges(module: str) -> set[str]:
    """The embscope modules ``module`` imports at import time."""
    ancestors = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
    if module in PACKAGES:
        ancestors.add(module)
    edges: set[str] = set()

    def reach(target: str) -> None:
        # importing a.b.c runs a/__init__ and a/b/__init__ too, unless they are the importer's
        # own packages (those are already being imported before the importer runs)
        parts = target.split(".")
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            if prefix in MODULES and prefix not in ancestors:
                edges.add(prefix)
        if target in MODULES and target not in ancestors:
            edges.add(target)

    for stmt in _import_time_statements(_tree(module).body):
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                reach(alias.name)
        elif isinstance(stmt, ast.ImportFrom):
            source = _resolve(module, stmt)
            if source not in MODULES:
                continue
            reach(source)
            for alias in stmt.names:
                submodule = f"{source}.{alias.name}"
                if submodule in MODULES:
                    edges.add(submodule)
                else:
                    # a name the package's __init__ defines: its own package too
                    edges.add(source)
    edges.discard(module)
    # a package importing its own children is how packages work: not a cycle
    return {edge for edge in edges if not (module in PACKAGES and _is_inside(edge, module))}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = grey
        stack.append(node)
        for nxt in sorted(graph[node]):
            if colour[nxt] == grey:
                return [*stack[stack.index(nxt) :], nxt]
            if colour[nxt] == white and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        colour[node] = black
        return None

    for node in sorted(graph):
        if colour[node] == white and (cycle := visit(node)):
            return cycle
    return None


def test_module_table_is_the_real_tree() -> None:
    assert "embscope" in PACKAGES
    assert "embscope.space" in MODULES
    assert Path(embscope.__file__).resolve() == (PACKAGE_DIR / "__init__.py").resolve()


_IMPORT_EACH = """
import importlib, json, sys, traceback
failures = {}
for name in json.loads(sys.argv[1]):
    for loaded in [m for m in sys.modules if m == "embscope" or m.startswith("embscope.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except BaseException as error:
        last = traceback.extract_tb(error.__traceback__)[-1]
        failures[name] = f"{type(error).__name__}: {error} ({last.filename}:{last.lineno})"
print(json.dumps(failures))
"""


@pytest.mark.slow  # one fresh interpreter per module (about 14 s)
def test_every_module_imports_alone() -> None:
    names = sorted(name for name in MODULES if name != "embscope.__main__")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH, json.dumps(names)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert not failures, "modules that do not import on their own:\n" + "\n".join(
        f"{name}: {error}" for name, error in sorted(failures.items())
    )


def test_no_module_level_import_cycle() -> None:
    graph = {module: _import_edges(module) for module in MODULES}
    assert any(graph.values()), "no import edges found: the parser is broken"
    cycle = _find_cycle(graph)
    assert cycle is None, "module-level import cycle: " + " -> ".join(cycle or [])


def _module_aliases(module: str, tree: ast.Module) -> dict[str, str]:
    """Local names bound to embscope modules by any import in the file."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and alias.name in MODULES:
                    aliases[alias.asname] = alias.name
                elif not alias.asname and alias.name.split(".")[0] == "embscope":
                    aliases["embscope"] = "embscope"
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            for alias in node.names:
                if f"{source}.{alias.name}" in MODULES:
                    aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
    return aliases


def _private_offences(module: str) -> list[str]:
    tree = _tree(module)
    package = _package_of(module)
    offences: list[str] = []

    def check(source: str, name: str) -> None:
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            return
        if f"{source}.{name}" in MODULES:  # a private module: embscope-internal, fine
            return
        if not _is_inside(package, _package_of(source)):
            offences.append(f"{module}: imports {name} from {source}")

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            if source in MODULES:
                for alias in node.names:
                    check(source, alias.name)
    aliases = _module_aliases(module, tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        chain: list[str] = []
        value: ast.expr = node
        while isinstance(value, ast.Attribute):
            chain.append(value.attr)
            value = value.value
        if not isinstance(value, ast.Name) or value.id not in aliases:
            continue
        # only the outermost private attribute of the chain: x.mod._name, as x.mod._name.y
        target = aliases[value.id]
        path = chain[::-1]
        for depth, attr in enumerate(path):
            if f"{target}.{attr}" in MODULES:
                target = f"{target}.{attr}"
                continue
            if depth == len(path) - 1:
                check(target, attr)
            break
    return offences


def test_no_private_name_reached_across_folders() -> None:
    offences = [offence for module in MODULES for offence in _private_offences(module)]
    assert not offences, "private names used outside their folder:\n" + "\n".join(
        sorted(set(offences))
    )


def test_no_module_over_600_lines() -> None:
    counts = {
        name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()
    }
    over = {name: count for name, count in counts.items() if count > MAX_MODULE_LINES}
    assert not over, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(
        f"{MODULES[name].relative_to(REPO)}: {count}" for name, count in sorted(over.items())
    )


def test_main_ts_is_small() -> None:
    if not MAIN_TS.exists():
        return
    count = len(MAIN_TS.read_text(encoding="utf-8").splitlines())
    assert count < MAX_MAIN_TS_LINES, f"{MAIN_TS.relative_to(REPO)}: {count} lines"


def _all_order(name: str) -> tuple[int, list[int | str]]:
    """ruff's isort-style ``__all__`` order (RUF022, which the project's lint applies):
    SCREAMING_CASE first, then CamelCase, then the rest, each in natural order."""
    if len(name) > 1 and name.isupper():
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    natural = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
    return group, natural


def test_all_is_sorted_unique_and_importable() -> None:
    names = embscope.__all__
    assert len(set(names)) == len(names), "duplicates in embscope.__all__"
    assert list(names) == sorted(names, key=_all_order), (
        "embscope.__all__ is not in ruff's __all__ order (RUF022: constants, classes, the rest)"
    )
    missing = [name for name in names if not hasattr(embscope, name)]
    assert not missing, f"in embscope.__all__ but not importable: {missing}"


def _top_level_bindings(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for stmt in _import_time_statements(tree.body):
        if isinstance(stmt, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in stmt.names)
        elif isinstance(stmt, ast.Import):
            names.update(alias.asname or alias.name.split(".")[0] for alias in stmt.names)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names.update(
                node.id
                for target in targets
                for node in ast.walk(target)
                if isinstance(node, ast.Name)
            )
    return names


def test_every_public_class_and_function_of_the_init_is_in_all() -> None:
    bound = _top_level_bindings(_tree("embscope"))
    assert "load" in bound and "EmbeddingSpace" in bound
    left_out = sorted(
        name
        for name in bound
        if not name.startswith("_")
        and name != "annotations"
        and not inspect.ismodule(getattr(embscope, name, None))
        and (inspect.isclass(getattr(embscope, name)) or inspect.isroutine(getattr(embscope, name)))
        and name not in embscope.__all__
    )
    assert not left_out, f"public in embscope/__init__.py but not in __all__: {left_out}"


def test_export_is_the_function_and_shadows_no_module() -> None:
    assert callable(embscope.export) and not inspect.ismodule(embscope.export)
    assert inspect.isfunction(embscope.export)
    spec = importlib.util.find_spec("embscope.export")
    assert spec is None, f"a module embscope.export exists beside the function: {spec.origin}"
    assert "embscope.export" not in MODULES


def test_every_all_names_importable_names() -> None:
    with_all = [
        module
        for module in MODULES
        if module != "embscope"
        and any(
            isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign))
            and any(
                isinstance(node, ast.Name) and node.id == "__all__"
                for target in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])
                for node in ast.walk(target)
            )
            for stmt in _tree(module).body
        )
    ]
    assert "embscope.projection" in with_all
    problems: list[str] = []
    for module in with_all:
        loaded = importlib.import_module(module)
        names = list(loaded.__all__)
        if len(set(names)) != len(names):
            problems.append(f"{module}: duplicates in __all__")
        problems.extend(
            f"{module}: {name} in __all__ but not importable"
            for name in names
            if not hasattr(loaded, name)
        )
    assert not problems, "\n".join(problems)
