"""The web explorer's front end against what it is built from and talks to: the types in
frontend/src/api.ts, written by hand, against the server's OpenAPI schemas; and the bundles
committed in src/embscope/server/static (the served page) and src/embscope/notebook/static (the
notebook widget's widget.js) against the sources in frontend/."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

import embscope
from embscope.server import create_app

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
API_TS = FRONTEND / "src" / "api.ts"
STATIC = ROOT / "src" / "embscope" / "server" / "static"
WIDGET_STATIC = ROOT / "src" / "embscope" / "notebook" / "static"
REBUILD = "run: cd frontend && npm install && npm run build"

pytestmark = pytest.mark.skipif(
    not API_TS.is_file(), reason="the front end's sources are not here (an installed package)"
)

# api.ts's interface -> the schema in components.schemas it types, where the names differ
SCHEMA_OF = {
    "Source": "SourceInfo",
    "Neighbors": "NeighborsAnswer",
    "Similarity": "SimilarityAnswer",
    "Profile": "ProfileAnswer",
    "Classes": "ClassesAnswer",
    "Job": "JobAnswer",
    "TokenScan": "TokenScanAnswer",
    "Comparison": "ComparisonAnswer",
    "Moved": "MovedAnswer",
    "SideBySide": "SideBySideAnswer",
}
# api.ts's interfaces that type no schema of their own
NOT_SCHEMAS = {
    # pydantic copies a base model's fields into each subclass's schema
    "QueryKeys": "the fields NeighborsAnswer and ProfileAnswer share",
    "Asking": "options sent in a query string",
}
# schemas the page has no use for, so api.ts need not type them (none yet); FastAPI's own
# validation errors are read field by field in api.ts's errorOf
UNTYPED_SCHEMAS = {"HTTPValidationError", "ValidationError"}
# what the bundles are built from is listed in vite.config.ts; these must be among it
REQUIRED_BUILD_INPUTS = {
    "src",
    "index.html",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "vite.config.ts",
    "vite.widget.config.ts",
}


# ---- reading api.ts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TsField:
    name: str
    optional: bool
    type: str


@dataclass(frozen=True)
class TsInterface:
    name: str
    extends: tuple[str, ...]
    fields: dict[str, TsField]


def without_comments(source: str) -> str:
    """``source`` with its comments blanked out; string and template literals are kept whole,
    so that a "//" inside one is not taken for a comment."""
    out, i = [], 0
    while i < len(source):
        two = source[i : i + 2]
        if two == "//":
            i = source.find("\n", i)
            i = len(source) if i < 0 else i
        elif two == "/*":
            end = source.index("*/", i + 2) + 2
            # the lines stay, for error messages that name where in the file a thing is
            out.append("\n" * source.count("\n", i, end))
            i = end
        elif source[i] in "\"'`":
            end = i + 1
            while source[end] != source[i]:
                end += 2 if source[end] == "\\" else 1
            out.append(source[i : end + 1])
            i = end + 1
        else:
            out.append(source[i])
            i += 1
    return "".join(out)


OPENING, CLOSING = "([{<", ")]}>"


NAME = r"(?:readonly\s+)?(?P<name>[A-Za-z_$][\w$]*|\"[^\"]+\"|'[^']+')\s*(?P<optional>\?)?\s*:"
MEMBER = re.compile(NAME + r"\s*(?P<type>.+)", re.DOTALL)
# a line that starts a member: where one ends that has no ";" or ","
MEMBER_LINE = re.compile(r"\s*" + NAME)


def split_top_level(text: str, separators: str, line_starts: re.Pattern | None = None) -> list[str]:
    """``text`` cut at the ``separators`` that are outside brackets and string literals, and
    (with ``line_starts``) at the line breaks outside them before a line it matches."""
    parts, depth, start, quote = [], 0, 0, None
    for i, character in enumerate(text):
        if quote:
            quote = None if character == quote and text[i - 1] != "\\" else quote
        elif character in "\"'`":
            quote = character
        elif character in OPENING:
            depth += 1
        elif character in CLOSING and not (character == ">" and text[i - 1] == "="):
            depth -= 1
        elif depth == 0 and (
            character in separators
            or (character == "\n" and line_starts and line_starts.match(text, i + 1))
        ):
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def closing(text: str, opening: int) -> int:
    """The index of the bracket closing the one at ``opening``."""
    pair = {"{": "}", "(": ")", "[": "]"}
    depth = 0
    for i in range(opening, len(text)):
        depth += {text[opening]: 1, pair[text[opening]]: -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise AssertionError(f"unclosed {text[opening]!r} in {text[opening : opening + 60]!r}")


def interfaces(source: str) -> dict[str, TsInterface]:
    """Every ``export interface X [extends A, B] { ... }`` in ``source``."""
    source = without_comments(source)
    found = {}
    head = re.compile(r"export\s+interface\s+(\w+)\s*(?:<[^>{]*>)?\s*(?:extends\s+([^{]+))?\{")
    for match in head.finditer(source):
        name, extends = match.group(1), match.group(2) or ""
        opening = match.end() - 1
        body = source[opening + 1 : closing(source, opening)]
        fields = {}
        for member in split_top_level(body, ";,", MEMBER_LINE):
            parsed = MEMBER.fullmatch(member)
            assert parsed, f"interface {name}: the test cannot read the member {member!r}"
            field = parsed.group("name").strip("\"'")
            fields[field] = TsField(field, bool(parsed.group("optional")), parsed.group("type"))
        bases = tuple(base.strip() for base in split_top_level(extends, ","))
        found[name] = TsInterface(name, bases, fields)
    return found


def type_aliases(source: str) -> dict[str, str]:
    source = without_comments(source)
    aliases = {}
    for match in re.finditer(r"export\s+type\s+(\w+)\s*=", source):
        aliases[match.group(1)] = split_top_level(source[match.end() :], ";")[0]
    return aliases


def all_fields(interface: TsInterface, known: dict[str, TsInterface]) -> dict[str, TsField]:
    """Its fields and those it inherits (its own win, as in TypeScript)."""
    fields = {}
    for base in interface.extends:
        assert base in known, f"{interface.name} extends {base}, which api.ts does not define"
        fields.update(all_fields(known[base], known))
    fields.update(interface.fields)
    return fields


def string_list(source: str, name: str) -> list[str]:
    """The string literals of ``const NAME ... = [ ... ]`` in ``source``."""
    match = re.search(rf"const\s+{name}\b[^=]*=\s*\[([^\]]*)\]", without_comments(source))
    assert match, f"no const {name} = [...]"
    return re.findall(r"[\"']([^\"']*)[\"']", match.group(1))


# ---- types, in one form for both sides ---------------------------------------------------------
#
# A type is a frozenset of alternatives: ("null",), ("any",), ("boolean",), ("string", literals),
# ("number", literals) (an integer schema is a number here: TypeScript has only the one),
# ("array", item type), ("object", schema name, or None for a map).


def ts_type(text: str, aliases: dict[str, str], named: dict[str, str]) -> frozenset:
    """``text`` (a TypeScript type) in that form; ``named`` maps an interface to its schema."""
    text = text.strip()
    parts = split_top_level(text, "|")
    if len(parts) > 1:
        return merge_literals(frozenset().union(*(ts_type(part, aliases, named) for part in parts)))
    text = parts[0] if parts else text
    if text.startswith("readonly "):
        text = text.removeprefix("readonly ").strip()
    if text.startswith("(") and closing(text, 0) == len(text) - 1:
        return ts_type(text[1:-1], aliases, named)
    if text.endswith("[]"):
        return frozenset({("array", ts_type(text[:-2], aliases, named))})
    generic = re.fullmatch(r"(\w+)\s*<(.*)>", text, re.DOTALL)
    if generic and generic.group(1) in ("Array", "ReadonlyArray"):
        return frozenset({("array", ts_type(generic.group(2), aliases, named))})
    if generic and generic.group(1) == "Record":
        return frozenset({("object", None)})
    if re.fullmatch(r"\"[^\"]*\"|'[^']*'", text):
        return frozenset({("string", frozenset({text[1:-1]}))})
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return frozenset({("number", frozenset({float(text)}))})
    simple = {
        "string": ("string", None),
        "number": ("number", None),
        "boolean": ("boolean",),
        "true": ("boolean",),
        "false": ("boolean",),
        "null": ("null",),
        "unknown": ("any",),
        "any": ("any",),
    }
    if text in simple:
        return frozenset({simple[text]})
    if text.startswith("{"):
        return frozenset({("object", None)})
    if text in aliases:
        return ts_type(aliases[text], aliases, named)
    if text in named:
        return frozenset({("object", named[text])})
    raise AssertionError(f"the test cannot read the TypeScript type {text!r}")


def merge_literals(alternatives: frozenset) -> frozenset:
    """ "a" | "b" as one string of two literals (and a plain string swallows its literals)."""
    merged, rest = {}, set()
    for alternative in alternatives:
        if alternative[0] in ("string", "number"):
            kind, literals = alternative
            if kind in merged:
                literals = (
                    None if merged[kind] is None or literals is None else merged[kind] | literals
                )
            merged[kind] = literals
        else:
            rest.add(alternative)
    return frozenset(rest | {(kind, literals) for kind, literals in merged.items()})


def schema_type(schema: dict) -> frozenset:
    """An OpenAPI (3.1, JSON Schema) type in the same form."""
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf", schema.get("oneOf"))
        return merge_literals(frozenset().union(*(schema_type(option) for option in options)))
    if "$ref" in schema:
        return frozenset({("object", schema["$ref"].rsplit("/", 1)[-1])})
    kinds = schema.get("type")
    if kinds is None:
        return frozenset({("any",)})
    if isinstance(kinds, list):
        return merge_literals(
            frozenset().union(*(schema_type({**schema, "type": kind}) for kind in kinds))
        )
    literals = schema.get("enum", [schema["const"]] if "const" in schema else None)
    if kinds == "string":
        return frozenset({("string", None if literals is None else frozenset(literals))})
    if kinds in ("number", "integer"):
        values = None if literals is None else frozenset(float(v) for v in literals)
        return frozenset({("number", values)})
    if kinds == "array":
        return frozenset({("array", schema_type(schema.get("items", {})))})
    if kinds == "object":
        return frozenset({("object", None)})
    return frozenset({(kinds,)})


def type_mismatches(ts: frozenset, api: frozenset, where: str, request: bool) -> list[str]:
    """How a TypeScript type disagrees with a schema's. The page may know more than the schema
    says (the literals "cosine" | "euclidean" | "dot" for a str), never less or otherwise; in a
    ``request`` it may leave out the null the server would also take."""
    problems = []
    ts_null, api_null = ("null",) in ts, ("null",) in api
    if ts_null != api_null and not (request and api_null):
        problems.append(f"{where}: only {'api.ts' if ts_null else 'the schema'} allows null")
    ts, api = ts - {("null",)}, api - {("null",)}
    if ("any",) in ts or ("any",) in api:
        return problems
    by_kind_ts = {alternative[0]: alternative for alternative in ts if alternative[0] != "object"}
    by_kind_api = {alternative[0]: alternative for alternative in api if alternative[0] != "object"}
    objects_ts = {alternative for alternative in ts if alternative[0] == "object"}
    objects_api = {alternative for alternative in api if alternative[0] == "object"}
    if set(by_kind_ts) != set(by_kind_api) or objects_ts != objects_api:
        problems.append(f"{where}: api.ts has {show(ts)}, the schema {show(api)}")
        return problems
    for kind, alternative in by_kind_ts.items():
        other = by_kind_api[kind]
        if kind == "array":
            problems += type_mismatches(alternative[1], other[1], f"{where}[]", request)
        elif (
            kind in ("string", "number")
            and None not in (alternative[1], other[1])
            and alternative[1] != other[1]
        ):
            problems.append(
                f"{where}: api.ts allows {sorted(alternative[1])}, the schema {sorted(other[1])}"
            )
    return problems


def show(alternatives: frozenset) -> str:
    return " | ".join(sorted(repr(alternative) for alternative in alternatives))


# ---- the server's side --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app():
    """The app on a tiny space: the schemas do not depend on the sources."""
    space = embscope.EmbeddingSpace(
        np.eye(3, dtype=np.float32), ["alpha", "beta", "gamma"], name="tiny"
    )
    return create_app([space])


@pytest.fixture(scope="module")
def openapi(app) -> dict:
    return app.openapi()


def referenced_schemas(openapi: dict, where: str) -> set[str]:
    """The schemas the API's request bodies (``where="requestBody"``) or responses
    (``"responses"``) name, with those they name in turn."""
    schemas = openapi["components"]["schemas"]
    names: set[str] = set()
    pending = [
        ref
        for path in openapi["paths"].values()
        for operation in path.values()
        for ref in re.findall(r"#/components/schemas/(\w+)", str(operation.get(where, {})))
    ]
    while pending:
        name = pending.pop()
        if name not in names:
            names.add(name)
            pending += re.findall(r"#/components/schemas/(\w+)", str(schemas[name]))
    return names


def schema_name(interface: str) -> str:
    return SCHEMA_OF.get(interface, interface)


@pytest.fixture(scope="module")
def api_ts() -> str:
    return API_TS.read_text(encoding="utf-8")


# ---- api.ts against the schemas -----------------------------------------------------------------


def test_the_parser_reads_what_api_ts_writes():
    source = """
    // a comment with "quotes" and an interface Fake { no: string }
    export interface Base { id: string; }
    /** a doc comment: { braces } */
    export interface Child extends Base, Other<string> {
      readonly name?: string | null; // the name
      "quoted": number[][]
      nested: { a: string; b: number };
      union:
        | "a"
        | "b";
      url: `http://x/${"y"}`,
    }
    """
    found = interfaces(source)
    assert set(found) == {"Base", "Child"}
    child = found["Child"]
    assert child.extends == ("Base", "Other<string>")
    assert list(child.fields) == ["name", "quoted", "nested", "union", "url"]
    assert child.fields["name"] == TsField("name", True, "string | null")
    aliases, named = {}, {}
    assert ts_type(child.fields["union"].type, aliases, named) == {
        ("string", frozenset({"a", "b"}))
    }
    assert ts_type("(number | null)[][]", aliases, named) == {
        ("array", frozenset({("array", frozenset({("number", None), ("null",)}))}))
    }
    assert ts_type("Record<string, number> | null", aliases, named) == {("object", None), ("null",)}


def test_api_ts_types_every_schema_the_page_uses(openapi, api_ts):
    schemas = openapi["components"]["schemas"]
    declared = interfaces(api_ts)
    unaccounted = (
        set(declared) - set(NOT_SCHEMAS) - {i for i in declared if schema_name(i) in schemas}
    )
    assert not unaccounted, (
        f"api.ts's interfaces {sorted(unaccounted)} match no schema: map them in SCHEMA_OF, "
        "or list them in NOT_SCHEMAS"
    )
    used = referenced_schemas(openapi, "responses") | referenced_schemas(openapi, "requestBody")
    typed = {schema_name(interface) for interface in declared}
    untyped = used - typed - UNTYPED_SCHEMAS
    assert not untyped, f"the API uses schemas api.ts does not type: {sorted(untyped)}"


def test_every_response_field_is_always_sent(app):
    """A schema's ``required`` leaves out a field with a default, but FastAPI writes every field
    of a response model unless a route says otherwise: api.ts rightly declares them all present
    (``seconds: number | null``, not ``seconds?: ...``), as long as no route says otherwise."""
    for route in app.routes:
        if isinstance(route, APIRoute) and route.response_model is not None:
            assert not (
                route.response_model_exclude_unset
                or route.response_model_exclude_defaults
                or route.response_model_exclude_none
            ), f"{route.path} leaves fields out: api.ts must mark those optional"
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        (source,) = client.get("/api/sources").json()
    assert source["label_column"] is None  # a field with a default, there all the same


def test_api_ts_interfaces_match_the_schemas(openapi, api_ts):
    schemas = openapi["components"]["schemas"]
    declared = interfaces(api_ts)
    aliases = type_aliases(api_ts)
    named = {interface: schema_name(interface) for interface in declared}
    requests = referenced_schemas(openapi, "requestBody")
    answers = referenced_schemas(openapi, "responses")
    problems = []
    for interface in declared.values():
        name = schema_name(interface.name)
        if interface.name in NOT_SCHEMAS or name not in schemas:
            continue
        schema = schemas[name]
        fields = all_fields(interface, declared)
        properties = schema.get("properties", {})
        where = f"{interface.name} (schema {name})"
        if missing := sorted(set(properties) - set(fields)):
            problems.append(f"{where}: api.ts lacks {missing}")
        if extra := sorted(set(fields) - set(properties)):
            problems.append(f"{where}: the schema has no {extra}")
        required = set(schema.get("required", []))
        for field in sorted(set(fields) & set(properties)):
            ts, at = fields[field], f"{where}.{field}"
            # a schema in both is read by the page too, and held to the answers' rules
            request = name in requests and name not in answers
            if request:
                # the server's defaults are the page's to use or not: it may always send a
                # field the server does not require, never leave out one it does
                if ts.optional and field in required:
                    problems.append(f"{at}: the server requires it, api.ts makes it optional")
            elif ts.optional:
                problems.append(f"{at}: every answer has it, api.ts makes it optional")
            problems += type_mismatches(
                ts_type(ts.type, aliases, named), schema_type(properties[field]), at, request
            )
    assert not problems, "api.ts and the server's schemas disagree:\n" + "\n".join(problems)


def test_metrics_are_the_ones_the_server_accepts(openapi, api_ts):
    accepted = []
    for path, operations in openapi["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "metric":
                    (strings,) = [
                        alternative
                        for alternative in schema_type(parameter["schema"])
                        if alternative[0] == "string"
                    ]
                    accepted.append((path, strings[1]))
    assert accepted, "no route takes a metric any more"
    metrics = string_list(api_ts, "METRICS")
    assert len(set(metrics)) == len(metrics)
    for path, enum in accepted:
        assert enum == set(metrics), f"{path} accepts {sorted(enum)}, api.ts offers {metrics}"
    assert set(metrics) == set(embscope.VALID_METRICS)
    metric_type = ts_type("Metric", type_aliases(api_ts), {})
    assert metric_type == {("string", frozenset(metrics))}
    # the header's menu is a third copy
    page = (FRONTEND / "index.html").read_text(encoding="utf-8")
    menu = re.search(r'<select[^>]*id="metric"[^>]*>(.*?)</select>', page, re.DOTALL)
    assert menu, "index.html has no metric menu"
    assert re.findall(r'<option value="([^"]*)"', menu.group(1)) == metrics


# ---- the committed bundle against its sources ----------------------------------------------------


def build_inputs() -> list[str]:
    """What vite.config.ts hashes: the files and folders the bundle is built from."""
    inputs = string_list((FRONTEND / "vite.config.ts").read_text(encoding="utf-8"), "BUILD_INPUTS")
    assert set(inputs) >= REQUIRED_BUILD_INPUTS, (
        f"vite.config.ts's BUILD_INPUTS leaves out {sorted(REQUIRED_BUILD_INPUTS - set(inputs))}"
    )
    return inputs


def build_source_hash() -> str:
    """vite.config.ts's buildSourceHash, again: the SHA-256 of ``<sha256>  <path>`` lines for
    every input file, by their paths relative to frontend/ (with "/", ordered by their UTF-8
    bytes), the files' bytes as they are on disk."""
    files = []
    for name in build_inputs():
        path = FRONTEND / name
        if not path.is_dir():
            files.append(path)
            continue
        # as Node's readdir: no symbolic links (it does not follow them, nor count them as files)
        for folder, _, names in os.walk(path):
            files += [Path(folder, n) for n in names if not Path(folder, n).is_symlink()]
    paths = sorted((file.relative_to(FRONTEND).as_posix() for file in files), key=str.encode)
    listing = "".join(
        f"{hashlib.sha256((FRONTEND / path).read_bytes()).hexdigest()}  {path}\n" for path in paths
    )
    return hashlib.sha256(listing.encode()).hexdigest()


def test_the_bundle_is_built_from_the_sources():
    stamp = STATIC / "build-source.sha256"
    assert stamp.is_file(), f"{stamp.relative_to(ROOT)} is missing; {REBUILD}"
    assert stamp.read_text(encoding="ascii").strip() == build_source_hash(), (
        f"src/embscope/server/static was built from other sources than frontend/ holds; {REBUILD}"
    )


def test_the_widget_is_built_from_the_sources():
    """``npm run build`` writes widget.js and its own stamp before the served page: a widget.js
    left from other sources fails here even where the served page was rebuilt."""
    stamp = WIDGET_STATIC / "build-source.sha256"
    assert stamp.is_file(), f"{stamp.relative_to(ROOT)} is missing; {REBUILD}"
    assert stamp.read_text(encoding="ascii").strip() == build_source_hash(), (
        f"src/embscope/notebook/static was built from other sources than frontend/ holds; {REBUILD}"
    )


def test_the_widget_is_one_module_holding_the_served_page():
    widget = (WIDGET_STATIC / "widget.js").read_text(encoding="utf-8")
    # one module, anywidget's: nothing imported, no file beside it
    assert re.search(r"export\s*\{\s*\w+ as default\s*\}", widget)
    assert not re.search(r"^\s*import\b|\bimport\s*\(", widget, re.MULTILINE)
    assert "assets/" not in widget
    # the served page's markup, its script and styles inline, told it is embedded
    page = (FRONTEND / "index.html").read_text(encoding="utf-8")
    test_ids = set(re.findall(r'data-testid="([^"]+)"', page))
    assert test_ids and all(f'data-testid="{test_id}"' in widget for test_id in test_ids)
    assert "window.__embscopeEmbed = true" in widget
    assert '<script type="module">' in widget and "<style>" in widget
    # it can sit in a <script> itself, as a notebook's widget state does in an HTML export
    assert "</script" not in widget.lower() and "<!--" not in widget


def test_skip_kinds_are_the_ones_the_server_accepts(openapi, api_ts):
    (parameter,) = [
        p
        for p in openapi["paths"]["/api/sources/{source}/neighbors"]["get"]["parameters"]
        if p["name"] == "skip"
    ]
    accepted = parameter["schema"]["items"]["enum"]
    kinds = string_list(api_ts, "SKIP_KINDS")
    assert kinds == accepted == list(embscope.search.exact.SKIP_KINDS)
    assert ts_type("SkipKind", type_aliases(api_ts), {}) == {("string", frozenset(kinds))}
    # the page's boxes are a third copy
    page = (FRONTEND / "index.html").read_text(encoding="utf-8")
    boxes = re.findall(r'data-testid="skip-(\w+)" type="checkbox" value="(\w+)"', page)
    assert [value for _, value in boxes] == [name for name, _ in boxes] == kinds
