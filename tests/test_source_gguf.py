"""GGUF files as a source: matrices of every common type, the tokenizer in the metadata, the
cache, hostile headers, Ollama's and LM Studio's stores, and the real SmolLM2-135M file.

Small files are written with llama.cpp's own ``gguf.GGUFWriter`` and vocabularies trained with
``tokenizers``; expected values come from ``gguf.quants.dequantize`` on the whole tensor and
expected pieces from the trained tokenizer itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np
import pytest
from click.testing import CliRunner

import embscope
from embscope.cli import main
from embscope.errors import MalformedFileError, SourceError
from embscope.sources.gguf import gguf_vocabulary, load_gguf, read_gguf_header
from embscope.sources.stores import stored_models

Q = gguf.GGMLQuantizationType
WIDTH = 256  # one K-quant super-block per row
TEXT = [
    "the king and the queen ruled the kingdom",
    "kings and queens, princes and princesses walked in the royal garden of the kingdom",
    "the king spoke to the queen and the prince",
    "a kingly crown for a queenly queen, said the kingdom's people to their kings",
]


@dataclass(frozen=True)
class Vocabulary:
    """A trained tokenizer and the ``tokenizer.ggml.*`` metadata that describes it."""

    model: str
    tokens: list[str]
    types: list[int]
    reference: object  # the trained tokenizers.Tokenizer
    scores: list[float] | None = None
    merges: list[str] | None = None
    unk_id: int | None = None


def _train(model_name: str):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    if model_name == "gpt2":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(
            vocab_size=400,
            special_tokens=["<|endoftext|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
    elif model_name == "llama":
        tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        trainer = trainers.BpeTrainer(
            vocab_size=200, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False
        )
    else:
        tokenizer = Tokenizer(models.Unigram())
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=120,
            special_tokens=["<pad>", "</s>", "<unk>"],
            unk_token="<unk>",
            show_progress=False,
        )
    tokenizer.train_from_iterator(TEXT * 20, trainer)
    return tokenizer, json.loads(tokenizer.to_str())["model"]


@pytest.fixture(scope="module")
def byte_level() -> Vocabulary:
    tokenizer, model = _train("gpt2")
    tokens = sorted(model["vocab"], key=model["vocab"].get)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    types = [3 if t == "<|endoftext|>" else 1 for t in tokens]
    return Vocabulary("gpt2", tokens, types, tokenizer, merges=merges)


@pytest.fixture(scope="module")
def sentencepiece() -> Vocabulary:
    """SentencePiece BPE as llama.cpp stores it: pieces with scores (-rank), no merges, and the
    256 byte tokens a Llama vocabulary falls back to."""
    tokenizer, model = _train("llama")
    pieces = sorted(model["vocab"], key=model["vocab"].get)
    tokens = [*pieces, *(f"<0x{b:02X}>" for b in range(256))]
    kinds = {"<unk>": 2, "<s>": 3, "</s>": 3}
    types = [kinds.get(t, 6 if t.startswith("<0x") else 1) for t in tokens]
    scores = [0.0 if types[i] != 1 else -float(i) for i in range(len(tokens))]
    return Vocabulary("llama", tokens, types, tokenizer, scores=scores, unk_id=0)


@pytest.fixture(scope="module")
def unigram() -> Vocabulary:
    tokenizer, model = _train("t5")
    tokens = [piece for piece, _ in model["vocab"]]
    scores = [float(score) for _, score in model["vocab"]]
    types = [3 if t in ("<pad>", "</s>") else 2 if t == "<unk>" else 1 for t in tokens]
    return Vocabulary("t5", tokens, types, tokenizer, scores=scores, unk_id=model["unk_id"])


def _stored(matrix: np.ndarray, qtype: Q) -> np.ndarray:
    """What a GGUF file holds for ``matrix`` in ``qtype``; K-quants, which gguf cannot
    quantize, are random blocks whose scales are set to something sane."""
    if qtype in (Q.Q4_K, Q.Q6_K):
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        rng = np.random.default_rng(7)
        raw = rng.integers(0, 256, (len(matrix), WIDTH // block, size), dtype=np.uint8)
        scale = np.frombuffer(np.float16(0.01).tobytes(), np.uint8)
        if qtype == Q.Q4_K:  # d and dmin open the block
            raw[..., 0:2], raw[..., 2:4] = scale, scale
        else:  # Q6_K: d closes it
            raw[..., size - 2 :] = scale
        return raw.reshape(len(matrix), -1)
    return gguf.quants.quantize(matrix, qtype)


def write_gguf(
    path: Path,
    vocabulary: Vocabulary | None,
    *,
    qtype: Q = Q.F32,
    rows: int | None = None,
    output: bool = False,
    seed: int = 0,
    extra=None,
) -> np.ndarray:
    """A GGUF file whose token_embd (and output, if asked: token_embd's columns reversed) is
    stored as ``qtype``; returns the matrix token_embd holds, dequantized by gguf itself."""
    rows = rows or len(vocabulary.tokens)
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0, 0.5, (rows, WIDTH)).astype(np.float32)
    writer = gguf.GGUFWriter(path, arch="llama")
    writer.add_name("tiny test model")
    if vocabulary is not None:
        writer.add_tokenizer_model(vocabulary.model)
        writer.add_token_list(vocabulary.tokens)
        writer.add_token_types(vocabulary.types)
        if vocabulary.scores is not None:
            writer.add_token_scores(vocabulary.scores)
        if vocabulary.merges is not None:
            writer.add_token_merges(vocabulary.merges)
        if vocabulary.unk_id is not None:
            writer.add_unk_token_id(vocabulary.unk_id)
    if extra is not None:
        extra(writer)
    stored = _stored(matrix, qtype)
    quantized = qtype not in (Q.F32, Q.F16)
    writer.add_tensor("token_embd.weight", stored, raw_dtype=qtype if quantized else None)
    if output:
        head = _stored(matrix[:, ::-1].copy(), qtype)
        writer.add_tensor("output.weight", head, raw_dtype=qtype if quantized else None)
    writer.add_tensor("output_norm.weight", np.ones(WIDTH, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return gguf.quants.dequantize(stored, qtype)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("EMBSCOPE_CACHE", str(folder))
    return folder


def _cache_files(cache: Path) -> list[Path]:
    return sorted((cache / "gguf").glob("*.npy")) if (cache / "gguf").is_dir() else []


# ---- matrices --------------------------------------------------------------------------------
@pytest.mark.parametrize("qtype", [Q.F32, Q.F16])
def test_float_matrices_are_mapped_from_the_file_without_a_cache(
    tmp_path, cache, byte_level, qtype
):
    path = tmp_path / "model.gguf"
    expected = write_gguf(path, byte_level, qtype=qtype)
    space = embscope.load(path, kind="gguf")
    assert space.shape == (len(byte_level.tokens), WIDTH)
    assert space.vectors.dtype == (np.float32 if qtype == Q.F32 else np.float16)
    np.testing.assert_array_equal(np.asarray(space.vectors, dtype=np.float32), expected)
    assert space.summary()["memory_mapped"] is True
    assert space.provenance.kind == "gguf"
    assert space.provenance.options["type"] == qtype.name
    assert space.provenance.options["stored_as"] == "mapped from the file"
    assert _cache_files(cache) == []


@pytest.mark.parametrize("qtype", [Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q4_K, Q.Q6_K])
def test_quantized_matrices_are_dequantized_like_gguf_does(tmp_path, cache, byte_level, qtype):
    path = tmp_path / "model.gguf"
    expected = write_gguf(path, byte_level, qtype=qtype)
    space = load_gguf(path, progress=False)
    # float16 for quantized types (exactly gguf's values, rounded once); float32 for BF16
    dtype = np.float32 if qtype == Q.BF16 else np.float16
    assert space.vectors.dtype == dtype
    np.testing.assert_array_equal(space.vectors, expected.astype(dtype))
    np.testing.assert_allclose(space.vectors.astype(np.float32), expected, rtol=2**-10, atol=1e-7)
    assert space.provenance.options["type"] == qtype.name
    assert space.summary()["memory_mapped"] is True
    assert len(_cache_files(cache)) == 1


def test_second_load_reads_the_cache_and_a_changed_file_is_read_again(tmp_path, cache, byte_level):
    path = tmp_path / "model.gguf"
    write_gguf(path, byte_level, qtype=Q.Q8_0)
    first = load_gguf(path, progress=False)
    (entry,) = _cache_files(cache)
    before = entry.stat()
    second = load_gguf(path, progress=False)
    after = entry.stat()
    # the same file, untouched: not written again, and the space maps it
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert second.provenance.options["stored_as"] == "mapped from the cache (dequantized once)"
    assert second.summary()["memory_mapped"] is True
    np.testing.assert_array_equal(first.vectors, second.vectors)
    assert first.provenance.digest == second.provenance.digest
    # a new file at the same path is a new entry
    expected = write_gguf(path, byte_level, qtype=Q.Q8_0, seed=1)
    third = load_gguf(path, progress=False)
    assert len(_cache_files(cache)) == 2
    np.testing.assert_array_equal(third.vectors, expected.astype(np.float16))
    assert third.provenance.digest != first.provenance.digest


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong shape"])
def test_a_damaged_cache_entry_is_computed_again(tmp_path, cache, byte_level, caplog, damage):
    path = tmp_path / "model.gguf"
    expected = write_gguf(path, byte_level, qtype=Q.Q4_0)
    load_gguf(path, progress=False)
    (entry,) = _cache_files(cache)
    if damage == "truncate":
        entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    elif damage == "garbage":
        entry.write_bytes(b"not an npy file at all" * 100)
    else:
        np.save(entry, np.zeros((3, 3), dtype=np.float16))
    with caplog.at_level(logging.WARNING, logger="embscope"):
        space = load_gguf(path, progress=False)
    assert "GGUF matrix cache entry" in caplog.text and "computing it again" in caplog.text
    np.testing.assert_array_equal(space.vectors, expected.astype(np.float16))
    (again,) = _cache_files(cache)
    assert np.load(again, mmap_mode="r").shape == space.shape


def test_values_beyond_float16_are_cached_as_float32(tmp_path, cache, byte_level):
    """A Q8_0 block with a large scale dequantizes past float16's range: the whole cache is
    float32 then, never infinity."""
    path = tmp_path / "model.gguf"
    rows = len(byte_level.tokens)
    block = np.zeros((rows, WIDTH // 32, 34), dtype=np.uint8)
    block[..., :2] = np.frombuffer(np.float16(30_000).tobytes(), np.uint8)
    block[..., 2:] = np.arange(32, dtype=np.int8).view(np.uint8)
    raw = block.reshape(rows, -1)

    def add(writer):
        writer.add_tensor("token_embd.weight", raw, raw_dtype=Q.Q8_0)

    writer = gguf.GGUFWriter(path, arch="llama")
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(byte_level.tokens)
    add(writer)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    space = load_gguf(path, progress=False)
    assert space.vectors.dtype == np.float32
    assert np.isfinite(space.vectors).all() and space.vectors.max() == 30_000 * 31
    np.testing.assert_array_equal(space.vectors, gguf.quants.dequantize(raw, Q.Q8_0))


def test_an_unwritable_cache_holds_the_matrix_in_memory(tmp_path, monkeypatch, byte_level, caplog):
    path = tmp_path / "model.gguf"
    expected = write_gguf(path, byte_level, qtype=Q.Q8_0)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("EMBSCOPE_CACHE", str(blocker))
    with caplog.at_level(logging.WARNING, logger="embscope"):
        space = load_gguf(path, progress=False)
    assert "could not write the GGUF cache" in caplog.text
    np.testing.assert_allclose(space.vectors, expected)
    assert space.provenance.options["stored_as"].startswith("in memory")


def test_output_matrix_untied_and_tied(tmp_path, cache, byte_level):
    untied = tmp_path / "untied.gguf"
    write_gguf(untied, byte_level, qtype=Q.F32, output=True)
    head = load_gguf(untied, matrix="output", progress=False)
    assert head.provenance.options["tied"] is False
    assert head.provenance.options["tensor"] == "output.weight"
    embedding = load_gguf(untied, progress=False)
    np.testing.assert_array_equal(head.vectors, embedding.vectors[:, ::-1])
    tied = tmp_path / "tied.gguf"
    write_gguf(tied, byte_level, qtype=Q.F16)
    output = load_gguf(tied, matrix="output", progress=False)
    assert output.provenance.options["tied"] is True
    assert output.provenance.options["tensor"] == "token_embd.weight"
    np.testing.assert_array_equal(output.vectors, load_gguf(tied, progress=False).vectors)
    with pytest.raises(embscope.InvalidParameterError, match="matrix must be"):
        load_gguf(tied, matrix="head")


def test_header_agrees_with_gguf_reader(tmp_path, byte_level):
    path = tmp_path / "model.gguf"
    write_gguf(path, byte_level, qtype=Q.Q4_1, output=True)
    header = read_gguf_header(path)
    reader = gguf.GGUFReader(path)
    for tensor in reader.tensors:
        mine = header.tensors[tensor.name]
        assert mine.offset == tensor.data_offset
        assert mine.n_bytes == tensor.n_bytes
        assert mine.type_name == tensor.tensor_type.name
        assert mine.dims == tuple(int(d) for d in tensor.shape)
    assert header.get("tokenizer.ggml.tokens") == reader.fields["tokenizer.ggml.tokens"].contents()
    assert header.get("tokenizer.ggml.merges") == reader.fields["tokenizer.ggml.merges"].contents()
    assert header.get("general.name") == "tiny test model"
    assert header.data_offset == reader.data_offset
    _assert_same_scalars(header, reader)


def _assert_same_scalars(header, reader) -> None:
    """Every scalar and string GGUFReader finds, this parser finds with the same value."""
    scalars = [f for f in reader.fields.values()
               if len(f.types) == 1 and not f.name.startswith("GGUF.")]  # fmt: skip
    assert scalars
    for field in scalars:
        assert header.get(field.name) == pytest.approx(field.contents()), field.name


# ---- tokenizers ------------------------------------------------------------------------------
WORDS = ["king", " king", "kingdom", "queens", "princesses", "the royal garden", "kingly"]


def _pieces(path: Path, word: str) -> list[str]:
    header = read_gguf_header(path)
    vocabulary = gguf_vocabulary(header)
    encode = vocabulary.build_encoder()
    return [vocabulary.tokens[i] for i in encode(word)]


@pytest.mark.parametrize("flavour", ["byte_level", "sentencepiece", "unigram"])
def test_words_split_like_the_tokenizer_that_made_the_vocabulary(tmp_path, request, flavour):
    vocabulary = request.getfixturevalue(flavour)
    path = tmp_path / "model.gguf"
    write_gguf(path, vocabulary, qtype=Q.F16)
    for word in WORDS:
        if word.startswith(" ") and flavour == "sentencepiece":
            # SentencePiece (and llama.cpp) turn the added prefix and the space into "▁▁"
            assert _pieces(path, word) == ["▁", *_pieces(path, word[1:])]
            continue
        expected = vocabulary.reference.encode(word, add_special_tokens=False).tokens
        assert _pieces(path, word) == expected, word


def test_byte_level_keys_labels_and_kinds(tmp_path, cache, byte_level):
    path = tmp_path / "model.gguf"
    write_gguf(path, byte_level, qtype=Q.F16)
    space = load_gguf(path)
    assert space.keys == byte_level.tokens
    frame = space.metadata.set_index(np.asarray(space.keys))
    assert "Ġking" in space and space.labels[space.row("Ġking")] == "␣king"
    assert frame.loc["Ġking", "kind"] == "word_start"
    assert frame.loc["<|endoftext|>", "kind"] == "special"
    assert frame.loc["<|endoftext|>", "special"]
    continuation = next(k for k in space.keys if k.isalpha() and len(k) > 2)
    assert frame.loc[continuation, "kind"] == "continuation"
    options = space.provenance.options
    assert options["architecture"] == "llama" and options["model_name"] == "tiny test model"
    assert options["tokenizer"] == "GGUF metadata (gpt2) (BPE, byte_level)"


def test_sentencepiece_keys_labels_and_kinds(tmp_path, cache, sentencepiece):
    path = tmp_path / "model.gguf"
    write_gguf(path, sentencepiece, qtype=Q.Q8_0)
    space = load_gguf(path, progress=False)
    frame = space.metadata.set_index(np.asarray(space.keys))
    assert space.labels[space.row("▁king")] == "␣king"
    assert frame.loc["▁king", "kind"] == "word_start"
    assert frame.loc["<0x0A>", "kind"] == "byte" and space.labels[space.row("<0x0A>")] == "<0x0A>"
    assert frame.loc["<s>", "kind"] == "special" and frame.loc["<unk>", "special"]
    # a character the vocabulary lacks falls back to its UTF-8 bytes, as SentencePiece does
    assert _pieces(path, "kingé") == ["▁king", "<0xC3>", "<0xA9>"]
    assert list(space.resolve("kingdoms", pieces="mean").keys) == _pieces(path, "kingdoms")


def test_bert_vocabulary_as_llama_cpp_stores_it(tmp_path, cache):
    # llama.cpp writes word starts with "▁" and drops WordPiece's "##"
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens = [*specials, "▁the", "▁king", "▁queen", "dom", "s", "▁kings"]
    types = [3, 2, 3, 3, 3, 1, 1, 1, 1, 1, 1]
    vocabulary = Vocabulary("bert", tokens, types, None, unk_id=1)
    path = tmp_path / "bert.gguf"
    write_gguf(path, vocabulary, qtype=Q.F32)
    assert _pieces(path, "kingdom") == ["▁king", "dom"]
    assert _pieces(path, "queens") == ["▁queen", "s"]
    space = load_gguf(path)
    assert space.labels[space.row("▁king")] == "␣king"
    assert space.metadata.set_index(np.asarray(space.keys)).loc["dom", "kind"] == "continuation"
    with pytest.raises(embscope.UnknownKeyError):
        space.resolve("xyz", pieces="mean")  # only [UNK] would cover it


def test_other_tokenizer_models_keep_their_tokens_and_say_they_split_nothing(tmp_path, cache):
    tokens = [f"tok{i}" for i in range(20)]
    vocabulary = Vocabulary("rwkv", tokens, [1] * 20, None)
    path = tmp_path / "rwkv.gguf"
    write_gguf(path, vocabulary, qtype=Q.F32)
    space = load_gguf(path)
    assert space.keys == tokens and not space.has_tokenizer
    assert any("no word splitting" in note for note in space.provenance.options["tokenizer_notes"])


def test_a_file_without_tokens_is_keyed_by_row(tmp_path, cache):
    path = tmp_path / "bare.gguf"
    write_gguf(path, None, qtype=Q.F32, rows=10)
    space = load_gguf(path)
    assert space.keys == [str(i) for i in range(10)]
    assert space.provenance.options["tokenizer"] == "none: keys are row numbers"


# ---- hostile files ---------------------------------------------------------------------------
def _string(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(data)) + data


def _kv(key: str, type_id: int, payload: bytes) -> bytes:
    return _string(key) + struct.pack("<I", type_id) + payload


def _tokens_kv(tokens: list[str]) -> bytes:
    body = struct.pack("<IQ", 8, len(tokens)) + b"".join(_string(t) for t in tokens)
    return _kv("tokenizer.ggml.tokens", 9, body)


def _tensor_info(name: str, dims: tuple[int, ...], type_id: int, offset: int) -> bytes:
    return (
        _string(name)
        + struct.pack("<I", len(dims))
        + b"".join(struct.pack("<Q", d) for d in dims)
        + struct.pack("<IQ", type_id, offset)
    )


def raw_gguf(
    kvs: list[bytes] | None = None,
    tensors: list[bytes] | None = None,
    data: bytes | None = None,
    *,
    version: int = 3,
    n_kv: int | None = None,
    n_tensors: int | None = None,
) -> bytes:
    """A GGUF file assembled byte by byte (the writer refuses to write a lying one); by default
    four tokens and a 4 x 4 F32 token_embd."""
    kvs = kvs if kvs is not None else [_tokens_kv(["a", "b", "c", "d"])]
    tensors = tensors if tensors is not None else [_tensor_info("token_embd.weight", (4, 4), 0, 0)]
    data = data if data is not None else np.arange(16, dtype=np.float32).tobytes()
    n_tensors = len(tensors) if n_tensors is None else n_tensors
    n_kv = len(kvs) if n_kv is None else n_kv
    head = b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv)
    head += b"".join(kvs) + b"".join(tensors)
    head += bytes(-len(head) % 32)
    return head + data


HOSTILE = {
    "bad magic": lambda: b"GGUX" + raw_gguf()[4:],
    "version 1": lambda: raw_gguf(version=1),
    "big-endian": lambda: raw_gguf(version=3 << 24),
    "metadata count past the file": lambda: raw_gguf(n_kv=1 << 62),
    "tensor count past the file": lambda: raw_gguf(n_tensors=1 << 60),
    "string length past the file": lambda: raw_gguf(
        kvs=[_kv("general.name", 8, struct.pack("<Q", 1 << 63))]
    ),
    "array length past the file": lambda: raw_gguf(
        kvs=[_kv("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 1 << 61))]
    ),
    "numeric array past the file": lambda: raw_gguf(
        kvs=[_tokens_kv(list("abcd")), _kv("x.big", 9, struct.pack("<IQ", 12, 1 << 40))]
    ),
    "unknown value type": lambda: raw_gguf(kvs=[_kv("general.name", 77, b"\0" * 8)]),
    "arrays nested deep": lambda: raw_gguf(
        kvs=[_kv("x.nest", 9, struct.pack("<IQ", 9, 1) * 10 + struct.pack("<IQ", 4, 0))]
    ),
    "key not UTF-8": lambda: raw_gguf(
        kvs=[_string(b"\xff\xfe") + struct.pack("<I", 4) + b"\0" * 4]
    ),
    "duplicate key": lambda: raw_gguf(kvs=[_tokens_kv(list("abcd")), _tokens_kv(list("abcd"))]),
    "five dimensions": lambda: raw_gguf(
        tensors=[_tensor_info("token_embd.weight", (4, 4, 1, 1, 1), 0, 0)]
    ),
    "huge shape": lambda: raw_gguf(
        tensors=[_tensor_info("token_embd.weight", (1 << 40, 1 << 40), 0, 0)]
    ),
    "offset past the end": lambda: raw_gguf(
        tensors=[_tensor_info("token_embd.weight", (4, 4), 0, 1 << 50)]
    ),
    "offset not aligned": lambda: raw_gguf(
        tensors=[_tensor_info("token_embd.weight", (4, 4), 0, 4)]
    ),
    "unknown type": lambda: raw_gguf(tensors=[_tensor_info("token_embd.weight", (4, 4), 999, 0)]),
    "row not whole blocks": lambda: raw_gguf(
        tensors=[_tensor_info("token_embd.weight", (33, 4), int(Q.Q8_0), 0)], data=bytes(4096)
    ),
    "duplicate tensor": lambda: raw_gguf(
        tensors=[_tensor_info("token_embd.weight", (4, 4), 0, 0)] * 2
    ),
    "3-D embedding": lambda: raw_gguf(tensors=[_tensor_info("token_embd.weight", (2, 2, 4), 0, 0)]),
    "bad alignment": lambda: raw_gguf(
        kvs=[_tokens_kv(list("abcd")), _kv("general.alignment", 4, struct.pack("<I", 3))]
    ),
    "token types disagree": lambda: raw_gguf(
        kvs=[
            _tokens_kv(list("abcd")),
            _kv("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, 2) + bytes(8)),
        ]
    ),
    "merge without a space": lambda: raw_gguf(
        kvs=[
            _kv("tokenizer.ggml.model", 8, _string("gpt2")),
            _tokens_kv(list("abcd")),
            _kv("tokenizer.ggml.merges", 9, struct.pack("<IQ", 8, 1) + _string("ab")),
        ]
    ),
    "tensor name too long": lambda: raw_gguf(
        tensors=[_string("x" * 70_000) + struct.pack("<I", 1)]
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_headers_are_one_clean_error(tmp_path, cache, case):
    path = tmp_path / "hostile.gguf"
    path.write_bytes(HOSTILE[case]())
    with pytest.raises(MalformedFileError) as caught:
        load_gguf(path, progress=False)
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message, message


def test_the_plain_file_the_hostile_cases_start_from_loads(tmp_path, cache):
    path = tmp_path / "plain.gguf"
    path.write_bytes(raw_gguf())
    space = load_gguf(path)
    assert space.keys == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(space.vectors, np.arange(16, dtype=np.float32).reshape(4, 4))


def test_an_unknown_type_elsewhere_does_not_stop_the_embedding(tmp_path, cache):
    tensors = [
        _tensor_info("token_embd.weight", (4, 4), 0, 0),
        _tensor_info("blk.0.future.weight", (4, 4), 999, 64),
    ]
    path = tmp_path / "newer.gguf"
    path.write_bytes(raw_gguf(tensors=tensors, data=np.arange(16, dtype=np.float32).tobytes()))
    assert load_gguf(path).shape == (4, 4)


def test_truncated_files_are_malformed_wherever_they_end(tmp_path, cache, byte_level):
    whole = tmp_path / "whole.gguf"
    write_gguf(whole, byte_level, qtype=Q.Q8_0)
    data = whole.read_bytes()
    header_end = read_gguf_header(whole).data_offset
    for cut in (3, 23, 40, header_end // 2, header_end - 1, header_end + 10, len(data) - 1):
        path = tmp_path / f"cut-{cut}.gguf"
        path.write_bytes(data[:cut])
        with pytest.raises(MalformedFileError, match=r"truncated|too short"):
            load_gguf(path, progress=False)


def test_missing_embedding_names_what_the_file_has(tmp_path, cache):
    path = tmp_path / "adapter.gguf"
    path.write_bytes(raw_gguf(tensors=[_tensor_info("blk.0.attn_q.weight", (4, 4), 0, 0)]))
    with pytest.raises(SourceError, match=r"no token_embd.weight .*blk.0.attn_q.weight \[4, 4\]"):
        load_gguf(path)
    empty = tmp_path / "vocab-only.gguf"
    empty.write_bytes(raw_gguf(tensors=[], data=b""))
    with pytest.raises(SourceError, match="vocabulary-only"):
        load_gguf(empty)


def test_more_tokens_than_rows_is_refused(tmp_path, cache):
    path = tmp_path / "mismatch.gguf"
    path.write_bytes(raw_gguf(kvs=[_tokens_kv(list("abcdef"))]))
    with pytest.raises(SourceError, match="do not belong to these weights"):
        load_gguf(path)


def test_header_memory_is_bounded_by_the_file(tmp_path):
    """Four million one-byte array items cost GGUFReader a numpy view each (gigabytes); here
    an array outside the tokenizer's is skipped, and peak memory stays near the file's size."""
    big = _kv("x.bytes", 9, struct.pack("<IQ", 0, 4_000_000) + bytes(4_000_000))
    strings = _kv("x.strings", 9, struct.pack("<IQ", 8, 500_000) + _string("") * 500_000)
    path = tmp_path / "wide.gguf"
    path.write_bytes(raw_gguf(kvs=[_tokens_kv(list("abcd")), big, strings]))
    probe = (
        "import sys\n"
        "import gguf.constants\n"
        "from embscope.sources.gguf import read_gguf_header\n"
        "def peak():\n"
        "    return next(int(l.split()[1]) for l in open('/proc/self/status')\n"
        "                if l.startswith('VmHWM:'))\n"
        "before = peak()\n"
        f"header = read_gguf_header({str(path)!r})\n"
        "print(peak() - before, header.get('x.bytes'))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    grown_kib, skipped = completed.stdout.split(maxsplit=1)
    assert int(grown_kib) < 32 * 1024, grown_kib
    assert "not read" in skipped


# ---- model stores ----------------------------------------------------------------------------
def _ollama_store(
    root: Path,
    model_file: Path,
    *,
    name: str = "tiny",
    namespace: str = "library",
    tag: str = "latest",
    digest: str | None = None,
    size: int | None = None,
) -> Path:
    data = model_file.read_bytes()
    hexdigest = hashlib.sha256(data).hexdigest()
    blobs = root / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    (blobs / f"sha256-{hexdigest}").write_bytes(data)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": "sha256:" + "0" * 64,
            "size": 2,
        },
        "layers": [
            {
                "mediaType": "application/vnd.ollama.image.template",
                "digest": "sha256:" + "1" * 64,
                "size": 10,
            },
            {
                "mediaType": "application/vnd.ollama.image.model",
                "digest": digest or f"sha256:{hexdigest}",
                "size": size if size is not None else len(data),
            },
        ],
    }
    folder = root / "manifests" / "registry.ollama.ai" / namespace / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / tag).write_text(json.dumps(manifest))
    return blobs / f"sha256-{hexdigest}"


@pytest.fixture
def tiny_gguf(tmp_path, byte_level) -> Path:
    path = tmp_path / "tiny-Q8_0.gguf"
    write_gguf(path, byte_level, qtype=Q.Q8_0)
    return path


@pytest.fixture
def stores(tmp_path, monkeypatch, cache) -> tuple[Path, Path]:
    ollama, lmstudio = tmp_path / "ollama", tmp_path / "lmstudio"
    monkeypatch.setenv("OLLAMA_MODELS", str(ollama))
    monkeypatch.setenv("LMSTUDIO_MODELS", str(lmstudio))
    return ollama, lmstudio


def test_ollama_names_resolve_through_the_manifest(stores, tiny_gguf):
    ollama, _ = stores
    blob = _ollama_store(ollama, tiny_gguf)
    _ollama_store(ollama, tiny_gguf, name="tiny", namespace="someone", tag="v1")
    for name in ("ollama:tiny", "ollama:tiny:latest", "ollama:someone/tiny:v1"):
        space = embscope.load(name, progress=False)
        assert space.name == name
        assert space.provenance.source == str(blob.resolve())
        assert space.shape[1] == WIDTH and "Ġking" in space


def test_ollama_unknown_name_lists_what_is_there(stores, tiny_gguf):
    ollama, _ = stores
    _ollama_store(ollama, tiny_gguf)
    with pytest.raises(SourceError) as caught:
        embscope.load("ollama:tinny")
    message = str(caught.value)
    assert "closest: ollama:tiny:latest" in message and "installed: tiny:latest" in message
    assert "\n" not in message


def test_ollama_without_a_store_says_where_it_looked(stores):
    with pytest.raises(SourceError, match=r"ollama:gemma3:270m: not found; .*OLLAMA_MODELS"):
        embscope.load("ollama:gemma3:270m")


@pytest.mark.parametrize(
    "digest",
    ["sha256:../../../etc/passwd", "sha256:" + "A" * 64, "md5:" + "0" * 32, "sha256:" + "0" * 63],
)
def test_ollama_manifest_digest_must_be_a_digest(stores, tiny_gguf, digest):
    ollama, _ = stores
    _ollama_store(ollama, tiny_gguf, digest=digest)
    with pytest.raises(MalformedFileError, match="not sha256: and 64 hex digits"):
        embscope.load("ollama:tiny")


def test_ollama_blob_leading_outside_the_store_is_refused(stores, tiny_gguf, tmp_path):
    ollama, _ = stores
    blob = _ollama_store(ollama, tiny_gguf)
    outside = tmp_path / "elsewhere.gguf"
    shutil.copy(tiny_gguf, outside)
    blob.unlink()
    blob.symlink_to(outside)
    with pytest.raises(SourceError, match="leads outside the model store"):
        embscope.load("ollama:tiny")


def test_ollama_incomplete_blob_says_pull_again(stores, tiny_gguf):
    ollama, _ = stores
    _ollama_store(ollama, tiny_gguf, size=tiny_gguf.stat().st_size + 1)
    with pytest.raises(SourceError, match="ollama pull"):
        embscope.load("ollama:tiny")


@pytest.mark.parametrize("name", ["ollama:../tiny", "ollama:a/b/c/d", "ollama:tiny:", "ollama:"])
def test_ollama_names_are_plain_names(stores, name):
    with pytest.raises(SourceError, match="is not a model name"):
        embscope.load(name)


def test_lmstudio_folder_by_publisher_and_repository(stores, tiny_gguf):
    _, lmstudio = stores
    folder = lmstudio / "someone" / "tiny-GGUF"
    folder.mkdir(parents=True)
    shutil.copy(tiny_gguf, folder / "tiny-Q8_0.gguf")
    shutil.copy(tiny_gguf, folder / "mmproj-tiny-f16.gguf")  # a vision projector: not a model
    space = embscope.load("lmstudio:someone/tiny-GGUF", progress=False)
    assert space.provenance.source == str((folder / "tiny-Q8_0.gguf").resolve())
    assert space.name == "lmstudio:someone/tiny-GGUF"
    shutil.copy(tiny_gguf, folder / "tiny-F16.gguf")
    with pytest.raises(SourceError, match=r"holds 2 GGUF files; name one, e.g. lmstudio:someone/"):
        embscope.load("lmstudio:someone/tiny-GGUF")
    chosen = embscope.load("lmstudio:someone/tiny-GGUF/tiny-F16.gguf", progress=False)
    assert chosen.provenance.source.endswith("tiny-F16.gguf")
    with pytest.raises(SourceError, match="closest: lmstudio:someone/tiny-GGUF"):
        embscope.load("lmstudio:someone/tiny-GUF")
    with pytest.raises(SourceError, match="is not a model name"):
        embscope.load("lmstudio:someone/../../etc")


def test_sources_lists_the_models_in_both_stores(stores, tiny_gguf):
    ollama, lmstudio = stores
    _ollama_store(ollama, tiny_gguf, name="tiny", tag="q8")
    folder = lmstudio / "someone" / "tiny-GGUF"
    folder.mkdir(parents=True)
    shutil.copy(tiny_gguf, folder / "tiny-Q8_0.gguf")
    names = [m.name for m in stored_models()]
    assert names == ["ollama:tiny:q8", "lmstudio:someone/tiny-GGUF/tiny-Q8_0.gguf"]
    result = CliRunner().invoke(main, ["sources"])
    assert result.exit_code == 0, result.output
    assert "ollama:tiny:q8" in result.output and "lmstudio:someone/tiny-GGUF" in result.output
    assert "minilm" in result.output  # the bundled spaces come first
    assert result.output.index("minilm") < result.output.index("ollama:tiny:q8")
    output = CliRunner().invoke(main, ["sources", "--json"]).output
    records = [json.loads(line) for line in output.splitlines()]
    stored = [r for r in records if r.get("store")]
    assert [r["name"] for r in stored] == names
    assert stored[0]["size"] == tiny_gguf.stat().st_size


def test_sources_says_when_the_stores_are_empty(stores):
    result = CliRunner().invoke(main, ["sources"])
    assert result.exit_code == 0 and "No GGUF models in Ollama's or LM Studio's stores" in (
        result.output
    )


# ---- the real SmolLM2-135M-Instruct (Q8_0 embedding in a Q4_1 file) --------------------------
@pytest.mark.slow
def test_smollm2_gguf(smollm2_path, cache):
    space = embscope.load(smollm2_path, kind="gguf", progress=False)
    assert space.shape == (49_152, 576)
    options = space.provenance.options
    assert options["type"] == "Q8_0" and options["tied"] is True
    assert options["architecture"] == "llama"
    # the values gguf's own reader and dequantizer give
    reader = gguf.GGUFReader(smollm2_path)
    tensor = next(t for t in reader.tensors if t.name == "token_embd.weight")
    expected = gguf.quants.dequantize(tensor.data[:2000], tensor.tensor_type)
    np.testing.assert_array_equal(space.vectors[:2000], expected.astype(np.float16))
    _assert_same_scalars(read_gguf_header(smollm2_path), reader)
    # readable labels, word starts, and a word's neighbours
    assert space.labels[space.row("Ġking")] == "␣king"
    assert space.metadata.loc[space.row("Ġking"), "kind"] == "word_start"
    assert space.metadata.loc[space.row("<|im_start|>"), "kind"] == "special"
    top = space.neighbors("Ġking", top_k=10)["key"].tolist()
    assert {"Ġqueen", "Ġkings"} <= set(top), top
    assert space.resolve("king").keys == ("Ġking",)  # a plain word is its word-start token
    assert _pieces(smollm2_path, " kingdoms") == ["Ġkingdoms"]
    assert _pieces(smollm2_path, " kingliness") == ["Ġking", "liness"]
    again = embscope.load(smollm2_path, kind="gguf", progress=False)
    assert again.provenance.options["stored_as"].startswith("mapped from the cache")
    assert again.summary()["memory_mapped"] is True


@pytest.mark.slow
def test_cli_info_on_a_gguf_file(smollm2_path, cache):
    result = CliRunner().invoke(main, ["info", str(smollm2_path), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["rows"] == 49_152 and info["dim"] == 576 and info["kind"] == "gguf"


def test_import_embscope_does_not_import_gguf():
    probe = "import sys, embscope; print('gguf' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert completed.stdout.strip() == "False"
