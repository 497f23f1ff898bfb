"""The word-pair and analogy benchmark files: finding a named set among the files gensim ships,
and reading any file in either format.

The named sets are the files gensim's package ships in ``gensim/test/test_data`` (LGPL; read
from the installed gensim, never copied): ``"wordsim353"`` (``wordsim353.tsv``),
``"simlex999"`` (``simlex999.txt``) and ``"google"`` (``questions-words.txt``). Any file in the
same format works: ``word<TAB>word<TAB>score`` lines (``#`` comments and one header line
allowed), or ``: section`` headers followed by four-word lines.
"""

from __future__ import annotations

import gzip
import importlib.util
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import InvalidParameterError, MalformedFileError, MissingDependencyError, SourceError

WORD_PAIR_SETS: dict[str, str] = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
ANALOGY_SETS: dict[str, str] = {"google": "questions-words.txt"}


def dataset_path(name_or_path: str | Path, *, kind: str) -> tuple[str, Path]:
    """The display name and the file of a named set (``kind``: "pairs" or "analogies") or of
    a path."""
    named = WORD_PAIR_SETS if kind == "pairs" else ANALOGY_SETS
    if isinstance(name_or_path, str) and name_or_path in named:
        return name_or_path, _gensim_test_data(name_or_path, named[name_or_path])
    if not isinstance(name_or_path, str | Path):
        raise InvalidParameterError(
            f"{kind} must be one of {', '.join(named)} or the path of a file; got {name_or_path!r}"
        )
    path = Path(name_or_path)
    if path.is_file():
        return str(path), path
    if isinstance(name_or_path, str) and not ({"/", "\\", "."} & set(name_or_path)):
        raise InvalidParameterError(
            f"{kind} must be one of {', '.join(named)} or the path of a file; "
            f"{name_or_path!r} is neither"
        )
    raise SourceError(f"{path}: no such file")


def _gensim_test_data(name: str, filename: str) -> Path:
    # find_spec locates the installed package without importing it (gensim takes seconds)
    spec = importlib.util.find_spec("gensim")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "test" / "test_data" / filename
        if candidate.is_file():
            return candidate
    where = "is not installed" if spec is None else f"has no test/test_data/{filename}"
    message = (
        f"the {name!r} set is read from the files the gensim package ships ({filename}), "
        f"and gensim {where}: pip install gensim, or pass the path of a file in the same format"
    )
    # gensim is no extra of embscope, so the message names it instead of an extra
    error = MissingDependencyError("gensim", extra="dev", purpose=f"the {name!r} set")
    error.msg, error.args = message, (message,)
    raise error


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number from 1, text without the line end); undecodable UTF-8 is a
    MalformedFileError naming the line."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise MalformedFileError(
                        path, f"not UTF-8 text ({error.reason} at byte {error.start})", line=number
                    ) from None
                if number == 1:
                    text = text.removeprefix("\ufeff")
                yield number, text.rstrip("\r\n")
    except OSError as error:
        raise SourceError(f"{path}: cannot be read ({error.strerror or error})") from None


def read_word_pairs(
    path: str | Path, *, delimiter: str | None = "\t"
) -> tuple[list[str], list[str], np.ndarray]:
    """First words, second words and human scores of a word-pair file.

    Lines are ``word<delimiter>word<delimiter>score`` (``delimiter=None``: any whitespace);
    blank lines and ``#`` comments are skipped, and so is a header on the first other line
    (its score is not a number). Any other line that breaks the format is an error.
    """
    path = Path(path)
    first: list[str] = []
    second: list[str] = []
    scores: list[float] = []
    seen_data = False
    for number, text in _lines(path):
        if not text.strip() or text.startswith("#"):
            continue
        parts = [part.strip() for part in text.split(delimiter)]
        shown = "a tab" if delimiter == "\t" else repr(delimiter) if delimiter else "whitespace"
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise MalformedFileError(
                path,
                f"expected word, word and score separated by {shown}; got {len(parts)} "
                f"field(s) in {text.strip()[:60]!r}",
                line=number,
            )
        try:
            score = float(parts[2])
        except ValueError:
            if not seen_data:  # a header such as "word1  word2  SimLex999"
                seen_data = True
                continue
            raise MalformedFileError(
                path, f"the score {parts[2][:30]!r} is not a number", line=number
            ) from None
        if not math.isfinite(score):
            raise MalformedFileError(path, f"the score {parts[2]!r} is not finite", line=number)
        seen_data = True
        first.append(parts[0])
        second.append(parts[1])
        scores.append(score)
    if not scores:
        raise MalformedFileError(path, "no word pairs found (word, word, score per line)")
    return first, second, np.asarray(scores, dtype=np.float64)


def read_analogies(path: str | Path) -> list[tuple[str, list[tuple[str, str, str, str]]]]:
    """Sections of an analogy file: ``[(name, [(a, b, c, expected), ...]), ...]``.

    A line starting with ``:`` opens a section; every other non-blank line holds four words.
    """
    path = Path(path)
    sections: list[tuple[str, list[tuple[str, str, str, str]]]] = []
    for number, text in _lines(path):
        if not text.strip():
            continue
        if text.startswith(":"):
            sections.append((text.lstrip(": ").strip(), []))
            continue
        words = text.split()
        if len(words) != 4:
            raise MalformedFileError(
                path,
                "expected four words (a b c expected) or a ': section' header; got "
                f"{len(words)} word(s) in {text.strip()[:60]!r}",
                line=number,
            )
        if not sections:
            raise MalformedFileError(
                path, "a question comes before the first ': section' header", line=number
            )
        sections[-1][1].append((words[0], words[1], words[2], words[3]))
    if not any(questions for _, questions in sections):
        raise MalformedFileError(path, "no analogy questions found (a b c expected per line)")
    return sections
