"""Vocabulary files: one token per line, row i of the matrix is line i.

Also the small helpers the file readers share: finding a vocabulary beside a matrix, leaving
out Keras' padding row, keys for an empty token, file fingerprints, and the bound on how far a
file may grow in memory (``max_inflation``).
"""

from __future__ import annotations

import logging
import math
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._io.atomic import atomic_path
from ..errors import InvalidParameterError, MalformedFileError, SourceError

logger = logging.getLogger(__name__)

VOCABULARY_NAMES = ("vocab.txt", "vocabulary.txt", "vocab", "metadata.tsv")

#: How many times its size in the file an array may take in memory, unless the user raises it:
#: embeddings are noisy floats that compress by a few percent, so a file that claims more is
#: a zip bomb, a crafted header, or an HDF5 dataset whose storage was never written.
DEFAULT_MAX_INFLATION = 100.0

#: What any file may take in memory whatever its size, so small files of constant values (a
#: zero matrix compresses a thousandfold) still load.
INFLATION_FLOOR = 64 << 20

#: The most a deflate stream can expand (zlib's technical details give 1032:1); a zip entry that
#: declares more is damaged or crafted, whatever ``max_inflation`` says.
DEFLATE_MAX_RATIO = 1032


def read_vocabulary(path: str | Path, *, expected_rows: int | None = None) -> list[str]:
    """Tokens of a vocabulary file, one per line, in row order.

    Errors name the file and line: bytes that are not UTF-8, a token seen twice (so a flood of
    blank lines fails at its second line), or a line count that differs from the matrix' rows
    (``expected_rows``). The file is read line by line, never whole. ``path`` may also be a
    member of a zip (``hf_zip.ZipMember``).
    """
    path = Path(path) if isinstance(path, str | os.PathLike) else path
    tokens: list[str] = []
    seen: dict[str, int] = {}
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise SourceError(f"{path}: no such vocabulary file") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: a directory, not a vocabulary file") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            line = line.removesuffix(b"\n").removesuffix(b"\r")
            try:
                token = line.decode("utf-8")
            except UnicodeDecodeError as error:
                raise MalformedFileError(
                    path,
                    f"not UTF-8 (byte {error.start + 1} of the line); re-save it as UTF-8",
                    line=number,
                ) from None
            if token in seen:
                raise MalformedFileError(
                    path, f"duplicate token {token!r} (first at line {seen[token]})", line=number
                )
            seen[token] = number
            tokens.append(token)
            if expected_rows is not None and len(tokens) > expected_rows:
                raise MalformedFileError(
                    path,
                    f"more than {expected_rows:,} tokens for a matrix of {expected_rows:,} "
                    "rows; the vocabulary must have one line per row",
                    line=number,
                )
    if expected_rows is not None and len(tokens) != expected_rows:
        raise MalformedFileError(
            path,
            f"{len(tokens):,} tokens for a matrix of {expected_rows:,} rows; "
            "the vocabulary must have one line per row",
        )
    return tokens


def find_vocabulary(matrix_path: str | Path) -> Path | None:
    """The vocabulary file beside a matrix file, if one is unambiguous.

    ``<stem>.vocab.txt`` belongs to this matrix alone and wins. Otherwise the candidates are the
    files named ``*vocab*.txt`` (any case: ``vocab.txt``, ``embedding-vocabulary.txt``) or
    ``vocab``, leaving out ``<other>.vocab.txt`` files that belong to another file there: one
    candidate is used, several are an error naming them.
    """
    matrix_path = Path(matrix_path)
    stem_match = matrix_path.with_suffix(".vocab.txt")
    if stem_match.is_file():
        return stem_match
    folder = matrix_path.parent
    try:
        siblings = [p for p in folder.iterdir() if p.is_file()]
    except OSError:
        return None
    names = {p.name for p in siblings}
    candidates = []
    for candidate in siblings:
        lowered = candidate.name.lower()
        if not (lowered == "vocab" or ("vocab" in lowered and lowered.endswith(".txt"))):
            continue
        if lowered.endswith(".vocab.txt"):
            owner = candidate.name[: -len(".vocab.txt")]
            if any(n.startswith(f"{owner}.") and n != candidate.name for n in names):
                continue  # written beside another matrix (write_npy's <stem>.vocab.txt)
        candidates.append(candidate)
    if len(candidates) > 1:
        listed = ", ".join(sorted(p.name for p in candidates))
        raise SourceError(
            f"{matrix_path}: several vocabulary files beside it ({listed}); pass "
            "vocabulary= (CLI: --vocabulary) to say which one holds its tokens"
        )
    return candidates[0] if candidates else None


def chosen_vocabulary(
    vocabulary: str | Path | None, vocab: str | Path | None = None
) -> Path | None:
    """The vocabulary file a caller named: ``vocabulary=``, or ``vocab=`` (its older name)."""
    if vocabulary is not None and vocab is not None and Path(vocabulary) != Path(vocab):
        raise InvalidParameterError(
            "vocab= is the older name of vocabulary=; pass one of them, not both"
        )
    chosen = vocabulary if vocabulary is not None else vocab
    return Path(chosen).expanduser() if chosen is not None else None


def leave_out_padding(tokens: list[str], source: str | Path) -> bool:
    """Whether row 0 is Keras' padding (an empty first token) and should be left out.

    ``TextVectorization.get_vocabulary()`` starts with the empty padding token; its row is
    never trained and is not a word, so the tutorial's projector export and ``embscope
    train`` both leave it out, and so do the readers. Logs what it did.
    """
    if not tokens or tokens[0] != "":
        return False
    logger.info(
        "%s: line 1 is the padding token (empty), so row 0 is left out as the projector "
        "export of the TensorFlow tutorial leaves it out; %s rows remain",
        source,
        f"{len(tokens) - 1:,}",
    )
    return True


def check_max_inflation(max_inflation: Any) -> float | None:
    """``max_inflation`` as a number, or None for no bound; anything else is refused."""
    if max_inflation is None:
        return None
    if isinstance(max_inflation, bool) or not isinstance(max_inflation, int | float):
        raise InvalidParameterError(
            f"max_inflation must be a number of at least 1, or None for no bound; "
            f"got {max_inflation!r}"
        )
    if not max_inflation >= 1:
        raise InvalidParameterError(f"max_inflation must be at least 1; got {max_inflation!r}")
    return float(max_inflation)


def check_inflation(
    path: str | Path, what: str, *, declared: int, stored: int, max_inflation: float | None
) -> None:
    """Refuse ``what`` when it would take more memory (``declared`` bytes) than
    ``max_inflation`` times the bytes that hold it in the file (``stored``), floor
    ``INFLATION_FLOOR``; the message says how to raise the bound."""
    if max_inflation is None or declared <= max(INFLATION_FLOOR, stored * max_inflation):
        return
    ratio = declared / max(stored, 1)
    # a round number that would let this file through
    suggested = 10 ** math.ceil(math.log10(ratio)) if ratio < 1e15 else None
    raise_it = (
        f"if you trust the file, pass max_inflation={suggested:g} (CLI: --max-inflation "
        f"{suggested:g}) or max_inflation=None for no bound"
        if suggested is not None
        else "the sizes it declares are not credible"
    )
    raise SourceError(
        f"{path}: {what} would take {human_bytes(declared)} in memory but "
        f"{human_bytes(stored)} hold it in the file, more than max_inflation="
        f"{max_inflation:g} times (at least {human_bytes(INFLATION_FLOOR)} is always allowed); "
        f"{raise_it}"
    )


def check_zip_entry(path: str | Path, info: zipfile.ZipInfo, what: str) -> None:
    """Refuse a zip entry whose declared size its bytes cannot produce: a stored entry must
    declare its own size, a deflated one at most ``DEFLATE_MAX_RATIO`` times its size."""
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise MalformedFileError(
            path,
            f"{what}: a stored (uncompressed) zip entry of {info.compress_size:,} bytes that "
            f"declares {info.file_size:,}; the archive is damaged",
        )
    if (
        info.compress_type == zipfile.ZIP_DEFLATED
        and info.file_size > DEFLATE_MAX_RATIO * info.compress_size + 1024
    ):
        raise MalformedFileError(
            path,
            f"{what}: its zip entry declares {human_bytes(info.file_size)} from "
            f"{human_bytes(info.compress_size)} of deflate data, more than deflate can expand "
            f"(at most {DEFLATE_MAX_RATIO}:1); the archive is damaged or crafted",
        )


def human_bytes(size: int | float) -> str:
    """``1536`` → ``1.5 KiB``: sizes in messages."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:,.0f} bytes" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def keys_for_tokens(tokens: Sequence[str]) -> tuple[list[str], str | None]:
    """Keys for a vocabulary's tokens, and the key that stands for the empty token (if any).

    Keras' ``TextVectorization.get_vocabulary()`` puts padding, the empty string, at row 0. An
    empty key can never be queried (an empty query is an error), so it becomes ``<pad>`` at
    row 0 and ``<empty>`` elsewhere; a vocabulary that already holds that spelling gets the row
    number appended (``<pad:0>``).
    """
    keys = list(tokens)
    try:
        row = keys.index("")
    except ValueError:
        return keys, None
    base = "<pad>" if row == 0 else "<empty>"
    taken = set(keys)
    replacement = base if base not in taken else f"{base[:-1]}:{row}>"
    keys[row] = replacement
    return keys, replacement


def write_vocabulary(keys: Sequence[str], path: str | Path) -> Path:
    """Write one key per line (atomically), the format ``read_vocabulary`` reads back."""
    for row, key in enumerate(keys):
        if "\n" in key or "\r" in key:
            raise InvalidParameterError(
                f"key {key!r} at row {row} holds a line break; a vocabulary file has one key "
                "per line, so write this space with write_parquet instead"
            )
    path = Path(path)
    with atomic_path(path) as temporary:
        temporary.write_text("".join(f"{key}\n" for key in keys), encoding="utf-8")
    return path


def file_fingerprint(*paths: str | Path | None) -> str:
    """Size and modification time of each file: cheap, and changes when a file is rewritten."""
    parts = []
    for path in paths:
        if path is not None:
            stat = Path(path).stat()
            parts.append(f"{stat.st_size}-{stat.st_mtime_ns}")
    return "+".join(parts)


def row_number_keys(
    matrix_path: str | Path, rows: int, *, how_to_name: str, numbers: str = "row numbers"
) -> list[str]:
    """Keys ``"0"``..``"n-1"`` for a matrix without a vocabulary, saying so in the log with
    ``how_to_name`` (what the user can do to get real keys) and what the numbers are."""
    matrix_path = Path(matrix_path)
    logger.warning(
        "%s: no vocabulary given or found beside it (pass vocabulary=, or %s as %s); "
        "the keys are the %s 0..%d",
        matrix_path,
        how_to_name,
        matrix_path.with_suffix(".vocab.txt").name,
        numbers,
        rows - 1,
    )
    return [str(row) for row in range(rows)]
