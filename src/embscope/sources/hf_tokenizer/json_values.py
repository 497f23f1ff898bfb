"""The values tokenizer files hold, read defensively: JSON, token → id mappings and the special
tokens configs declare; and the digest that fingerprints a file."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...errors import MalformedFileError


def added_tokens_decoder(config: Mapping[str, Any]) -> dict[int, tuple[str, bool]]:
    """id -> (content, special) of the tokens a config's ``added_tokens_decoder`` declares."""
    entries = config.get("added_tokens_decoder") or {}
    found: dict[int, tuple[str, bool]] = {}
    if not isinstance(entries, dict):
        return found
    for i, entry in entries.items():
        content = token_text(entry)
        if content is not None and str(i).isascii() and str(i).isdigit():
            special = isinstance(entry, dict) and bool(entry.get("special", False))
            found[int(i)] = (content, special)
    return found


def token_text(value: Any) -> str | None:
    """A special token as tokenizer configs write it: a string or {"content": ...}."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def read_json(path: Path, *, optional: bool = False) -> Any:
    """A JSON file; with ``optional``, None when absent and an error unless it is an object."""
    if optional and not path.is_file():
        return None
    value = parse_json(path.read_bytes(), path)
    if optional and not isinstance(value, dict):
        raise MalformedFileError(path, "not a JSON object")
    return value


def parse_json(raw: bytes, path: Path) -> Any:
    """JSON bytes, or one line naming the file when they are not valid or nested too deeply."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise MalformedFileError(path, "JSON nested too deeply to be a tokenizer file") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise MalformedFileError(path, f"not valid JSON ({error})") from None


def non_negative(value: Any) -> int:
    """``value`` when it is an int (not a bool) of at least 0; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(value)
    return value


def token_ids(vocab: Mapping[str, Any], path: Path, what: str) -> dict[int, str]:
    """id → token of a token → id mapping; an id that is not a non-negative integer is an
    error naming the token."""
    tokens: dict[int, str] = {}
    for token, i in vocab.items():
        try:
            tokens[non_negative(i)] = token
        except ValueError:
            raise MalformedFileError(
                path, f"{what}: the id of {token[:40]!r} is {i!r}, not a non-negative integer"
            ) from None
    return tokens


def token_id(vocab: Mapping[str, Any], token: Any) -> int | None:
    """The id of ``token`` in a token → id mapping, or None."""
    value = vocab.get(token) if isinstance(token, str) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def digest(data: bytes) -> str:
    """The fingerprint of a file's bytes that provenance records."""
    return hashlib.sha256(data).hexdigest()[:16]
