"""Lists a learner can read: ``skip=`` leaves out special tokens, reserved [unusedN] slots,
continuation pieces and bytes, on the bundled MiniLM (WordPiece) and a real GGUF LLM (byte-level
BPE), and the answer is the plain ranking with those rows removed."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from embscope.cli import main
from embscope.errors import InvalidParameterError
from embscope.search.exact import skipped_rows


def plain_ranking_without(space, word, rows_left_out, *, top_k, metric="cosine"):
    """The first top_k keys of the whole ranking once the given rows are taken out."""
    table = space.similarity_table(word, metric=metric)
    kept = table[~table["key"].isin([space.keys[r] for r in rows_left_out])]
    return kept["key"].head(top_k).tolist()


def test_minilms_euclidean_beauty_loses_mask_and_unused_slots(minilm):
    plain = minilm.neighbors("beauty", top_k=15, metric="euclidean")["key"].tolist()
    assert "[MASK]" in plain and any(re.match(r"\[unused\d+\]$", k) for k in plain)
    skip = ["special", "unused"]
    cleaned = minilm.neighbors("beauty", top_k=15, metric="euclidean", skip=skip)
    keys = cleaned["key"].tolist()
    assert not cleaned["special"].any() and not any(k.startswith("[unused") for k in keys)
    left_out = skipped_rows(minilm, skip)
    assert keys == plain_ranking_without(minilm, "beauty", left_out, top_k=15, metric="euclidean")
    # the kinds counted from the tokenizer: 5 special tokens and the 994 [unused] slots
    assert len(skipped_rows(minilm, ["special"])) == 5
    assert len(skipped_rows(minilm, ["unused"])) == 994


def test_pieces_are_left_out_of_a_wordpiece_list(minilm):
    keys = minilm.neighbors("running", top_k=20, skip="pieces")["key"].tolist()
    assert not any(k.startswith("##") for k in keys)
    kinds = minilm.metadata["kind"].to_numpy()
    assert set(kinds[skipped_rows(minilm, ["pieces"])]) == {"continuation"}


def test_bytes_and_pieces_of_a_byte_level_llm(smollm2):
    skip = ["bytes", "pieces", "special"]
    left_out = skipped_rows(smollm2, skip)
    kinds = smollm2.metadata["kind"].to_numpy()
    assert set(kinds[left_out]) == {"byte", "continuation", "special"}
    answer = smollm2.neighbors("king", top_k=10, skip=skip)
    assert set(answer["kind"]) <= {"word_start"}
    expected = plain_ranking_without(smollm2, "king", left_out, top_k=10)
    assert answer["key"].tolist() == expected
    opposite = smollm2.opposites("king", top_k=5, skip=skip)
    assert set(opposite["kind"]) <= {"word_start"}


def test_a_word_vector_space_has_only_reserved_keys_to_skip(glove):
    assert len(skipped_rows(glove, ["special", "pieces", "bytes"])) == 0
    with pytest.raises(InvalidParameterError, match="skip takes special, unused"):
        glove.neighbors("good", skip=["stopwords"])


def test_the_cli_skips_kinds_and_refuses_unknown_ones(minilm):
    runner = CliRunner()
    result = runner.invoke(
        main, ["neighbors", "beauty", "-m", "euclidean", "-k", "15", "--skip", "special,unused"]
    )
    assert result.exit_code == 0 and "[MASK]" not in result.output
    assert "[unused" not in result.output
    records = runner.invoke(
        main, ["neighbors", "beauty", "-k", "5", "--skip", "pieces", "--json"]
    ).stdout.splitlines()
    keys = [json.loads(line)["key"] for line in records]
    assert keys == minilm.neighbors("beauty", top_k=5, skip=["pieces"])["key"].tolist()
    refused = runner.invoke(main, ["neighbors", "beauty", "--skip", "nonsense"])
    assert (
        refused.exit_code == 2 and "the kinds are special, unused, pieces, bytes" in refused.output
    )
