"""The tokenizer files of a Hugging Face checkpoint: row keys, readable labels, per-row metadata,
and a function that splits a word into the model's own pieces.

Keys are the raw token strings (``Ġhello``, ``##ing``, ``▁hello``, ``<0xF5>``); labels are what a
person reads (``␣hello``, ``##ing``, ``␣hello``, ``<0xF5>``). Files are tried in this order:
``tokenizer.json``, ``vocab.json`` + ``merges.txt`` (byte-level BPE), ``vocab.txt`` (WordPiece),
``*.tiktoken``. The ``tokenizers`` (and ``tiktoken``) objects that split words are built on first
use only, so loading a space stays cheap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib.util
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MalformedFileError, SourceError
from .vocabulary import read_vocabulary

logger = logging.getLogger(__name__)

#: How token strings are written, which decides how they are made readable.
#: byte_level: GPT-2's byte-to-unicode alphabet (``Ġ`` is a space); metaspace: SentencePiece's
#: ``▁`` marks a word start; wordpiece: ``##`` marks a continuation; plain: text as it is.
STYLES = ("byte_level", "metaspace", "wordpiece", "plain")

#: Values of the ``kind`` metadata column.
#: "unknown" is used when the checkpoint has no tokenizer files.
KINDS = ("word", "word_start", "continuation", "byte", "special", "added", "padding_row", "unknown")

_BYTE_TOKEN = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")
_VISIBLE_WHITESPACE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}
_SPECIAL_MAP_KEYS = (
    "bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token",
)  # fmt: skip

# The split patterns of OpenAI's encodings (tiktoken_ext/openai_public.py): a .tiktoken file holds
# only the ranks, so the pattern is chosen by the file's name, or else by the vocabulary's size.
_R50K_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_TIKTOKEN_PATTERNS = {
    "r50k": _R50K_PATTERN,
    "p50k": _R50K_PATTERN,
    "gpt2": _R50K_PATTERN,
    "cl100k": _CL100K_PATTERN,
    "o200k": _O200K_PATTERN,
}


# ---- GPT-2's byte-to-unicode alphabet --------------------------------------------------------
def _byte_alphabet() -> list[str]:
    """GPT-2's reversible map: printable bytes stand for themselves, the rest are shifted up
    past 255, so every token is a printable string (a space becomes ``Ġ``, a newline ``Ċ``)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    chars = {b: chr(b) for b in printable}
    shift = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + shift)
            shift += 1
    return [chars[b] for b in range(256)]


_BYTE_CHARS = _byte_alphabet()
_BYTE_OF_CHAR = {char: chr(b) for b, char in enumerate(_BYTE_CHARS)}
_BYTE_ALPHABET = frozenset(_BYTE_CHARS)
_TO_BYTE_CHARS = dict(enumerate(_BYTE_CHARS))


def byte_level_key(data: bytes) -> str:
    """The byte-level BPE key of raw token bytes: ``b" hello"`` → ``"Ġhello"``."""
    return data.decode("latin-1").translate(_TO_BYTE_CHARS)


def byte_level_bytes(key: str) -> bytes | None:
    """The bytes a byte-level BPE key stands for, or None when it is not written in that
    alphabet (added tokens such as ``<|endoftext|>`` are stored as plain text)."""
    if not key or not _BYTE_ALPHABET.issuperset(key):
        return None
    return "".join(_BYTE_OF_CHAR[c] for c in key).encode("latin-1")


# ---- readable labels -------------------------------------------------------------------------
def _visible(text: str) -> str:
    """Whitespace and invisible characters made visible; everything else unchanged."""
    if text.isprintable() and " " not in text:
        return text
    out = []
    for char in text:
        if char in _VISIBLE_WHITESPACE:
            out.append(_VISIBLE_WHITESPACE[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"<0x{ord(char):02X}>")
        else:
            out.append(f"<U+{ord(char):04X}>")
    return "".join(out)


def _visible_bytes(data: bytes) -> str:
    """Bytes as readable text: valid UTF-8 decoded, every stray byte written as ``<0xE6>``."""
    out = []
    while data:
        try:
            out.append(_visible(data.decode("utf-8")))
            break
        except UnicodeDecodeError as error:
            out.append(_visible(data[: error.start].decode("utf-8")))
            out.extend(f"<0x{b:02X}>" for b in data[error.start : error.end])
            data = data[error.end :]
    return "".join(out)


def readable_label(token: str, style: str) -> str:
    """What a person reads for a token string written in ``style`` (one of STYLES)."""
    return _describe(token, style, prefix="##")[0]


def _describe(token: str, style: str, *, prefix: str) -> tuple[str, str]:
    """(label, kind) of an ordinary vocabulary token."""
    if not token:
        return "<empty>", "word"
    if style == "byte_level":
        data = byte_level_bytes(token)
        if data is None:
            return _visible(token), "word"
        if len(data) == 1 and data[0] >= 0x80:  # a lone byte: part of a character, never one
            kind = "byte"
        else:
            kind = "word_start" if data[:1] == b" " else "continuation"
        return _visible_bytes(data), kind
    if style == "metaspace":
        if _BYTE_TOKEN.match(token):
            return token, "byte"
        kind = "word_start" if token.startswith("▁") else "continuation"
        return _visible(token.replace("▁", " ")), kind
    if style == "wordpiece":
        kind = "continuation" if prefix and token.startswith(prefix) and token != prefix else "word"
        return _visible(token), kind
    return _visible(token), "word"


# ---- what was read ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenizerVocabulary:
    """The vocabulary a checkpoint's tokenizer files describe, id → raw token string."""

    tokens: dict[int, str]
    special_ids: frozenset[int]
    added_ids: frozenset[int]
    style: str
    model: str  # BPE, WordPiece, Unigram, WordLevel
    source: str  # the file(s) it came from, e.g. "tokenizer.json"
    fingerprint: str
    unk_id: int | None = None
    continuation_prefix: str = "##"
    # Builds the word → ids function on first use (None: this format cannot split words here).
    build_encoder: Callable[[], Callable[[str], list[int]]] | None = field(
        default=None, repr=False, compare=False
    )
    notes: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """Rows the vocabulary needs: one past its highest id."""
        return max(self.tokens) + 1 if self.tokens else 0

    @property
    def description(self) -> str:
        return f"{self.source} ({self.model}, {self.style})"


@dataclass(frozen=True)
class TokenTable:
    """Everything a space needs from the tokenizer, one entry per matrix row.

    ``columns`` holds the metadata (``token_id``, ``special``, ``kind``) as arrays; the space
    turns them into a DataFrame only when its metadata is read.
    """

    keys: list[str]
    labels: list[str]
    columns: dict[str, np.ndarray]
    tokenize: Callable[[str], list[str]] | None
    padding_rows: int

    def space(self, vectors: Any, *, provenance: Any, name: str) -> Any:
        """The ``EmbeddingSpace`` of ``vectors`` (one row per entry) keyed, labelled and
        tokenized by this table: what every reader of a model's token matrix (checkpoint,
        GGUF, ONNX) ends with."""
        from ..space import EmbeddingSpace

        return EmbeddingSpace(
            vectors,
            self.keys,
            labels=self.labels,
            metadata=self.columns,
            provenance=provenance,
            name=name,
            tokenize=self.tokenize,
        )


def read_tokenizer(directory: str | Path) -> TokenizerVocabulary | None:
    """The vocabulary of the tokenizer files in a checkpoint directory; None when it has none.

    ``tokenizer.json`` is preferred; then ``vocab.json`` + ``merges.txt``, ``vocab.txt`` and a
    ``*.tiktoken`` file. ``tokenizer_config.json`` and ``special_tokens_map.json`` add special
    tokens and WordPiece options (``do_lower_case``). ``directory`` may also be a folder inside a
    zip (``hf_zip.ZipFolder``), whose members are read in place.
    """
    directory = Path(directory) if isinstance(directory, str | os.PathLike) else directory
    config_path = directory / "tokenizer_config.json"
    config = _read_json(config_path, optional=True) or {}
    if (directory / "tokenizer.json").is_file():
        vocabulary = _from_tokenizer_json(directory / "tokenizer.json")
    elif (directory / "vocab.json").is_file() and (directory / "merges.txt").is_file():
        vocabulary = _from_vocab_and_merges(directory, config)
    elif (directory / "vocab.txt").is_file():
        vocabulary = _from_vocab_txt(directory / "vocab.txt", config)
    elif tiktoken_files := sorted(directory.glob("*.tiktoken")):
        vocabulary = _from_tiktoken(tiktoken_files[0], config)
    else:
        return None
    vocabulary = _with_declared_specials(vocabulary, directory, config)
    # The files that only add special tokens change the metadata too: fold them into the digest.
    extra = [p.read_bytes() for p in (config_path, directory / "special_tokens_map.json")
             if p.is_file()]  # fmt: skip
    if extra:
        fingerprint = _digest(vocabulary.fingerprint.encode() + b"".join(extra))
        vocabulary = replace(vocabulary, fingerprint=fingerprint)
    return vocabulary


def read_tokenizer_file(path: str | Path) -> TokenizerVocabulary:
    """One tokenizer file on its own: a ``tokenizer.json`` or a ``*.tiktoken`` rank file."""
    path = Path(path)
    if path.suffix == ".tiktoken":
        return _from_tiktoken(path, {})
    if path.suffix == ".json":
        return _from_tokenizer_json(path)
    raise SourceError(f"{path}: not a tokenizer file (tokenizer.json or *.tiktoken)")


def token_table(vocabulary: TokenizerVocabulary | None, n_rows: int) -> TokenTable:
    """Keys, labels and metadata for ``n_rows`` matrix rows.

    Rows without a token are kept, keyed ``<row 50257>`` and marked ``padding_row``, and a
    warning gives their count and the first of them: a few rows at the end pad the matrix for
    speed (GPT-2: 50,257 tokens in 50,304 rows; Phi-2: 50,295 in 51,200), but the same gap is
    what a ``vocab.txt`` that lost lines leaves, so it is never silent. A vocabulary larger
    than the matrix is an error.
    """
    if vocabulary is None:
        keys = [str(row) for row in range(n_rows)]
        columns = {
            "token_id": np.arange(n_rows, dtype=np.int64),
            "special": np.zeros(n_rows, dtype=bool),
            "kind": np.full(n_rows, "unknown", dtype=object),
        }
        return TokenTable(keys, keys, columns, None, 0)
    if vocabulary.size > n_rows:
        raise SourceError(
            f"the tokenizer ({vocabulary.source}) has ids up to {vocabulary.size - 1:,} but the "
            f"embedding matrix has only {n_rows:,} rows; the tokenizer files do not belong to "
            "these weights"
        )
    keys: list[str] = []
    labels: list[str] = []
    kinds: list[str] = []
    special: list[bool] = []
    seen: dict[str, int] = {}
    tokens, special_ids, added_ids = vocabulary.tokens, vocabulary.special_ids, vocabulary.added_ids
    padding = 0
    for row in range(n_rows):
        token = tokens.get(row)
        if token is None:
            padding += 1
            key, label, kind = f"<row {row}>", f"<row {row}>", "padding_row"
        else:
            key = token
            if row in special_ids or row in added_ids:
                label, kind = _visible(token), "special" if row in special_ids else "added"
            else:
                label, kind = _describe(
                    token, vocabulary.style, prefix=vocabulary.continuation_prefix
                )
        if key in seen:
            # Two ids with the same string (an added token repeating a vocabulary entry): the
            # first keeps the raw string, so every row stays reachable by a unique key.
            first, key = seen[key], f"<row {row}: {key}>"
            logger.warning("token id %d repeats the string of id %d; keyed %r", row, first, key)
        seen[key] = row
        keys.append(key)
        labels.append(label)
        kinds.append(kind)
        special.append(row in special_ids)
    if padding:
        _warn_rows_without_tokens(vocabulary, n_rows, padding)
    columns = {
        "token_id": np.arange(n_rows, dtype=np.int64),
        "special": np.array(special, dtype=bool),
        "kind": np.array(kinds, dtype=object),
    }
    tokenize = _piece_splitter(vocabulary, keys, columns["kind"])
    return TokenTable(keys, labels, columns, tokenize, padding)


def _warn_rows_without_tokens(vocabulary: TokenizerVocabulary, n_rows: int, padding: int) -> None:
    first = next(row for row in range(n_rows) if row not in vocabulary.tokens)
    at_end = first == vocabulary.size
    where = (
        "all after its last token: a matrix padded for speed has a few such rows, but a "
        "vocabulary file that lost lines leaves the same gap, so check that"
        if at_end
        else "some between its tokens: the tokenizer files may not belong to these weights"
    )
    logger.warning(
        "%s has %s tokens for the %s matrix rows: %s rows have no token (the first is row %s) "
        "and are keyed '<row N>', %s",
        vocabulary.source,
        f"{len(vocabulary.tokens):,}",
        f"{n_rows:,}",
        f"{padding:,}",
        f"{first:,}",
        where,
    )


def _piece_splitter(
    vocabulary: TokenizerVocabulary, keys: list[str], kinds: np.ndarray
) -> Callable[[str], list[str]] | None:
    """word → the keys of its pieces, without special tokens; built on first call.

    A word is split as it stands in running text, after a space: in a vocabulary of word-start
    tokens (byte-level BPE, SentencePiece) its first piece is a word-start token, so
    ``embeddings`` is ``Ġembed + d + ings`` even where the tokenizer adds no space of its own
    (GPT-2's ``add_prefix_space=False``, a Metaspace that prepends nothing). Text that starts
    with a space, and every other style, is split as given.

    A word the tokenizer can only map to its unknown token has no pieces (an empty list), so
    it is reported as unknown rather than answered with the ``[UNK]`` vector.
    """
    build = vocabulary.build_encoder
    if build is None:
        return None
    lock = threading.Lock()
    encoder: list[Callable[[str], list[int]]] = []
    unk_id = vocabulary.unk_id
    word_starts = vocabulary.style in ("byte_level", "metaspace")

    def encode(text: str) -> list[int]:
        with lock:
            if not encoder:
                encoder.append(build())
        return encoder[0](text)

    def tokenize(word: str) -> list[str]:
        ids = encode(word)
        if word_starts and ids and word[:1].strip() and kinds[ids[0]] != "word_start":
            spaced = encode(" " + word)
            if spaced and kinds[spaced[0]] == "word_start":
                ids = spaced
        if unk_id is not None and unk_id in ids:
            return []
        return [keys[i] for i in ids]

    return tokenize


# ---- tokenizer.json --------------------------------------------------------------------------
def _from_tokenizer_json(path: Path) -> TokenizerVocabulary:
    raw = path.read_bytes()
    data = _parse_json(raw, path)
    try:
        model = data["model"]
        vocab = model["vocab"]
    except (KeyError, TypeError):
        raise MalformedFileError(path, "no model.vocab entry; not a tokenizers file") from None
    if not isinstance(model, dict):
        raise MalformedFileError(path, "model is not a JSON object; not a tokenizers file")
    model_type = model.get("type") or _guess_model_type(model)
    if not isinstance(model_type, str):
        raise MalformedFileError(path, "model.type is not a string")
    tokens: dict[int, str] = {}
    unk_id = None
    if isinstance(vocab, list):  # Unigram: [[piece, score], ...] in id order
        for i, entry in enumerate(vocab):
            if not isinstance(entry, list) or not entry or not isinstance(entry[0], str):
                raise MalformedFileError(
                    path, f"model.vocab entry {i} is not a [piece, score] pair"
                )
            tokens[i] = entry[0]
        unk_id = model.get("unk_id")
        unk_id = unk_id if isinstance(unk_id, int) and not isinstance(unk_id, bool) else None
    elif isinstance(vocab, dict):
        tokens = _token_ids(vocab, path, "model.vocab")
        unk = model.get("unk_token")
        unk_id = _token_id(vocab, unk)
    else:
        raise MalformedFileError(path, "model.vocab is neither a list nor a mapping")
    added: set[int] = set()
    special: set[int] = set()
    added_tokens = data.get("added_tokens") or []
    if not isinstance(added_tokens, list):
        raise MalformedFileError(path, "added_tokens is not a list")
    for entry in added_tokens:
        try:
            i, content = _non_negative(entry["id"]), str(entry["content"])
        except (KeyError, TypeError, ValueError):
            raise MalformedFileError(
                path, f"added token without id and content: {entry!r}"
            ) from None
        tokens[i] = content
        added.add(i)
        if entry.get("special"):
            special.add(i)
    parts = [data.get(part) for part in ("normalizer", "pre_tokenizer", "decoder")]
    prefix = model.get("continuing_subword_prefix")
    try:
        types = set(_component_types(parts))
        metaspace = "Metaspace" in types or "▁" in json.dumps(parts, ensure_ascii=False)
    except RecursionError:
        raise MalformedFileError(path, "its components are nested too deeply") from None
    if "ByteLevel" in types:
        style = "byte_level"
    elif metaspace:
        style = "metaspace"
    elif model_type == "WordPiece":
        style = "wordpiece"
    else:
        style = "plain"

    def build() -> Callable[[str], list[int]]:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(raw.decode("utf-8"))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return lambda word: tokenizer.encode(word, add_special_tokens=False).ids

    return TokenizerVocabulary(
        tokens=tokens,
        special_ids=frozenset(special),
        added_ids=frozenset(added),
        style=style,
        model=model_type,
        source=path.name,
        fingerprint=_digest(raw),
        unk_id=unk_id,
        continuation_prefix=prefix if isinstance(prefix, str) and prefix else "##",
        build_encoder=build,
    )


def _guess_model_type(model: Mapping[str, Any]) -> str:
    # tokenizer.json files written before "type" was stored.
    if isinstance(model.get("vocab"), list):
        return "Unigram"
    if "merges" in model:
        return "BPE"
    if "continuing_subword_prefix" in model or "max_input_chars_per_word" in model:
        return "WordPiece"
    return "WordLevel"


def _component_types(node: Any) -> Iterable[str]:
    """Every ``type`` in a tokenizer.json component, nested ``Sequence``s included."""
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            yield node["type"]
        for value in node.values():
            yield from _component_types(value)
    elif isinstance(node, list):
        for value in node:
            yield from _component_types(value)


# ---- vocab.json + merges.txt (GPT-2 byte-level BPE) ------------------------------------------
def _from_vocab_and_merges(directory: Path, config: Mapping[str, Any]) -> TokenizerVocabulary:
    vocab_path, merges_path = directory / "vocab.json", directory / "merges.txt"
    raw = vocab_path.read_bytes()
    vocab = _read_json(vocab_path)
    if not isinstance(vocab, dict):
        raise MalformedFileError(vocab_path, "expected a JSON object of token → id")
    add_prefix_space = bool(config.get("add_prefix_space", False))

    def build() -> Callable[[str], list[int]]:
        from tokenizers import Tokenizer, pre_tokenizers
        from tokenizers.models import BPE

        tokenizer = Tokenizer(BPE.from_file(str(vocab_path), str(merges_path)))
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
        return lambda word: tokenizer.encode(word, add_special_tokens=False).ids

    return TokenizerVocabulary(
        tokens=_token_ids(vocab, vocab_path, "vocab.json"),
        special_ids=frozenset(),
        added_ids=frozenset(),
        style="byte_level",
        model="BPE",
        source="vocab.json+merges.txt",
        fingerprint=_digest(raw + merges_path.read_bytes()),
        build_encoder=build,
    )


# ---- vocab.txt (BERT WordPiece) --------------------------------------------------------------
def _from_vocab_txt(path: Path, config: Mapping[str, Any]) -> TokenizerVocabulary:
    tokens = read_vocabulary(path)
    vocab = {token: i for i, token in enumerate(tokens)}
    # BertTokenizer's defaults, unless tokenizer_config.json says otherwise.
    declared = {
        name: _token_text(config.get(name)) or default
        for name, default in (
            ("unk_token", "[UNK]"),
            ("sep_token", "[SEP]"),
            ("pad_token", "[PAD]"),
            ("cls_token", "[CLS]"),
            ("mask_token", "[MASK]"),
        )
    }
    unk = declared["unk_token"]
    lowercase = bool(config.get("do_lower_case", True))
    strip_accents = config.get("strip_accents")
    chinese = bool(config.get("tokenize_chinese_chars", True))

    def build() -> Callable[[str], list[int]]:
        from tokenizers import Tokenizer, normalizers, pre_tokenizers
        from tokenizers.models import WordPiece

        tokenizer = Tokenizer(WordPiece(vocab, unk_token=unk))
        tokenizer.normalizer = normalizers.BertNormalizer(
            clean_text=True,
            handle_chinese_chars=chinese,
            strip_accents=strip_accents,
            lowercase=lowercase,
        )
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        return lambda word: tokenizer.encode(word, add_special_tokens=False).ids

    specials = {vocab[t] for t in declared.values() if t in vocab}
    return TokenizerVocabulary(
        tokens=dict(enumerate(tokens)),
        special_ids=frozenset(specials),
        added_ids=frozenset(),
        style="wordpiece",
        model="WordPiece",
        source="vocab.txt",
        fingerprint=_digest(path.read_bytes()),
        unk_id=vocab.get(unk),
        build_encoder=build,
        notes=(f"do_lower_case={lowercase}",),
    )


# ---- *.tiktoken ------------------------------------------------------------------------------
def _from_tiktoken(path: Path, config: Mapping[str, Any]) -> TokenizerVocabulary:
    raw = path.read_bytes()
    ranks: dict[bytes, int] = {}
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            encoded, rank = line.split()
            ranks[base64.b64decode(encoded, validate=True)] = int(rank)
        except (ValueError, binascii.Error):
            raise MalformedFileError(
                path, "expected 'base64(token bytes) rank'", line=number
            ) from None
    pattern_name = next((name for name in _TIKTOKEN_PATTERNS if name in path.stem.lower()), None)
    if pattern_name is None:
        size = len(ranks)
        pattern_name = "r50k" if size < 60_000 else "cl100k" if size < 150_000 else "o200k"
        logger.info("%s: split pattern chosen by vocabulary size: %s", path.name, pattern_name)
    added = _added_tokens_decoder(config)

    def build() -> Callable[[str], list[int]]:
        import tiktoken

        encoding = tiktoken.Encoding(
            name=f"embscope:{path.stem}",
            pat_str=_TIKTOKEN_PATTERNS[pattern_name],
            mergeable_ranks=ranks,
            special_tokens={content: i for i, (content, _) in added.items()},
        )
        # Special-token text in a query is ordinary text, as it is for add_special_tokens=False.
        return lambda word: encoding.encode(word, disallowed_special=())

    if importlib.util.find_spec("tiktoken") is None:
        build_encoder = None
        notes: tuple[str, ...] = ("no tokenize: install 'embscope[tiktoken]' to split words",)
    else:
        build_encoder, notes = build, ()
    return TokenizerVocabulary(
        tokens={rank: byte_level_key(data) for data, rank in ranks.items()},
        special_ids=frozenset(),
        added_ids=frozenset(),
        style="byte_level",
        model="BPE",
        source=path.name,
        fingerprint=_digest(raw),
        build_encoder=build_encoder,
        notes=(*notes, f"split pattern {pattern_name}"),
    )


# ---- special tokens declared beside the vocabulary -------------------------------------------
def _with_declared_specials(
    vocabulary: TokenizerVocabulary, directory: Path, config: Mapping[str, Any]
) -> TokenizerVocabulary:
    """Adds the tokens that tokenizer_config.json (``added_tokens_decoder``) and
    special_tokens_map.json declare; tokenizer.json's own flags are kept."""
    tokens = dict(vocabulary.tokens)
    special, added = set(vocabulary.special_ids), set(vocabulary.added_ids)
    for i, (content, is_special) in _added_tokens_decoder(config).items():
        if i not in tokens or i in added or tokens[i] == content:
            tokens[i] = content
            added.add(i)
            if is_special:
                special.add(i)
    declared = _read_json(directory / "special_tokens_map.json", optional=True) or {}
    names = [_token_text(declared.get(k)) for k in _SPECIAL_MAP_KEYS]
    additional = declared.get("additional_special_tokens") or []
    names += [_token_text(v) for v in (additional if isinstance(additional, list) else [])]
    names += [_token_text(config.get(k)) for k in _SPECIAL_MAP_KEYS]
    wanted = {name for name in names if name}
    if wanted:
        special |= {i for i, token in tokens.items() if token in wanted}
    return replace(
        vocabulary, tokens=tokens, special_ids=frozenset(special), added_ids=frozenset(added)
    )


def _added_tokens_decoder(config: Mapping[str, Any]) -> dict[int, tuple[str, bool]]:
    entries = config.get("added_tokens_decoder") or {}
    found: dict[int, tuple[str, bool]] = {}
    if not isinstance(entries, dict):
        return found
    for i, entry in entries.items():
        content = _token_text(entry)
        if content is not None and str(i).isascii() and str(i).isdigit():
            special = isinstance(entry, dict) and bool(entry.get("special", False))
            found[int(i)] = (content, special)
    return found


def _token_text(value: Any) -> str | None:
    """A special token as tokenizer configs write it: a string or {"content": ...}."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def _read_json(path: Path, *, optional: bool = False) -> Any:
    if optional and not path.is_file():
        return None
    value = _parse_json(path.read_bytes(), path)
    if optional and not isinstance(value, dict):
        raise MalformedFileError(path, "not a JSON object")
    return value


def _parse_json(raw: bytes, path: Path) -> Any:
    try:
        return json.loads(raw)
    except RecursionError:
        raise MalformedFileError(path, "JSON nested too deeply to be a tokenizer file") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise MalformedFileError(path, f"not valid JSON ({error})") from None


def _non_negative(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(value)
    return value


def _token_ids(vocab: Mapping[str, Any], path: Path, what: str) -> dict[int, str]:
    """id → token of a token → id mapping; an id that is not a non-negative integer is an
    error naming the token."""
    tokens: dict[int, str] = {}
    for token, i in vocab.items():
        try:
            tokens[_non_negative(i)] = token
        except ValueError:
            raise MalformedFileError(
                path, f"{what}: the id of {token[:40]!r} is {i!r}, not a non-negative integer"
            ) from None
    return tokens


def _token_id(vocab: Mapping[str, Any], token: Any) -> int | None:
    """The id of ``token`` in a token → id mapping, or None."""
    value = vocab.get(token) if isinstance(token, str) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


__all__ = [
    "KINDS",
    "STYLES",
    "TokenTable",
    "TokenizerVocabulary",
    "byte_level_bytes",
    "byte_level_key",
    "read_tokenizer",
    "readable_label",
    "token_table",
]
