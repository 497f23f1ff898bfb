"""A plain word means the token it is in running text: in SentencePiece and byte-level
vocabularies that is its word-start token (``▁king``, ``Ġking``), not the piece ``king`` that
continues a word. Checked on GPT-2's real vocabulary, a SentencePiece (Unigram, Metaspace)
checkpoint written here, the bundled MiniLM (WordPiece: nothing changes), in the library, the
command line and the server."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from safetensors.numpy import save_file
from tokenizers import Tokenizer, pre_tokenizers
from tokenizers.models import Unigram

import embscope
from embscope import UnknownKeyError
from embscope.cli import main
from embscope.server import create_app
from test_source_huggingface import gpt2_weights, llama_config, llama_tensors, write_json

LOCAL = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory, shared_data: Path) -> Path:
    """GPT-2's 50,257 tokens (the shared .tiktoken file and <|endoftext|>), random weights."""
    directory = tmp_path_factory.mktemp("gpt2")
    gpt2_weights(directory, 50_257)
    shutil.copy(shared_data / "gpt2_tokenizer" / "gpt2.tiktoken", directory / "gpt2.tiktoken")
    write_json(
        directory / "tokenizer_config.json",
        {"added_tokens_decoder": {"50256": {"content": "<|endoftext|>", "special": True}}},
    )
    return directory


@pytest.fixture(scope="module")
def gpt2(gpt2_dir) -> embscope.EmbeddingSpace:
    return embscope.load(str(gpt2_dir))


SENTENCEPIECE = [
    ("<unk>", 0.0), ("<s>", 0.0), ("</s>", 0.0), ("▁king", -2.0), ("king", -3.0),
    ("▁kings", -3.0), ("▁em", -3.0), ("bed", -3.0), ("dings", -3.0), ("▁", -2.0),
    *((letter, -10.0) for letter in "abdegikmns"),
]  # fmt: skip


def sentencepiece_checkpoint(directory: Path, *, prepend_scheme: str) -> Path:
    """A Llama-shaped checkpoint with a Unigram tokenizer; ``prepend_scheme="never"`` is a
    tokenizer that adds no ▁ of its own (as Gemma's)."""
    directory.mkdir(parents=True)
    n = len(SENTENCEPIECE)
    save_file(llama_tensors(n, 4, head="absent"), str(directory / "model.safetensors"))
    write_json(directory / "config.json", llama_config(n, 4, tie=True))
    tokenizer = Tokenizer(Unigram(SENTENCEPIECE, unk_id=0, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="▁", prepend_scheme=prepend_scheme
    )
    tokenizer.add_special_tokens(["<unk>", "<s>", "</s>"])
    tokenizer.save(str(directory / "tokenizer.json"))
    return directory


@pytest.fixture(scope="module", params=["always", "never"])
def llama(request, tmp_path_factory) -> embscope.EmbeddingSpace:
    directory = tmp_path_factory.mktemp("llama") / request.param
    return embscope.load(str(sentencepiece_checkpoint(directory, prepend_scheme=request.param)))


# ---- byte-level BPE (GPT-2) -------------------------------------------------------------------


def test_a_plain_word_is_its_word_start_token(gpt2):
    resolved = gpt2.resolve("king")
    assert resolved.keys == ("Ġking",) and resolved.labels == ("␣king",)
    assert resolved.used_pieces and resolved.looked_up_as == "␣king"
    assert gpt2.resolve("King").keys == ("ĠKing",)
    assert gpt2.resolve("naïve").keys == ("ĠnaÃ¯ve",)  # the UTF-8 bytes of ï, in GPT-2's alphabet
    frame = gpt2.neighbors("king", top_k=5)
    assert frame.attrs["query_keys"] == ["Ġking"]
    assert frame.attrs["query_labels"] == {"Ġking": "␣king"}
    assert "Ġking" not in set(frame["key"])
    # punctuation is not a word: the bare comma is the one running text has after a word
    assert gpt2.resolve(",").keys == (",",)


def test_the_continuation_piece_and_the_raw_key_are_asked_for_explicitly(gpt2):
    piece = gpt2.resolve("##king")
    assert piece.keys == ("king",) and piece.looked_up_as == "king"
    np.testing.assert_array_equal(piece.vector, gpt2["king"])  # space[key] is always the key
    raw = gpt2.resolve("Ġking")
    assert raw.keys == ("Ġking",) and not raw.used_pieces and raw.looked_up_as is None
    # a key starting with the mark is itself: ### is a GPT-2 token
    assert gpt2.resolve("###").keys == ("###",)
    assert gpt2.query_text("king") == "##king" and gpt2.query_text("Ġking") == "␣king"


def test_a_label_typed_as_shown_is_its_token(gpt2):
    for label, key in [
        ("␣king", "Ġking"),
        ("↵", "Ċ"),
        ("␣SolidGoldMagikarp", "ĠSolidGoldMagikarp"),
    ]:
        resolved = gpt2.resolve(label)
        assert resolved.keys == (key,) and not resolved.used_pieces
    lone_byte = gpt2.keys[gpt2.labels.index("<0xE6>")]
    assert gpt2.resolve("<0xE6>").keys == (lone_byte,)


def test_every_token_is_reached_by_the_text_offered_for_it(gpt2):
    for key in gpt2.keys:
        assert gpt2.resolve(gpt2.query_text(key)).keys == (key,), key


def test_a_split_word_shows_its_pieces_as_labels(gpt2):
    with pytest.raises(UnknownKeyError) as caught:
        gpt2.neighbors("embeddings")
    error = caught.value
    assert error.pieces == ["Ġembed", "d", "ings"]
    assert error.piece_labels == ["␣embed", "d", "ings"]
    assert "␣embed + d + ings" in str(error) and "Ġ" not in str(error)
    mean = gpt2.resolve("embeddings", pieces="mean")
    assert mean.keys == ("Ġembed", "d", "ings") and mean.looked_up_as == "␣embed + d + ings"
    # several words: each is a word-start token, as in running text
    assert gpt2.resolve("Hello world", pieces="mean").labels == ("␣Hello", "␣world")


def test_the_command_line_says_which_token_answered(gpt2_dir):
    runner = CliRunner()

    def note(word: str) -> str:
        result = runner.invoke(main, ["neighbors", word, "-s", str(gpt2_dir), "-k", "3"])
        assert result.exit_code == 0, result.output
        return "\n".join(line for line in result.stderr.splitlines() if line.startswith("note:"))

    assert note("king") == "note: 'king' was looked up as ␣king"
    assert note("␣king") == ""  # the label as shown: nothing to say
    assert note("##king") == "note: '##king' was looked up as king"
    failed = runner.invoke(main, ["neighbors", "embeddings", "-s", str(gpt2_dir)])
    assert failed.exit_code == 1 and "␣embed + d + ings" in failed.stderr
    mean = runner.invoke(main, ["neighbors", "embeddings", "-s", str(gpt2_dir), "--pieces", "mean"])
    assert "note: 'embeddings' was looked up as ␣embed + d + ings" in mean.stderr


# ---- a real LLM: SmolLM2-135M's GGUF file (49,152 byte-level tokens) ----------------------------


def test_a_real_llm_answers_the_word_not_the_piece(smollm2):
    word = smollm2.neighbors("king", top_k=10)
    assert word.attrs["query_keys"] == ["Ġking"]
    assert {"Ġqueen", "Ġprince", "Ġkings"} <= set(word["key"])
    # the piece inside words (ma-king, bar-king) has other company
    piece = smollm2.neighbors("##king", top_k=10)
    assert piece.attrs["query_keys"] == ["king"]
    assert not {"Ġqueen", "Ġprince"} & set(piece["key"])
    with pytest.raises(UnknownKeyError, match=r"␣electro \+ encephal \+ ography"):
        smollm2.resolve("electroencephalography")


# ---- SentencePiece (Unigram, Metaspace) --------------------------------------------------------


def test_sentencepiece_word_start_tokens(llama):
    resolved = llama.resolve("king")
    assert resolved.keys == ("▁king",) and resolved.looked_up_as == "␣king"
    assert llama.resolve("##king").keys == ("king",)
    assert llama.resolve("▁king").keys == ("▁king",) and not llama.resolve("▁king").used_pieces
    assert llama.resolve("␣king").keys == ("▁king",) and not llama.resolve("␣king").used_pieces
    assert llama.query_text("king") == "##king"
    # split as in running text even by a tokenizer that adds no ▁ of its own
    with pytest.raises(UnknownKeyError, match=r"␣em \+ bed \+ dings") as caught:
        llama.resolve("embeddings")
    assert caught.value.pieces == ["▁em", "bed", "dings"]
    assert llama.resolve("kings").keys == ("▁kings",)
    for key in llama.keys:
        assert llama.resolve(llama.query_text(key)).keys == (key,), key


# ---- WordPiece (MiniLM): nothing changes -------------------------------------------------------


def test_wordpiece_words_are_keys_as_before(minilm):
    assert minilm.resolve("king").keys == ("king",) and not minilm.resolve("king").used_pieces
    assert minilm.resolve("##ing").keys == ("##ing",)
    with pytest.raises(UnknownKeyError):
        minilm.resolve("##kingdomz")  # the mark asks for nothing here: WordPiece has no ␣words
    pieces = minilm.resolve("embeddings", pieces="mean")
    assert pieces.keys == ("em", "##bed", "##ding", "##s") and pieces.labels == pieces.keys
    assert minilm.resolve("Beauty").keys == ("beauty",)
    for key in minilm.keys:
        assert minilm.query_text(key) == key


# ---- the server ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(gpt2):
    with TestClient(create_app([gpt2]), base_url=LOCAL) as test_client:
        yield test_client


def source_path(client) -> str:
    return f"/api/sources/{client.get('/api/sources').json()[0]['id']}"


def test_completion_offers_the_words_first_with_what_to_send(client, gpt2):
    offered = client.get(f"{source_path(client)}/complete", params={"prefix": "kin", "limit": 50})
    entries = offered.json()
    kinds = [gpt2.metadata["kind"][gpt2.row(e["key"])] for e in entries]
    words = kinds.count("word_start")
    assert words > 5 and set(kinds[:words]) == {"word_start"}
    assert "word_start" not in kinds[words:]
    ids = [gpt2.row(e["key"]) for e in entries[:words]]
    assert ids == sorted(ids)  # the most frequent (lowest id) first
    assert {"key": "Ġking", "label": "␣king", "query": "␣king"} in entries
    assert {"key": "king", "label": "king", "query": "##king"} in entries
    assert all(e["label"].lower().startswith(("␣kin", "kin")) for e in entries)
    shown = client.get(f"{source_path(client)}/complete", params={"prefix": "␣kin"}).json()
    assert shown[0]["label"].startswith("␣")


def test_neighbours_of_a_word_a_label_and_a_key(client):
    def ask(**params):
        response = client.get(f"{source_path(client)}/neighbors", params={"top_k": 3, **params})
        assert response.status_code == 200, response.text
        return response.json()

    word, label = ask(query="king"), ask(query="␣king")
    assert word["query_keys"] == label["query_keys"] == ["Ġking"]
    assert word["query_labels"] == ["␣king"] and word["query_text"] == "␣king"
    assert word["hits"] == label["hits"]
    piece = ask(query="king", exact=True)
    assert piece["query_keys"] == ["king"] and piece["query_text"] == "##king"
    assert ask(query="##king")["hits"] == piece["hits"]
    missing = client.get(
        f"{source_path(client)}/neighbors", params={"query": "kingz", "exact": True}
    )
    assert missing.status_code == 404


def test_no_silent_mean_of_pieces(client):
    path = source_path(client)
    refused = client.get(f"{path}/neighbors", params={"query": "embeddings"})
    assert refused.status_code == 404
    body = refused.json()
    assert body["pieces"] == ["Ġembed", "d", "ings"]
    assert body["piece_labels"] == ["␣embed", "d", "ings"]
    mean = client.get(f"{path}/neighbors", params={"query": "embeddings", "pieces": "mean"})
    assert mean.json()["query_labels"] == ["␣embed", "d", "ings"]
    assert client.get(
        f"{path}/similarity", params={"a": "embeddings", "b": "king"}
    ).status_code == (404)
    both = client.get(
        f"{path}/similarity", params={"a": "embeddings", "b": "king", "pieces": "mean"}
    ).json()
    assert both["a_labels"] == ["␣embed", "d", "ings"] and both["b_keys"] == ["Ġking"]
    assert client.get(f"{path}/profile", params={"query": "embeddings"}).status_code == 404
    profile = client.get(f"{path}/profile", params={"query": "king", "sample": 0}).json()
    assert profile["query_keys"] == ["Ġking"]
    projected = client.post(f"{path}/projections", json={"neighborhood": "embeddings"})
    assert projected.status_code == 404 and projected.json()["piece_labels"][0] == "␣embed"
    assert "pieces='mean'" not in projected.json()["detail"]  # one token's neighbourhood only
    started = client.post(f"{path}/projections", json={"neighborhood": "king"}).json()
    assert started["query_keys"] == ["Ġking"] and "'␣king'" in started["description"]
