"""The tokenizer files older than ``tokenizer.json``: ``vocab.json`` + ``merges.txt`` (GPT-2's
byte-level BPE), ``vocab.txt`` (BERT's WordPiece) and ``*.tiktoken`` rank files."""

from __future__ import annotations

import base64
import binascii
import importlib.util
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ...errors import MalformedFileError
from ..vocabulary import read_vocabulary
from .json_values import added_tokens_decoder, digest, read_json, token_ids, token_text
from .labels import byte_level_key
from .table import TokenizerVocabulary

logger = logging.getLogger(__name__)


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


# ---- vocab.json + merges.txt (GPT-2 byte-level BPE) ------------------------------------------
def from_vocab_and_merges(directory: Path, config: Mapping[str, Any]) -> TokenizerVocabulary:
    """GPT-2's byte-level BPE from ``vocab.json`` and ``merges.txt``."""
    vocab_path, merges_path = directory / "vocab.json", directory / "merges.txt"
    raw = vocab_path.read_bytes()
    vocab = read_json(vocab_path)
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
        tokens=token_ids(vocab, vocab_path, "vocab.json"),
        special_ids=frozenset(),
        added_ids=frozenset(),
        style="byte_level",
        model="BPE",
        source="vocab.json+merges.txt",
        fingerprint=digest(raw + merges_path.read_bytes()),
        build_encoder=build,
    )


# ---- vocab.txt (BERT WordPiece) --------------------------------------------------------------
def from_vocab_txt(path: Path, config: Mapping[str, Any]) -> TokenizerVocabulary:
    """BERT's WordPiece from ``vocab.txt``, with the options ``tokenizer_config.json`` sets."""
    tokens = read_vocabulary(path)
    vocab = {token: i for i, token in enumerate(tokens)}
    # BertTokenizer's defaults, unless tokenizer_config.json says otherwise.
    declared = {
        name: token_text(config.get(name)) or default
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
        fingerprint=digest(path.read_bytes()),
        unk_id=vocab.get(unk),
        build_encoder=build,
        notes=(f"do_lower_case={lowercase}",),
    )


# ---- *.tiktoken ------------------------------------------------------------------------------
def from_tiktoken(path: Path, config: Mapping[str, Any]) -> TokenizerVocabulary:
    """The byte-level BPE of a ``*.tiktoken`` rank file (words split when tiktoken is installed)."""
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
    added = added_tokens_decoder(config)

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
        fingerprint=digest(raw),
        build_encoder=build_encoder,
        notes=(*notes, f"split pattern {pattern_name}"),
    )
