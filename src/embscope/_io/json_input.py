"""JSON from files users hand us (configs, indexes, JSON lines, markers): one parse that turns
every way it can fail into a MalformedFileError naming the file (and line)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import MalformedFileError


def parse_json(raw: str | bytes, path: str | Path, *, line: int | None = None) -> Any:
    """``json.loads(raw)``; invalid JSON, text that is not UTF-8, and nesting too deep for
    Python's parser (``[[[[…`` 100,000 deep raises RecursionError) are one clean error."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise MalformedFileError(path, "JSON nested too deeply to read", line=line) from None
    except json.JSONDecodeError as error:
        raise MalformedFileError(path, f"not valid JSON: {error.msg}", line=line) from None
    except UnicodeDecodeError:
        raise MalformedFileError(path, "not valid JSON: not UTF-8", line=line) from None
