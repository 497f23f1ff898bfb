"""Labelled text datasets read into one table: a text column, an optional label column, and
whatever other columns the file has.

Formats (``format="auto"`` picks by suffix, then by content):

- ``csv`` / ``tsv``: with or without a header (``columns=`` names a headerless file's columns;
  RFC-4180 quoting, so a field may hold newlines);
- ``jsonl``: one JSON object per line;
- ``parquet``;
- ``lines``: one text per line, no label (``.txt``);
- ``label-text``: a label, a space, the text (SST's ``stsa.*`` files, fastText's
  ``__label__pos text``);
- ``text-tab-label``: the text, a tab, the label (the UCI sentiment-labelled sentences);
- a directory: one sub-directory per label holding one ``.txt`` file per text (the aclImdb
  layout), or one file per label with a text per line, the label being the file's suffix
  when all files share a stem (``rt-polarity.pos`` / ``.neg``) and its stem otherwise.

Every text file must be UTF-8; a byte that is not is reported with its file and line. Empty
texts are dropped and counted. Integer labels become names through ``label_names`` (a file
with one name per line, or a mapping); the integers are kept in ``<label>_id``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import positive_int
from .._io.json_input import parse_json
from ..errors import InvalidParameterError, MalformedFileError, SourceError

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    import pandas as pd

VALID_FORMATS = ("auto", "csv", "tsv", "jsonl", "parquet", "lines", "label-text", "text-tab-label")
# files with no telling suffix are read as "label-text" or "text-tab-label" when the first field
# or the last tab-separated field takes at most this many distinct values (and is short)
_MAX_LABELS_GUESSED = 50
_MAX_LABEL_LENGTH = 24
# fewer lines than this are too few to tell first words that are labels from ordinary ones
_MIN_ROWS_FOR_WORD_LABELS = 50
# each text's 0-based position in the source, before anything was dropped or sampled
ROW_COLUMN = "row"


@dataclass(frozen=True)
class TextDataset:
    """A table with one text per row: ``text`` names its text column, ``label`` its label column
    (None when unlabelled). ``row`` holds each text's position in the source (0-based, before
    anything was dropped or sampled); ``empty_dropped`` counts the empty texts left out."""

    frame: pd.DataFrame = field(repr=False)
    text: str
    label: str | None
    source: str
    format: str
    empty_dropped: int = 0
    label_names: dict[Any, str] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def texts(self) -> list[str]:
        return self.frame[self.text].tolist()

    @property
    def classes(self) -> list[str]:
        """The label values in order of first appearance."""
        if self.label is None:
            return []
        return list(dict.fromkeys(self.frame[self.label].dropna().tolist()))

    def sample_per_label(self, count: int, *, random_state: int = 0) -> TextDataset:
        """At most ``count`` rows of each label, chosen with ``random_state``, in source order;
        the rows chosen for a count are among those chosen for any larger count."""
        count = positive_int(count, "sample_per_label")
        if self.label is None:
            raise InvalidParameterError("sample_per_label needs a label column (label=...)")
        chosen = []
        for value, group in self.frame.groupby(self.label, sort=True, dropna=True):
            # one seeded order per label, cut at count: a larger count keeps every row a smaller
            # one chose, so only the added rows need encoding
            seed = int.from_bytes(hashlib.blake2b(str(value).encode(), digest_size=4).digest())
            order = np.random.default_rng([random_state, seed]).permutation(len(group))
            chosen.append(group.index.to_numpy()[order[:count]])
        rows = np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=np.int64)
        return _replace_frame(self, self.frame.loc[rows].reset_index(drop=True))


def _replace_frame(dataset: TextDataset, frame: pd.DataFrame) -> TextDataset:
    from dataclasses import replace

    return replace(dataset, frame=frame)


def read_texts(
    source: str | Path,
    *,
    text: str | int | None = None,
    label: str | int | None = None,
    columns: Sequence[str] | None = None,
    label_names: str | Path | Mapping[Any, str] | Sequence[str] | None = None,
    format: str = "auto",
) -> TextDataset:
    """Read a labelled (or unlabelled) text dataset; see the module docstring for formats.

    ``text`` and ``label`` name columns (or give their positions); for formats without column
    names the columns are ``text`` and ``label``. ``columns`` names the columns of a CSV/TSV
    without a header. A file holding a header is recognised when its first row contains the
    ``text`` name given.
    """
    import pandas as pd

    path = Path(source).expanduser()
    if not path.exists():
        raise SourceError(f"{path}: no such file or directory")
    if format not in VALID_FORMATS:
        raise InvalidParameterError(
            f"format must be one of {', '.join(VALID_FORMATS)}; got {format!r}"
        )
    chosen = _format_of(path) if format == "auto" else format
    if chosen == "directory":
        frame = _read_directory(path)
    elif chosen == "parquet":
        frame = _read_parquet(path)
    else:
        content = _utf8(path)
        if format == "auto" and chosen == "unknown":
            chosen = _guess_line_format(content)
        if chosen in ("csv", "tsv"):
            frame = _read_delimited(path, content, chosen, text, columns)
        elif chosen == "jsonl":
            frame = _read_jsonl(path, content)
        else:
            frame = _read_line_format(path, content, chosen)
    text_column = _column(frame, text, "text", path)
    label_column = _column(frame, label, "label", path, required=label is not None)
    frame = frame.reset_index(drop=True)
    frame.insert(
        0,
        ROW_COLUMN if ROW_COLUMN not in frame else "source_row",
        np.arange(len(frame), dtype=np.int64),
    )
    values = frame[text_column]
    missing = values.isna()
    frame[text_column] = values.where(~missing, "").astype(str)
    empty = frame[text_column].str.strip() == ""
    dropped = int(empty.sum())
    frame = frame.loc[~empty].reset_index(drop=True)
    names = None
    if label_column is not None:
        frame, names = name_labels(frame, label_column, label_names, path)
    elif label_names is not None:
        raise InvalidParameterError("label_names needs a label column (label=...)")
    return TextDataset(
        frame=pd.DataFrame(frame),
        text=text_column,
        label=label_column,
        source=str(path),
        format=chosen,
        empty_dropped=dropped,
        label_names=names,
    )


# ---- formats ------------------------------------------------------------------------------
def _format_of(path: Path) -> str:
    if path.is_dir():
        return "directory"
    suffixes = [s.lower() for s in path.suffixes]
    last = suffixes[-1] if suffixes else ""
    by_suffix = {
        ".csv": "csv",
        ".tsv": "tsv",
        ".tab": "tsv",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".json": "jsonl",
        ".parquet": "parquet",
        ".pq": "parquet",
    }
    return by_suffix.get(last, "unknown")


def _utf8(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise MalformedFileError(
            path,
            f"byte 0x{data[error.start]:02x} is not UTF-8; re-save the file as UTF-8",
            line=line,
        ) from None


def _guess_line_format(content: str) -> str:
    """``text-tab-label``, ``label-text`` or ``lines``, by what the lines look like."""
    lines = [line for line in content.splitlines() if line.strip()]
    if not lines:
        return "lines"
    if all("\t" in line for line in lines):
        labels = {line.rsplit("\t", 1)[1].strip() for line in lines}
        if _looks_like_labels(labels, len(lines)):
            return "text-tab-label"
    firsts = {line.split(None, 1)[0] for line in lines}
    # ordinary sentences repeat their first words ("the", "I") as often as labels repeat:
    # a first word is taken for a label only when it is written as one (a number, fastText's
    # __label__) or when enough lines show a small fixed set of them
    marked = all(re.fullmatch(r"-?\d+|__label__\S+", first) for first in firsts)
    if (
        all(len(line.split(None, 1)) == 2 for line in lines)
        and (marked or len(lines) >= _MIN_ROWS_FOR_WORD_LABELS)
        and _looks_like_labels(firsts, len(lines))
    ):
        # words taken for labels are a guess the user should see; numbers are not
        logger.log(
            logging.INFO if marked else logging.WARNING,
            "read as 'label text' lines (labels: %s); pass format='lines' (CLI: --format "
            "lines) if the first word is part of the text",
            ", ".join(sorted(firsts)[:5]),
        )
        return "label-text"
    return "lines"


def _looks_like_labels(values: set[str], rows: int) -> bool:
    return len(values) <= min(_MAX_LABELS_GUESSED, max(2, rows // 5)) and all(
        0 < len(v) <= _MAX_LABEL_LENGTH for v in values
    )


def _read_line_format(path: Path, content: str, chosen: str) -> pd.DataFrame:
    import pandas as pd

    texts: list[str] = []
    labels: list[str] = []
    for number, line in enumerate(content.splitlines(), start=1):
        if chosen == "lines":
            texts.append(line.strip())
            continue
        if not line.strip():
            continue
        if chosen == "text-tab-label":
            if "\t" not in line:
                raise MalformedFileError(
                    path, "expected 'text<TAB>label'; found no tab", line=number
                )
            body, value = line.rsplit("\t", 1)
        else:
            parts = line.strip().split(None, 1)
            value, body = parts[0], parts[1] if len(parts) > 1 else ""
            value = value.removeprefix("__label__")
        texts.append(body.strip())
        labels.append(value.strip())
    if chosen == "lines":
        return pd.DataFrame({"text": texts})
    return pd.DataFrame({"text": texts, "label": _as_ints_if_all(labels)})


def _as_ints_if_all(values: list[str]) -> list[Any]:
    if values and all(re.fullmatch(r"-?\d+", v) for v in values):
        return [int(v) for v in values]
    return values


def _read_delimited(
    path: Path,
    content: str,
    chosen: str,
    text: str | int | None,
    columns: Sequence[str] | None,
) -> pd.DataFrame:
    import csv
    import io

    import pandas as pd

    separator = "\t" if chosen == "tsv" else ","
    first = next(csv.reader(io.StringIO(content), delimiter=separator), [])
    if columns is not None:
        header = None
        names = list(columns)
        if len(names) != len(first):
            raise InvalidParameterError(
                f"columns names {len(names)} columns but the first row of {path.name} has "
                f"{len(first)}"
            )
    elif isinstance(text, str) and text in first:
        header, names = 0, None
    elif text is None and "text" in first:
        # the default text column named in the first row: a header, whatever the sniffer says
        # (it cannot tell a row of short words from a row of names)
        header, names = 0, None
    elif isinstance(text, str) and not text.isdigit():
        raise InvalidParameterError(
            f"text column {text!r} is not in the first row of {path.name} ({_shown(first)}); "
            "for a file without a header pass columns=[...] (CLI: --columns) or a position"
        )
    else:
        header, names = _sniff_header(content, first), None
    try:
        frame = pd.read_csv(
            io.StringIO(content),
            sep=separator,
            header=header,
            names=names,
            dtype=str,
            keep_default_na=False,
            quotechar='"',
            doublequote=True,
            escapechar=None,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        raise MalformedFileError(path, "holds no rows: nothing to read") from None
    except pd.errors.ParserError as error:
        line = re.search(r"line (\d+)", str(error))
        raise MalformedFileError(
            path,
            f"cannot be read as {chosen.upper()}: {error}",
            line=int(line.group(1)) if line else None,
        ) from None
    if header is None and names is None:
        frame.columns = [str(i) for i in range(frame.shape[1])]
    for column in frame.columns:
        converted = _as_ints_if_all(frame[column].tolist())
        if converted and isinstance(converted[0], int):
            frame[column] = converted
    return frame


def _sniff_header(content: str, first: list[str]) -> int | None:
    """0 when the first row looks like column names, else None."""
    import csv

    try:
        return 0 if csv.Sniffer().has_header(content[:65536]) else None
    except csv.Error:
        # too irregular for the sniffer: a first row without digits and with short cells is a
        # header
        looks = all(
            cell and len(cell) < 40 and not any(ch.isdigit() for ch in cell) for cell in first
        )
        return 0 if looks else None


def _shown(cells: Sequence[str]) -> str:
    return ", ".join(repr(c[:30]) for c in cells[:12])


def _read_jsonl(path: Path, content: str) -> pd.DataFrame:
    import pandas as pd

    records = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        record = parse_json(line, path, line=number)
        if not isinstance(record, dict):
            raise MalformedFileError(path, "each line must be a JSON object", line=number)
        records.append(record)
    return pd.DataFrame.from_records(records)


def _read_parquet(path: Path) -> pd.DataFrame:
    import pandas as pd
    import pyarrow

    try:
        return pd.read_parquet(path)
    except (pyarrow.ArrowInvalid, OSError) as error:
        raise MalformedFileError(path, f"cannot be read as Parquet: {error}") from None


def _read_directory(path: Path) -> pd.DataFrame:
    import pandas as pd

    subdirectories = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    texts: list[str] = []
    labels: list[str] = []
    files: list[str] = []
    if subdirectories:
        for folder in subdirectories:
            for file in sorted(folder.glob("*.txt")):
                texts.append(_utf8(file).strip())
                labels.append(folder.name)
                files.append(f"{folder.name}/{file.name}")
        if not texts:
            raise SourceError(f"{path}: its sub-directories hold no .txt files")
        return pd.DataFrame({"text": texts, "label": labels, "file": files})
    members = sorted(
        p for p in path.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix
    )
    members = [p for p in members if p.name.lower() not in ("readme", "readme.txt", "readme.md")]
    if not members:
        raise SourceError(f"{path}: holds neither label sub-directories nor label files")
    stems = {p.stem for p in members}
    for file in members:
        name = file.suffix.lstrip(".") if len(stems) == 1 else file.stem
        for line in _utf8(file).splitlines():
            texts.append(line.strip())
            labels.append(name)
            files.append(file.name)
    return pd.DataFrame({"text": texts, "label": labels, "file": files})


# ---- columns and labels -------------------------------------------------------------------
def _column(
    frame: pd.DataFrame,
    wanted: str | int | None,
    role: str,
    path: Path,
    *,
    required: bool = True,
) -> str | None:
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    if wanted is None:
        if role in columns:
            return role
        if role == "label":
            return None
        if len(columns) == 1:
            return columns[0]
        holds = f"has {', '.join(columns)}"
        if all(column.isdigit() for column in columns):
            holds = f"has no header row naming its columns (positions {', '.join(columns)})"
        raise InvalidParameterError(
            f"which column holds the text? {path.name} {holds}: pass text=... (CLI: --text)"
        )
    name = str(wanted)
    if name in columns:
        return name
    if isinstance(wanted, int) and 0 <= wanted < len(columns):
        return columns[wanted]
    if not required:
        return None
    raise InvalidParameterError(
        f"{role} column {name!r} is not in {path.name}; its columns are {', '.join(columns)}"
    )


def name_labels(
    frame: pd.DataFrame,
    column: str,
    label_names: str | Path | Mapping[Any, str] | Sequence[str] | None,
    path: Path,
) -> tuple[pd.DataFrame, dict[Any, str] | None]:
    """``frame`` with ``column``'s values replaced by their names (the values kept in
    ``<column>_id``) and the mapping used; an error names a value without a name."""
    values = frame[column]
    if label_names is None:
        return frame, None
    mapping = _label_mapping(label_names, values)
    unknown = sorted({v for v in values.dropna().tolist() if v not in mapping}, key=str)
    if unknown:
        raise InvalidParameterError(
            f"label {unknown[0]!r} of column {column!r} has no name in label_names "
            f"({len(mapping)} names for {', '.join(map(str, list(mapping)[:8]))})"
        )
    position = list(frame.columns).index(column)
    frame.insert(position + 1, f"{column}_id", values)
    frame[column] = values.map(mapping)
    return frame, mapping


def _label_mapping(
    label_names: str | Path | Mapping[Any, str] | Sequence[str], values: Any
) -> dict[Any, str]:
    if isinstance(label_names, Mapping):
        return {key: str(name) for key, name in label_names.items()}
    if isinstance(label_names, str | Path):
        names_path = Path(label_names).expanduser()
        if not names_path.is_file():
            raise SourceError(f"{names_path}: label names file not found")
        names = [line.strip() for line in _utf8(names_path).splitlines() if line.strip()]
    else:
        names = [str(n) for n in label_names]
    ints = [v for v in values.dropna().tolist() if isinstance(v, int | np.integer)]
    # AG News numbers its classes from 1 (line n of classes.txt is class n); SST from 0
    start = 1 if ints and min(ints) >= 1 and max(ints) == len(names) else 0
    return {index + start: name for index, name in enumerate(names)}
