"""Hugging Face checkpoints: the bundled MiniLM, and small real checkpoints written here with the
safetensors, tokenizers and torch libraries in each layout users meet (WordPiece, GPT-2 byte-level
BPE, SentencePiece Unigram, untied heads, shards, BF16, pytorch_model.bin, a hub cache)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import BPE, Unigram, WordPiece

import embscope
from embscope import (
    InvalidParameterError,
    MalformedFileError,
    MissingDependencyError,
    SourceError,
    UnknownKeyError,
)
from embscope.sources.hf_tokenizer import byte_level_key, readable_label
from embscope.sources.huggingface import load_huggingface, read_safetensors_header

# ---- helpers that write checkpoints -----------------------------------------------------------

BERT_TOKENS = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "beauty", "play", "##ing", "##s",
    "un", "##believ", "##able", "cat", "dog", "a", "##b",
]  # fmt: skip
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def matrix(rows: int, cols: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, cols)).astype(np.float32)


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def bert_checkpoint(
    directory: Path, *, tokenizer_json: bool = True, lowercase: bool = True
) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    n, width = len(BERT_TOKENS), 6
    tensors = {
        "embeddings.word_embeddings.weight": matrix(n, width, 1),
        "embeddings.position_embeddings.weight": matrix(32, width, 2),
        "embeddings.token_type_embeddings.weight": matrix(2, width, 3),
        "encoder.layer.0.intermediate.dense.weight": matrix(24, width, 4),
    }
    save_file(tensors, str(directory / "model.safetensors"))
    write_json(
        directory / "config.json",
        {
            "model_type": "bert",
            "vocab_size": n,
            "hidden_size": width,
            "architectures": ["BertModel"],
        },
    )
    (directory / "vocab.txt").write_text("\n".join(BERT_TOKENS) + "\n", encoding="utf-8")
    write_json(directory / "tokenizer_config.json", {"do_lower_case": lowercase})
    if tokenizer_json:
        tokenizer = Tokenizer(
            WordPiece({t: i for i, t in enumerate(BERT_TOKENS)}, unk_token="[UNK]")
        )
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.add_special_tokens(BERT_SPECIALS)
        tokenizer.save(str(directory / "tokenizer.json"))
    return tensors


def llama_tensors(vocab: int, width: int, *, head: str) -> dict[str, np.ndarray]:
    """A Llama-shaped state dict; ``head`` is "untied", "equal" (stored but identical) or
    "absent"."""
    embedding = matrix(vocab, width, 10)
    tensors = {
        "model.embed_tokens.weight": embedding,
        "model.layers.0.mlp.up_proj.weight": matrix(3 * width, width, 11),
        "model.norm.weight": np.ones(width, dtype=np.float32),
    }
    if head == "untied":
        tensors["lm_head.weight"] = matrix(vocab, width, 12)
    elif head == "equal":
        tensors["lm_head.weight"] = embedding.copy()
    return tensors


def llama_config(vocab: int, width: int, *, tie: bool | None) -> dict:
    config = {"model_type": "llama", "vocab_size": vocab, "hidden_size": width}
    if tie is not None:
        config["tie_word_embeddings"] = tie
    return config


UNIGRAM_PIECES = [
    ("<unk>", 0.0), ("<s>", 0.0), ("</s>", 0.0), ("▁hello", -1.0), ("▁world", -1.5),
    ("▁", -2.0), ("llo", -3.0), ("he", -3.0), ("h", -4.0), ("e", -4.0), ("l", -4.0), ("o", -4.0),
    ("w", -4.0), ("r", -4.0), ("d", -4.0), ("<0xF5>", -9.0), ("\n", -6.0),
]  # fmt: skip


def unigram_tokenizer(directory: Path) -> None:
    tokenizer = Tokenizer(Unigram(UNIGRAM_PIECES, unk_id=0, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.add_special_tokens(["<unk>", "<s>", "</s>"])
    tokenizer.save(str(directory / "tokenizer.json"))


def llama_checkpoint(directory: Path, *, head: str, tie: bool | None) -> dict[str, np.ndarray]:
    directory.mkdir(parents=True, exist_ok=True)
    tensors = llama_tensors(len(UNIGRAM_PIECES), 4, head=head)
    save_file(tensors, str(directory / "model.safetensors"))
    write_json(directory / "config.json", llama_config(len(UNIGRAM_PIECES), 4, tie=tie))
    unigram_tokenizer(directory)
    return tensors


def sharded_llama(directory: Path) -> dict[str, np.ndarray]:
    """Three shards: the embedding, the head, and a layer shard no loader should need."""
    directory.mkdir(parents=True, exist_ok=True)
    tensors = llama_tensors(len(UNIGRAM_PIECES), 4, head="untied")
    tensors["model.layers.1.mlp.up_proj.weight"] = matrix(12, 4, 13)
    shards = {
        "model-00001-of-00003.safetensors": ["model.embed_tokens.weight", "model.norm.weight"],
        "model-00002-of-00003.safetensors": ["lm_head.weight", "model.layers.0.mlp.up_proj.weight"],
        "model-00003-of-00003.safetensors": ["model.layers.1.mlp.up_proj.weight"],
    }
    for filename, names in shards.items():
        save_file({name: tensors[name] for name in names}, str(directory / filename))
    weight_map = {name: filename for filename, names in shards.items() for name in names}
    write_json(
        directory / "model.safetensors.index.json", {"metadata": {}, "weight_map": weight_map}
    )
    write_json(directory / "config.json", llama_config(len(UNIGRAM_PIECES), 4, tie=False))
    unigram_tokenizer(directory)
    return tensors


# ---- GPT-2 byte-level BPE from the shared tiktoken file ---------------------------------------


@pytest.fixture(scope="module")
def gpt2_ranks(shared_data: Path) -> dict[bytes, int]:
    lines = (shared_data / "gpt2_tokenizer" / "gpt2.tiktoken").read_text().splitlines()
    return {base64.b64decode(token): int(rank) for token, rank in (x.split() for x in lines if x)}


@pytest.fixture(scope="module")
def gpt2_merges(gpt2_ranks: dict[bytes, int]) -> list[tuple[str, str]]:
    """GPT-2's merges recovered from the ranks: each token is the merge of the two parts that
    byte-pair encoding with only lower ranks leaves it in."""

    def split(token: bytes, rank: int) -> list[bytes]:
        parts = [bytes([b]) for b in token]
        while True:
            found = [
                (gpt2_ranks[pair], i)
                for i in range(len(parts) - 1)
                if gpt2_ranks.get(pair := parts[i] + parts[i + 1], rank) < rank
            ]
            if not found:
                return parts
            i = min(found)[1]
            parts[i : i + 2] = [parts[i] + parts[i + 1]]

    merges = []
    for token, rank in sorted(gpt2_ranks.items(), key=lambda item: item[1]):
        if len(token) > 1:
            left, right = split(token, rank)
            merges.append((byte_level_key(left), byte_level_key(right)))
    return merges


def gpt2_weights(directory: Path, rows: int) -> np.ndarray:
    directory.mkdir(parents=True, exist_ok=True)
    wte = matrix(rows, 8, 20)
    save_file(
        {
            "transformer.wte.weight": wte,
            "transformer.wpe.weight": matrix(1024, 8, 21),
            "transformer.h.0.mlp.c_fc.weight": matrix(8, 32, 22),
        },
        str(directory / "model.safetensors"),
    )
    write_json(directory / "config.json", {"model_type": "gpt2", "vocab_size": rows, "n_embd": 8})
    return wte


ENDOFTEXT = "<|endoftext|>"


@pytest.fixture(scope="module")
def gpt2_tiktoken_dir(tmp_path_factory, shared_data: Path) -> Path:
    """nanoGPT-style: 50,304 rows (padded for speed) for 50,257 tokens, a .tiktoken file."""
    directory = tmp_path_factory.mktemp("gpt2_tiktoken")
    gpt2_weights(directory, 50_304)
    shutil.copy(shared_data / "gpt2_tokenizer" / "gpt2.tiktoken", directory / "gpt2.tiktoken")
    write_json(
        directory / "tokenizer_config.json",
        {"added_tokens_decoder": {"50256": {"content": ENDOFTEXT, "special": True}}},
    )
    return directory


def gpt2_vocab(ranks: dict[bytes, int]) -> dict[str, int]:
    return {**{byte_level_key(token): rank for token, rank in ranks.items()}, ENDOFTEXT: 50256}


# ---- the bundled MiniLM -----------------------------------------------------------------------


def test_minilm_is_the_memory_mapped_word_embedding(minilm, minilm_dir):
    assert minilm.shape == (30522, 384)
    assert minilm.vectors.dtype == np.float32
    assert minilm.summary()["memory_mapped"]
    expected = load_file(str(minilm_dir / "model.safetensors"))["embeddings.word_embeddings.weight"]
    np.testing.assert_array_equal(np.asarray(minilm.vectors), expected)
    options = minilm.provenance.options
    assert options["tensor"] == "embeddings.word_embeddings.weight"
    assert options["dtype"] == "F32"
    # a sentence-transformers BertModel: no language-model head, so nothing to be tied to
    assert options["tied"] is None and options["head_tensor"] is None
    assert options["tied_basis"].startswith("no output head: config.json names BertModel")
    assert options["tokenizer"].startswith("tokenizer.json (WordPiece")
    assert minilm.provenance.kind == "huggingface"
    assert minilm.name == "minilm"


def test_minilm_keys_labels_and_metadata(minilm):
    assert minilm.keys[101] == "[CLS]"
    cls = minilm.metadata.iloc[101]
    assert bool(cls["special"]) and cls["kind"] == "special" and cls["token_id"] == 101
    row = minilm.row("##ing")
    assert minilm.labels[row] == "##ing"
    assert minilm.metadata.iloc[row]["kind"] == "continuation"
    assert minilm.metadata.iloc[minilm.row("beauty")]["kind"] == "word"
    assert list(minilm.metadata.columns[:3]) == ["token_id", "special", "kind"]
    assert minilm.metadata["token_id"].tolist() == list(range(30522))


def test_minilm_splits_words_like_its_tokenizer(minilm):
    assert minilm.resolve("Beauty").keys == ("beauty",)
    pieces = minilm.resolve("electroencephalography", pieces="mean").keys
    assert len(pieces) > 1 and all(p.startswith("##") for p in pieces[1:])
    with pytest.raises(UnknownKeyError) as error:
        minilm.resolve("electroencephalography")
    assert error.value.pieces == list(pieces)


def test_minilm_loads_from_its_directory_and_single_file(minilm_dir):
    from_dir = embscope.load(str(minilm_dir))
    from_file = embscope.load(str(minilm_dir / "model.safetensors"))
    assert from_dir.keys == from_file.keys
    assert from_dir.provenance.digest == load_huggingface(str(minilm_dir)).provenance.digest
    assert from_dir.name == str(minilm_dir)


# ---- BERT WordPiece ---------------------------------------------------------------------------


def test_wordpiece_from_tokenizer_json(tmp_path):
    tensors = bert_checkpoint(tmp_path / "bert")
    space = embscope.load(str(tmp_path / "bert"))
    assert space.keys == BERT_TOKENS
    np.testing.assert_array_equal(space.vectors, tensors["embeddings.word_embeddings.weight"])
    assert space.provenance.options["tokenizer"] == "tokenizer.json (WordPiece, wordpiece)"
    assert space.metadata["special"].tolist() == [t in BERT_SPECIALS for t in BERT_TOKENS]
    assert space.resolve("Unbelievable", pieces="mean").keys == ("un", "##believ", "##able")
    # A word the tokenizer can only call [UNK] is unknown, not the [UNK] vector.
    with pytest.raises(UnknownKeyError):
        space.resolve("zebra")


def test_wordpiece_from_vocab_txt_alone_honours_do_lower_case(tmp_path):
    bert_checkpoint(tmp_path / "lower", tokenizer_json=False, lowercase=True)
    bert_checkpoint(tmp_path / "cased", tokenizer_json=False, lowercase=False)
    lower, cased = embscope.load(str(tmp_path / "lower")), embscope.load(str(tmp_path / "cased"))
    assert lower.provenance.options["tokenizer"] == "vocab.txt (WordPiece, wordpiece)"
    assert lower.keys == BERT_TOKENS
    assert lower.metadata.iloc[2]["special"] and lower.metadata.iloc[2]["kind"] == "special"
    assert lower.resolve("Playing", pieces="mean").keys == ("play", "##ing")
    assert lower.resolve("Beauty").keys == ("beauty",)
    with pytest.raises(UnknownKeyError):
        cased.resolve("Beauty")
    assert cased.resolve("beauty").keys == ("beauty",)


# ---- GPT-2 byte-level BPE ---------------------------------------------------------------------


def test_gpt2_from_tiktoken_file(gpt2_tiktoken_dir, gpt2_ranks):
    space = embscope.load(str(gpt2_tiktoken_dir))
    assert space.shape == (50_304, 8)
    assert space.keys[43453] == "ĠSolidGoldMagikarp"
    assert space.labels[43453] == "␣SolidGoldMagikarp"
    assert space.metadata.iloc[43453]["kind"] == "word_start"
    assert space.keys[198] == "Ċ" and space.labels[198] == "↵"
    lone_byte = gpt2_ranks[b"\xe6"]
    assert space.labels[lone_byte] == "<0xE6>"
    assert space.metadata.iloc[lone_byte]["kind"] == "byte"
    assert space.keys[50256] == ENDOFTEXT and space.metadata.iloc[50256]["special"]
    # nanoGPT pads 50,257 tokens to 50,304 rows: the extra rows are kept and marked.
    assert space.keys[50257] == "<row 50257>"
    assert (space.metadata["kind"] == "padding_row").sum() == 47
    assert space.provenance.options["padding_rows"] == 47
    assert space.provenance.options["tokenizer"] == "gpt2.tiktoken (BPE, byte_level)"
    assert space.resolve(" SolidGoldMagikarp").keys == ("ĠSolidGoldMagikarp",)
    # words are split as in running text, after a space: ĠHello (18435), not Hello (15496)
    assert space.resolve("Hello world", pieces="mean").rows == (18435, 995)


def test_gpt2_from_vocab_json_and_merges(tmp_path, gpt2_ranks, gpt2_merges, gpt2_tiktoken_dir):
    directory = tmp_path / "gpt2"
    wte = gpt2_weights(directory, 50_257)
    write_json(directory / "vocab.json", gpt2_vocab(gpt2_ranks))
    merges = "\n".join(f"{left} {right}" for left, right in gpt2_merges)
    (directory / "merges.txt").write_text("#version: 0.2\n" + merges + "\n", encoding="utf-8")
    write_json(directory / "special_tokens_map.json", {"eos_token": ENDOFTEXT})
    space = embscope.load(str(directory))
    np.testing.assert_array_equal(space.vectors, wte)
    reference = embscope.load(str(gpt2_tiktoken_dir))
    assert space.keys == reference.keys[:50_257]
    assert space.labels == reference.labels[:50_257]
    assert space.metadata.iloc[50256]["special"]
    for word in ("Hello world", " unbelievably", " SolidGoldMagikarp", "naïve café"):
        ours = space.resolve(word, pieces="mean").keys
        assert ours == reference.resolve(word, pieces="mean").keys


def test_gpt2_from_tokenizer_json(tmp_path, gpt2_ranks, gpt2_merges, gpt2_tiktoken_dir):
    directory = tmp_path / "gpt2"
    gpt2_weights(directory, 50_257)
    tokenizer = Tokenizer(BPE(gpt2_vocab(gpt2_ranks), gpt2_merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([ENDOFTEXT])
    tokenizer.save(str(directory / "tokenizer.json"))
    space = embscope.load(str(directory))
    reference = embscope.load(str(gpt2_tiktoken_dir))
    assert space.provenance.options["tokenizer"] == "tokenizer.json (BPE, byte_level)"
    assert space.labels == reference.labels[:50_257]
    assert space.metadata.iloc[50256]["kind"] == "special"
    assert space.resolve("Hello world", pieces="mean").rows == (18435, 995)


def test_readable_labels():
    assert readable_label("Ġhello", "byte_level") == "␣hello"
    assert readable_label("ĠĠĊ", "byte_level") == "␣␣↵"
    assert readable_label(byte_level_key(" \xe6\x97".encode("latin-1")), "byte_level") == (
        "␣<0xE6><0x97>"
    )
    assert readable_label("▁hello", "metaspace") == "␣hello"
    assert readable_label("<0xF5>", "metaspace") == "<0xF5>"
    assert readable_label("##ing", "wordpiece") == "##ing"


# ---- SentencePiece Unigram, tied and untied heads ---------------------------------------------


def test_unigram_metaspace_untied_head(tmp_path):
    tensors = llama_checkpoint(tmp_path / "llama", head="untied", tie=False)
    space = embscope.load(str(tmp_path / "llama"))
    pieces = [piece for piece, _ in UNIGRAM_PIECES]
    assert space.keys == pieces
    assert space.labels[pieces.index("▁hello")] == "␣hello"
    assert space.labels[pieces.index("\n")] == "↵"
    kinds = dict(zip(space.keys, space.metadata["kind"], strict=True))
    assert kinds["▁hello"] == "word_start" and kinds["llo"] == "continuation"
    assert kinds["<0xF5>"] == "byte" and kinds["<s>"] == "special"
    assert space.resolve("hello").keys == ("▁hello",)
    np.testing.assert_array_equal(space.vectors, tensors["model.embed_tokens.weight"])
    assert space.provenance.options["tied"] is False
    assert space.provenance.options["head_tensor"] == "lm_head.weight"

    head = load_huggingface(str(tmp_path / "llama"), matrix="output")
    np.testing.assert_array_equal(head.vectors, tensors["lm_head.weight"])
    assert head.provenance.options["tensor"] == "lm_head.weight"
    assert head.keys == space.keys
    assert head.provenance.digest != space.provenance.digest


def test_stored_head_equal_to_embedding_is_tied(tmp_path):
    tensors = llama_checkpoint(tmp_path / "equal", head="equal", tie=True)
    space = load_huggingface(str(tmp_path / "equal"), matrix="output")
    assert space.provenance.options["tied"] is True
    assert "equals" in space.provenance.options["tied_basis"]
    np.testing.assert_array_equal(space.vectors, tensors["model.embed_tokens.weight"])


def test_absent_head_follows_config(tmp_path):
    llama_checkpoint(tmp_path / "tied", head="absent", tie=None)
    output = load_huggingface(str(tmp_path / "tied"), matrix="output")
    assert output.provenance.options["tied"] is True
    assert output.provenance.options["tensor"] == "model.embed_tokens.weight"
    llama_checkpoint(tmp_path / "untied", head="absent", tie=False)
    assert load_huggingface(str(tmp_path / "untied")).provenance.options["tied"] is False
    with pytest.raises(SourceError, match="no output tensor"):
        load_huggingface(str(tmp_path / "untied"), matrix="output")


def test_an_encoder_without_a_language_model_head_has_no_output_matrix(tmp_path, minilm_dir):
    with pytest.raises(SourceError, match=r"no output head: config\.json names BertModel"):
        load_huggingface(str(minilm_dir), matrix="output")
    bert_checkpoint(tmp_path / "bert")  # BertModel: no head stored
    assert load_huggingface(str(tmp_path / "bert")).provenance.options["tied"] is None
    # the same weights with BERT's MLM head (its transform and bias; the decoder matrix is the
    # input one, not stored): tied
    tensors = load_file(str(tmp_path / "bert" / "model.safetensors"))
    tensors["cls.predictions.bias"] = np.zeros(len(BERT_TOKENS), dtype=np.float32)
    tensors["cls.predictions.transform.dense.weight"] = matrix(6, 6, 5)
    save_file(tensors, str(tmp_path / "bert" / "model.safetensors"))
    config = json.loads((tmp_path / "bert" / "config.json").read_text())
    write_json(tmp_path / "bert" / "config.json", {**config, "architectures": ["BertForMaskedLM"]})
    output = load_huggingface(str(tmp_path / "bert"), matrix="output")
    assert output.provenance.options["tied"] is True
    # an encoder model type with no architectures named and no head tensor: no head either
    del config["architectures"]
    write_json(tmp_path / "bert" / "config.json", config)
    plain = {k: v for k, v in tensors.items() if not k.startswith("cls.")}
    save_file(plain, str(tmp_path / "bert" / "model.safetensors"))
    assert load_huggingface(str(tmp_path / "bert")).provenance.options["tied"] is None


def test_a_string_at_two_ids_keeps_both_rows(tmp_path):
    directory = tmp_path / "llama"
    llama_checkpoint(directory, head="absent", tie=True)
    tokenizer = json.loads((directory / "tokenizer.json").read_text(encoding="utf-8"))
    duplicate = len(UNIGRAM_PIECES)
    tokenizer["added_tokens"].append({"id": duplicate, "content": "▁hello", "special": False})
    write_json(directory / "tokenizer.json", tokenizer)
    rows = duplicate + 1
    save_file(
        {"model.embed_tokens.weight": matrix(rows, 4, 14)}, str(directory / "model.safetensors")
    )
    write_json(directory / "config.json", llama_config(rows, 4, tie=True))
    space = embscope.load(str(directory))
    assert space.keys[3] == "▁hello"
    assert space.keys[duplicate] == f"<row {duplicate}: ▁hello>"
    assert space.metadata.iloc[duplicate]["kind"] == "added"


def test_matrix_must_be_input_or_output(tmp_path):
    llama_checkpoint(tmp_path / "llama", head="untied", tie=False)
    with pytest.raises(InvalidParameterError, match="matrix must be 'input' or 'output'"):
        load_huggingface(str(tmp_path / "llama"), matrix="head")


# ---- sharded, BF16, F16, pytorch_model.bin ----------------------------------------------------


def test_sharded_checkpoint(tmp_path):
    tensors = sharded_llama(tmp_path / "sharded")
    space = embscope.load(str(tmp_path / "sharded"))
    np.testing.assert_array_equal(space.vectors, tensors["model.embed_tokens.weight"])
    assert space.provenance.options["file"] == "model-00001-of-00003.safetensors"
    head = load_huggingface(str(tmp_path / "sharded"), matrix="output")
    np.testing.assert_array_equal(head.vectors, tensors["lm_head.weight"])
    assert head.provenance.options["file"] == "model-00002-of-00003.safetensors"


def test_bf16_reads_as_float32_and_f16_stays(tmp_path):
    import torch
    from safetensors.torch import save_file as save_torch_file

    embedding = torch.from_numpy(matrix(len(UNIGRAM_PIECES), 4, 30)).to(torch.bfloat16)
    directory = tmp_path / "bf16"
    directory.mkdir()
    save_torch_file({"model.embed_tokens.weight": embedding}, str(directory / "model.safetensors"))
    write_json(directory / "config.json", llama_config(len(UNIGRAM_PIECES), 4, tie=True))
    unigram_tokenizer(directory)
    space = embscope.load(str(directory))
    assert space.vectors.dtype == np.float32 and space.stored_dtype == "bfloat16"
    assert space.provenance.options["dtype"] == "BF16"
    np.testing.assert_array_equal(space.vectors, embedding.float().numpy())

    half = matrix(len(UNIGRAM_PIECES), 4, 31).astype(np.float16)
    save_file({"model.embed_tokens.weight": half}, str(directory / "model.safetensors"))
    space = embscope.load(str(directory))
    assert space.vectors.dtype == np.float16 and space.summary()["memory_mapped"]
    np.testing.assert_array_equal(space.vectors, half)


def test_pytorch_model_bin(tmp_path):
    import torch

    tensors = llama_tensors(len(UNIGRAM_PIECES), 4, head="untied")
    directory = tmp_path / "bin"
    directory.mkdir()
    state = {name: torch.from_numpy(array) for name, array in tensors.items()}
    state["model.embed_tokens.weight"] = state["model.embed_tokens.weight"].to(torch.bfloat16)
    torch.save(state, directory / "pytorch_model.bin")
    write_json(directory / "config.json", llama_config(len(UNIGRAM_PIECES), 4, tie=False))
    unigram_tokenizer(directory)
    space = embscope.load(str(directory))
    assert space.provenance.options["file"] == "pytorch_model.bin"
    assert space.provenance.options["dtype"] == "BF16"
    np.testing.assert_array_equal(space.vectors, state["model.embed_tokens.weight"].float().numpy())
    head = load_huggingface(str(directory), matrix="output")
    np.testing.assert_array_equal(head.vectors, tensors["lm_head.weight"])


def test_pytorch_model_bin_without_torch_names_the_extra(tmp_path, monkeypatch):
    directory = tmp_path / "bin"
    directory.mkdir()
    (directory / "pytorch_model.bin").write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "torch", None)  # what `import torch` meets when absent
    with pytest.raises(MissingDependencyError, match=r"embscope\[torch\]"):
        load_huggingface(str(directory))


# ---- the hub, through a real huggingface_hub cache --------------------------------------------


def hub_cache(root: Path, repo_id: str, files: Path, *, skip: tuple[str, ...] = ()) -> str:
    """Lays out ``files`` as huggingface_hub caches a download: blobs named by content hash,
    snapshots/<commit>/ linking to them, refs/main naming the commit."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for file in sorted(files.iterdir()):
        if file.name in skip:
            continue
        data = file.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / file.name).symlink_to(Path("..", "..", "blobs", blob.name))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return commit


def test_hub_id_from_the_offline_cache(tmp_path, monkeypatch):
    tensors = sharded_llama(tmp_path / "files")
    cache = tmp_path / "hub"
    # The layer shard was never downloaded: loading the embedding must not need it.
    commit = hub_cache(
        cache, "org/tiny-llama", tmp_path / "files", skip=("model-00003-of-00003.safetensors",)
    )
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    space = embscope.load("org/tiny-llama")
    np.testing.assert_array_equal(space.vectors, tensors["model.embed_tokens.weight"])
    assert space.name == "org/tiny-llama"
    assert space.provenance.source == "org/tiny-llama"
    assert space.provenance.options["commit"] == commit
    assert space.provenance.options["tied"] is False
    assert space.resolve("hello").keys == ("▁hello",)
    pinned = load_huggingface("org/tiny-llama", revision=commit, matrix="output")
    np.testing.assert_array_equal(pinned.vectors, tensors["lm_head.weight"])


def test_hub_failures_are_one_line_source_errors(tmp_path, monkeypatch):
    sharded_llama(tmp_path / "files")
    cache = tmp_path / "hub"
    hub_cache(cache, "org/partial", tmp_path / "files", skip=("model-00002-of-00003.safetensors",))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceError, match=r"'org/absent'.*HF_HUB_OFFLINE") as error:
        embscope.load("org/absent")
    assert "\n" not in str(error.value)
    with pytest.raises(SourceError, match=r"model-00002-of-00003\.safetensors"):
        load_huggingface("org/partial")
    with pytest.raises(SourceError, match="org/partial"):
        load_huggingface("org/partial", revision="no-such-branch")


# ---- what users point at by mistake -----------------------------------------------------------


# ---- checkpoints crafted to read files outside them -------------------------------------------


@pytest.fixture
def outside_and_checkpoint(tmp_path):
    """A sharded checkpoint and, beside it, a valid shard it has no business reading (a file
    that would load without complaint if the reader followed a path out of the directory)."""
    tensors = sharded_llama(tmp_path / "ckpt")
    outside = tmp_path / "private"
    outside.mkdir()
    (tmp_path / "ckpt" / "model-00001-of-00003.safetensors").rename(outside / "secret.safetensors")
    return tmp_path / "ckpt", outside / "secret.safetensors", tensors


def _point_shard_at(checkpoint: Path, shard: str) -> None:
    index = checkpoint / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    data["weight_map"] = {
        name: shard if file == "model-00001-of-00003.safetensors" else file
        for name, file in data["weight_map"].items()
    }
    write_json(index, data)


@pytest.mark.parametrize("how", ["absolute", "dotdot"])
def test_an_index_naming_a_file_outside_the_checkpoint_is_refused(outside_and_checkpoint, how):
    checkpoint, secret, _ = outside_and_checkpoint
    _point_shard_at(
        checkpoint, str(secret) if how == "absolute" else "../private/secret.safetensors"
    )
    with pytest.raises(MalformedFileError, match="not a file name inside the checkpoint") as error:
        embscope.load(str(checkpoint))
    assert error.value.path.endswith("model.safetensors.index.json")


@pytest.mark.parametrize(
    "link", ["model-00001-of-00003.safetensors", "config.json", "tokenizer.json"]
)
def test_a_symlink_leading_outside_the_checkpoint_is_refused(outside_and_checkpoint, link):
    checkpoint, secret, _ = outside_and_checkpoint
    (checkpoint / link).unlink(missing_ok=True)
    (checkpoint / link).symlink_to(secret)
    with pytest.raises(SourceError, match=f"{link!r} leads outside the checkpoint directory"):
        embscope.load(str(checkpoint))
    with pytest.raises(SourceError, match="leads outside"):
        embscope.load(str(checkpoint / "model-00002-of-00003.safetensors"))


def test_symlinks_inside_the_checkpoint_are_followed(outside_and_checkpoint):
    checkpoint, secret, tensors = outside_and_checkpoint
    (checkpoint / "weights").mkdir()
    secret.rename(checkpoint / "weights" / "embedding.safetensors")
    (checkpoint / "model-00001-of-00003.safetensors").symlink_to(
        Path("weights", "embedding.safetensors")
    )
    space = embscope.load(str(checkpoint))
    np.testing.assert_array_equal(space.vectors, tensors["model.embed_tokens.weight"])


def test_a_mistyped_local_folder_names_the_close_one(tmp_path, monkeypatch):
    bert_checkpoint(tmp_path / "models" / "bert-base")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceError, match=r"no local path 'models/bert-bse'.*'models/bert-base'"):
        embscope.load("models/bert-bse")


def test_deeply_nested_json_is_a_malformed_file(tmp_path):
    bert_checkpoint(tmp_path / "bert")
    (tmp_path / "bert" / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(MalformedFileError, match="nested too deeply"):
        embscope.load(str(tmp_path / "bert"))


def test_truncated_safetensors_names_the_file(tmp_path):
    bert_checkpoint(tmp_path / "bert")
    weights = tmp_path / "bert" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(MalformedFileError, match="truncated") as error:
        embscope.load(str(tmp_path / "bert"))
    assert error.value.path == str(weights)
    assert str(weights) in str(error.value)


def test_header_longer_than_the_file(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes((1_000_000).to_bytes(8, "little") + b'{"a": 1}')
    with pytest.raises(MalformedFileError, match="header claims 1,000,000 bytes") as error:
        read_safetensors_header(path)
    assert error.value.path == str(path)
    path.write_bytes(b"\x01\x02")
    with pytest.raises(MalformedFileError, match="truncated"):
        read_safetensors_header(path)


def test_no_embedding_tensor_lists_what_was_seen(tmp_path):
    save_file({"encoder.weight": matrix(3, 3, 40), "bias": np.zeros(5, np.float32)},
              str(tmp_path / "model.safetensors"))  # fmt: skip
    write_json(tmp_path / "config.json", {"vocab_size": 100, "hidden_size": 3})
    with pytest.raises(
        SourceError, match=r"no token-embedding tensor.*encoder\.weight \[3, 3\] F32"
    ):
        load_huggingface(str(tmp_path))


def test_tokenizer_larger_than_matrix(tmp_path):
    directory = tmp_path / "bert"
    bert_checkpoint(directory)
    save_file({"embeddings.word_embeddings.weight": matrix(10, 6, 50)},
              str(directory / "model.safetensors"))  # fmt: skip
    write_json(directory / "config.json", {"vocab_size": 10, "hidden_size": 6})
    with pytest.raises(SourceError, match="ids up to 16 but the embedding matrix has only 10 rows"):
        load_huggingface(str(directory))


def test_without_tokenizer_files_keys_are_row_numbers(tmp_path):
    save_file({"wte.weight": matrix(5, 3, 60)}, str(tmp_path / "model.safetensors"))
    space = load_huggingface(str(tmp_path / "model.safetensors"), name="bare")
    assert space.keys == ["0", "1", "2", "3", "4"]
    assert space.provenance.options["tokenizer"].startswith("none")
    assert not space.has_tokenizer
    assert space.name == "bare"


def test_revision_is_for_hub_ids_only(tmp_path):
    bert_checkpoint(tmp_path / "bert")
    with pytest.raises(InvalidParameterError, match="revision applies to hub ids only"):
        load_huggingface(str(tmp_path / "bert"), revision="main")


def test_loading_imports_neither_torch_transformers_nor_the_hub(minilm_dir):
    code = (
        "import sys, embscope\n"
        f"space = embscope.load({str(minilm_dir)!r})\n"
        "space.labels\n"
        "heavy = {'torch', 'transformers', 'huggingface_hub', 'tokenizers'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
