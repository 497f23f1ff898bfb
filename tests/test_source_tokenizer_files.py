"""Tokenizer files beside a checkpoint that do not name every row of its matrix."""

from __future__ import annotations

import json
import logging
import os
import shutil

import pytest

import embscope
from embscope.sources.hf_tokenizer import read_tokenizer, token_table


def test_a_truncated_vocab_txt_is_never_silent(minilm_dir, tmp_path, caplog):
    # all-MiniLM-L6-v2 with a vocab.txt that lost its last 522 lines, and no tokenizer.json
    checkpoint = tmp_path / "minilm"
    checkpoint.mkdir()
    for name in ("config.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(minilm_dir / name, checkpoint)
    try:  # a hard link, as the reader refuses symlinks that leave the checkpoint
        os.link(minilm_dir / "model.safetensors", checkpoint / "model.safetensors")
    except OSError:  # another file system
        shutil.copy(minilm_dir / "model.safetensors", checkpoint)
    lines = (minilm_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    (checkpoint / "vocab.txt").write_text("\n".join(lines[:30_000]) + "\n", encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="embscope.sources"):
        space = embscope.load(checkpoint)

    assert len(space) == 30_522 and space.keys[30_000] == "<row 30000>"
    assert "vocab.txt has 30,000 tokens for the 30,522 matrix rows" in caplog.text
    assert "522 rows have no token (the first is row 30,000)" in caplog.text
    assert "a vocabulary file that lost lines leaves the same gap" in caplog.text


def test_rows_between_tokens_say_the_files_may_not_match(tmp_path, caplog):
    vocab = {"[UNK]": 0, "the": 1, "film": 3}  # id 2 is missing
    (tmp_path / "tokenizer.json").write_text(
        json.dumps({"model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}}),
        encoding="utf-8",
    )

    with caplog.at_level(logging.WARNING, logger="embscope.sources.hf_tokenizer"):
        table = token_table(read_tokenizer(tmp_path), 4)

    assert table.keys == ["[UNK]", "the", "<row 2>", "film"]
    assert "1 rows have no token (the first is row 2)" in caplog.text
    assert "the tokenizer files may not belong to these weights" in caplog.text


def test_a_vocabulary_that_names_every_row_warns_of_nothing(tmp_path, caplog):
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\nthe\n", encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="embscope.sources.hf_tokenizer"):
        table = token_table(read_tokenizer(tmp_path), 3)

    assert table.padding_rows == 0
    assert caplog.text == ""


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        (b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
        (b'["not", "an", "object"]', "not a JSON object"),
    ],
)
def test_a_broken_tokenizer_config_is_one_clean_error(tmp_path, config, problem):
    (tmp_path / "vocab.txt").write_text("[UNK]\nthe\n", encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_bytes(config)

    with pytest.raises(embscope.MalformedFileError, match=problem):
        read_tokenizer(tmp_path)
