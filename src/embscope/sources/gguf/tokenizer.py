"""The tokenizer a GGUF file's own metadata (``tokenizer.ggml.*``) describes, as the vocabulary
every reader of a model's token matrix uses; the ``tokenizers`` objects that split words are
built on first use."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...errors import MalformedFileError
from ..hf_tokenizer import TokenizerVocabulary
from .header import CHARSMAP, MERGES, SCORES, TOKEN_TYPES, TOKENS, GGUFHeader

#: ``tokenizer.ggml.model`` values whose words can be split into the model's pieces here; other
#: models (``rwkv``, ``plamo2``…) still get keys, labels and kinds from their tokens.
TOKENIZER_MODELS = ("gpt2", "llama", "t5", "bert")

_SPECIAL_ID_KEYS = tuple(
    f"tokenizer.ggml.{name}_token_id"
    for name in (
        "bos", "eos", "eot", "eom", "unknown", "seperator", "padding", "mask",
        "fim_pre", "fim_suf", "fim_mid", "fim_pad", "fim_rep", "fim_sep", "prefix", "suffix",
        "middle",
    )
)  # fmt: skip

# llama.cpp's token types (gguf.TokenType)
_NORMAL, _UNKNOWN, _CONTROL, _USER_DEFINED, _UNUSED, _BYTE = 1, 2, 3, 4, 5, 6


def gguf_vocabulary(header: GGUFHeader) -> TokenizerVocabulary | None:
    """The tokenizer that ``tokenizer.ggml.*`` describes; None when the file has no tokens.

    ``gpt2`` is byte-level BPE (``Ġking``), ``llama`` SentencePiece BPE and ``t5`` SentencePiece
    Unigram (``▁king``, ``<0x0A>``), ``bert`` WordPiece as llama.cpp converts it (``▁`` marks a
    word start, ``##`` is dropped). Other models keep their tokens as keys and labels but split
    no words (a note says so).
    """
    tokens = header.get(TOKENS)
    if tokens is None:
        return None
    path = header.path
    if not isinstance(tokens, list):
        raise MalformedFileError(path, f"{TOKENS} is not an array of strings")
    n = len(tokens)
    model = header.get("tokenizer.ggml.model")
    model = model if isinstance(model, str) else "unknown"
    types = _array(header, TOKEN_TYPES, n, "i")
    scores = _array(header, SCORES, n, "f")
    special: set[int] = set()
    added: set[int] = set()
    if types is not None:
        special = {int(i) for i in np.flatnonzero(np.isin(types, (_UNKNOWN, _CONTROL, _UNUSED)))}
        added = {int(i) for i in np.flatnonzero(types == _USER_DEFINED)}
    for key in _SPECIAL_ID_KEYS:
        value = header.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n:
            special.add(value)
    unk = header.get("tokenizer.ggml.unknown_token_id")
    unk_id = unk if isinstance(unk, int) and not isinstance(unk, bool) and 0 <= unk < n else None
    pre = header.get("tokenizer.ggml.pre")
    notes: list[str] = [f"tokenizer.ggml.model={model}"] + (
        [f"tokenizer.ggml.pre={pre}"] if isinstance(pre, str) else []
    )
    build: Callable[[], Callable[[str], list[int]]] | None
    if model == "gpt2":
        style, kind = "byte_level", "BPE"
        build = _byte_level_bpe(header, tokens, pre if isinstance(pre, str) else None)
        if isinstance(pre, str) and pre not in ("gpt2", "gpt-2", "default"):
            notes.append(
                "words are split with GPT-2's pattern, which may group digits and "
                "punctuation differently from this model's"
            )
    elif model == "llama":
        style, kind = "metaspace", "BPE"
        build = _sentencepiece_bpe(header, tokens, scores, types, unk_id)
    elif model == "t5":
        style, kind = "metaspace", "Unigram"
        build = _sentencepiece_unigram(header, tokens, scores, unk_id)
    elif model == "bert":
        style, kind = "metaspace", "WordPiece"
        build = _wordpiece(header, tokens, special, unk_id)
    else:
        style, kind, build = "plain", model, None
        notes.append(f"no word splitting for tokenizer model {model!r}: query whole tokens")
    if build is not None:
        # a byte-level BPE unknown id would hide real tokens: only SentencePiece's <unk> counts
        unk_id = unk_id if model != "gpt2" else None
    return TokenizerVocabulary(
        tokens=dict(enumerate(tokens)),
        special_ids=frozenset(special),
        added_ids=frozenset(added - special),
        style=style,
        model=kind,
        source=f"GGUF metadata ({model})",
        fingerprint=header.digest,
        unk_id=unk_id,
        continuation_prefix="",
        build_encoder=build,
        notes=tuple(notes),
    )


def _array(header: GGUFHeader, key: str, n: int, kind: str) -> np.ndarray | None:
    values = header.get(key)
    if values is None:
        return None
    if not isinstance(values, np.ndarray) or values.dtype.kind not in kind + "u" * (kind == "i"):
        raise MalformedFileError(header.path, f"{key} is not an array of numbers")
    if len(values) != n:
        raise MalformedFileError(header.path, f"{key} has {len(values):,} entries for {n:,} tokens")
    return values


def _merges(header: GGUFHeader) -> list[tuple[str, str]]:
    merges = header.get(MERGES)
    if merges is None:
        return []
    if not isinstance(merges, list):
        raise MalformedFileError(header.path, f"{MERGES} is not an array of strings")
    pairs = []
    for i, merge in enumerate(merges):
        # llama.cpp splits at the first space after the first character (a merge may join a
        # token that is itself a space)
        cut = merge.find(" ", 1)
        if cut < 0:
            raise MalformedFileError(
                header.path, f"{MERGES}[{i}] is {merge[:40]!r}, not two tokens and a space"
            )
        pairs.append((merge[:cut], merge[cut + 1 :]))
    return pairs


def _first_id(tokens: list[str]) -> dict[str, int]:
    """token → its first id (a few vocabularies repeat a string)."""
    vocab: dict[str, int] = {}
    for i, token in enumerate(tokens):
        vocab.setdefault(token, i)
    return vocab


def _tokenizers_failure(header: GGUFHeader, error: Exception) -> MalformedFileError:
    first_line = (str(error).strip().splitlines() or [""])[0][:200]
    return MalformedFileError(
        header.path, f"its tokenizer metadata does not make a tokenizer: {first_line}"
    )


def _byte_level_bpe(
    header: GGUFHeader, tokens: list[str], pre: str | None
) -> Callable[[], Callable[[str], list[int]]]:
    merges = _merges(header)  # checked now, so a broken file fails at load, not at a query

    def build() -> Callable[[str], list[int]]:
        from tokenizers import Tokenizer, pre_tokenizers
        from tokenizers.models import BPE

        try:
            # Llama 3's tokenizer takes a word that is a whole token as it is (llama.cpp's
            # ignore_merges for "llama-bpe")
            model = BPE(_first_id(tokens), merges, ignore_merges=pre == "llama-bpe")
        except Exception as error:  # tokenizers raises its own Exception for bad merges
            raise _tokenizers_failure(header, error) from None
        tokenizer = Tokenizer(model)
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        return lambda word: tokenizer.encode(word, add_special_tokens=False).ids

    return build


def _space_prefix(header: GGUFHeader, default: bool) -> bool:
    value = header.get("tokenizer.ggml.add_space_prefix", default)
    return bool(value) if isinstance(value, bool) else default


def _sentencepiece_bpe(
    header: GGUFHeader,
    tokens: list[str],
    scores: np.ndarray | None,
    types: np.ndarray | None,
    unk_id: int | None,
) -> Callable[[], Callable[[str], list[int]]]:
    """SentencePiece BPE (Llama 1 and 2, Mistral, Gemma): the merges are not stored, so they are
    rebuilt from the scores as transformers' converter does: every split of a token into two
    tokens, ranked by the merged token's score."""
    add_prefix = _space_prefix(header, True)

    def build() -> Callable[[str], list[int]]:
        from tokenizers import Tokenizer, normalizers
        from tokenizers.models import BPE

        vocab = _first_id(tokens)
        # without scores, earlier ids merge first (SentencePiece orders pieces by score)
        ranks = scores if scores is not None else -np.arange(len(tokens), dtype=np.float32)
        candidates = []
        for i, token in enumerate(tokens):
            if types is not None and types[i] not in (_NORMAL, _USER_DEFINED):
                continue  # control, byte and unused tokens are never made by merging
            local = []
            for cut in range(1, len(token)):
                left, right = token[:cut], token[cut:]
                if left in vocab and right in vocab:
                    local.append((vocab[left], vocab[right], left, right))
            local.sort()
            candidates.extend((-float(ranks[i]), left, right) for _, _, left, right in local)
        candidates.sort(key=lambda c: c[0])  # stable: equal scores keep the token order
        merges = [(left, right) for _, left, right in candidates]
        has_bytes = types is not None and bool((types == _BYTE).any())
        try:
            model = BPE(
                vocab,
                merges,
                unk_token=tokens[unk_id] if unk_id is not None else None,
                fuse_unk=True,
                byte_fallback=has_bytes,
            )
        except Exception as error:
            raise _tokenizers_failure(header, error) from None
        tokenizer = Tokenizer(model)
        steps = [normalizers.Replace(" ", "▁")]
        if add_prefix:
            steps.insert(0, normalizers.Prepend("▁"))
        tokenizer.normalizer = normalizers.Sequence(steps)
        return lambda word: tokenizer.encode(word, add_special_tokens=False).ids

    return build


def _sentencepiece_unigram(
    header: GGUFHeader, tokens: list[str], scores: np.ndarray | None, unk_id: int | None
) -> Callable[[], Callable[[str], list[int]]]:
    """SentencePiece Unigram (T5 and its kin): pieces and their log-probabilities, with the
    precompiled normalization map when the file carries one."""
    if scores is None:
        raise MalformedFileError(header.path, f"a t5 (Unigram) tokenizer without {SCORES}")
    add_prefix = _space_prefix(header, True)
    charsmap = header.get(CHARSMAP)

    def build() -> Callable[[str], list[int]]:
        from tokenizers import Tokenizer, normalizers, pre_tokenizers
        from tokenizers.models import Unigram

        pieces = [(token, float(score)) for token, score in zip(tokens, scores, strict=True)]
        try:
            tokenizer = Tokenizer(Unigram(pieces, unk_id, byte_fallback=False))
            if isinstance(charsmap, np.ndarray) and len(charsmap):
                tokenizer.normalizer = normalizers.Precompiled(charsmap.astype(np.uint8).tobytes())
        except Exception as error:
            raise _tokenizers_failure(header, error) from None
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement="▁", prepend_scheme="always" if add_prefix else "never"
        )
        return lambda word: tokenizer.encode(word, add_special_tokens=False).ids

    return build


def _wordpiece(
    header: GGUFHeader, tokens: list[str], special: set[int], unk_id: int | None
) -> Callable[[], Callable[[str], list[int]]]:
    """BERT's WordPiece as llama.cpp stores it (``▁word`` starts, bare continuations): the
    ``##`` vocabulary is rebuilt to split words, and the ids map back to the file's tokens."""

    def build() -> Callable[[str], list[int]]:
        from tokenizers import Tokenizer, normalizers, pre_tokenizers
        from tokenizers.models import WordPiece

        vocab: dict[str, int] = {}
        for i, token in enumerate(tokens):
            if i in special:
                piece = token
            elif token.startswith("▁"):
                piece = token[1:]
            else:
                piece = "##" + token
            vocab.setdefault(piece, i)
        lowercase = not any(t.lower() != t for i, t in enumerate(tokens) if i not in special)
        unk = tokens[unk_id] if unk_id is not None else "[UNK]"
        tokenizer = Tokenizer(WordPiece(vocab, unk_token=unk))
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        return lambda word: tokenizer.encode(word, add_special_tokens=False).ids

    return build
