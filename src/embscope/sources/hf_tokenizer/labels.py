"""How a token string reads: raw keys (``Ġhello``, ``##ing``, ``▁hello``, ``<0xF5>``) made into what
a person reads (``␣hello``, ``##ing``, ``␣hello``, ``<0xF5>``), with the kind of token each is;
and GPT-2's byte-to-unicode alphabet, both ways."""

from __future__ import annotations

import re

#: How token strings are written, which decides how they are made readable.
#: byte_level: GPT-2's byte-to-unicode alphabet (``Ġ`` is a space); metaspace: SentencePiece's
#: ``▁`` marks a word start; wordpiece: ``##`` marks a continuation; plain: text as it is.
STYLES = ("byte_level", "metaspace", "wordpiece", "plain")

#: Values of the ``kind`` metadata column.
#: "unknown" is used when the checkpoint has no tokenizer files.
KINDS = ("word", "word_start", "continuation", "byte", "special", "added", "padding_row", "unknown")

_BYTE_TOKEN = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")
_VISIBLE_WHITESPACE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}


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
def visible(text: str) -> str:
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
            out.append(visible(data.decode("utf-8")))
            break
        except UnicodeDecodeError as error:
            out.append(visible(data[: error.start].decode("utf-8")))
            out.extend(f"<0x{b:02X}>" for b in data[error.start : error.end])
            data = data[error.end :]
    return "".join(out)


def readable_label(token: str, style: str) -> str:
    """What a person reads for a token string written in ``style`` (one of STYLES)."""
    return describe(token, style, prefix="##")[0]


def describe(token: str, style: str, *, prefix: str) -> tuple[str, str]:
    """(label, kind) of an ordinary vocabulary token."""
    if not token:
        return "<empty>", "word"
    if style == "byte_level":
        data = byte_level_bytes(token)
        if data is None:
            return visible(token), "word"
        if len(data) == 1 and data[0] >= 0x80:  # a lone byte: part of a character, never one
            kind = "byte"
        else:
            kind = "word_start" if data[:1] == b" " else "continuation"
        return _visible_bytes(data), kind
    if style == "metaspace":
        if _BYTE_TOKEN.match(token):
            return token, "byte"
        kind = "word_start" if token.startswith("▁") else "continuation"
        return visible(token.replace("▁", " ")), kind
    if style == "wordpiece":
        kind = "continuation" if prefix and token.startswith(prefix) and token != prefix else "word"
        return visible(token), kind
    return visible(token), "word"
