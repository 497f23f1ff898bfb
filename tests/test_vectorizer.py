"""The Keras-compatible text vectorizer on SST sentences and on hand-made texts."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import embscope
from embscope.errors import InvalidParameterError, MalformedFileError
from embscope.train.vectorizer import TextVectorizer, standardize, tokenize


def test_standardisation_is_keras_lower_and_strip_punctuation():
    assert standardize("What a WONDERFUL film!!") == "what a wonderful film"
    assert tokenize("It won't work, will it?") == ["it", "wont", "work", "will", "it"]
    assert tokenize("sst writes wo n't and -lrb- brackets") == [
        "sst", "writes", "wo", "nt", "and", "lrb", "brackets",
    ]  # fmt: skip
    assert tokenize("café  naïve\tüber") == ["café", "naïve", "über"]  # letters stay


def test_vocabulary_order_is_count_then_token_descending():
    texts = ["b a c", "a b", "a d", "e"]
    vectorizer = TextVectorizer.fit(texts, max_tokens=10)
    # a: 3, b: 2, then c, d, e once each, ties broken by the token, descending
    assert vectorizer.vocabulary == ("", "[UNK]", "a", "b", "e", "d", "c")
    capped = TextVectorizer.fit(texts, max_tokens=5)
    assert capped.vocabulary == ("", "[UNK]", "a", "b", "e")


def test_sst_vocabulary_follows_the_counts(shared_data):
    texts = embscope.read_texts(shared_data / "sst" / "stsa.binary.train").texts
    vectorizer = TextVectorizer.fit(texts, max_tokens=10_000, sequence_length=100)
    counts = Counter(token for text in texts for token in tokenize(text))
    assert len(vectorizer) == 10_000 and len(counts) > 10_000
    kept = vectorizer.vocabulary[2:]
    assert [counts[t] for t in kept] == sorted((counts[t] for t in kept), reverse=True)
    assert kept[0] == counts.most_common(1)[0][0] == "the"
    assert min(counts[t] for t in kept) >= max(c for t, c in counts.items() if t not in set(kept))


def test_transform_pads_cuts_and_marks_unknown_tokens():
    vectorizer = TextVectorizer(("", "[UNK]", "good", "film"), sequence_length=4)
    ids = vectorizer.transform(["Good film!", "a good good good film", ""])
    np.testing.assert_array_equal(ids, [[2, 3, 0, 0], [1, 2, 2, 2], [0, 0, 0, 0]])
    assert ids.dtype == np.int64


def test_vocabulary_file_round_trip(tmp_path):
    vectorizer = TextVectorizer.fit(["one two two", "three"], max_tokens=10, sequence_length=7)
    path = vectorizer.save(tmp_path / "vocab.txt")
    assert path.read_text(encoding="utf-8").splitlines()[:3] == ["", "[UNK]", "two"]
    loaded = TextVectorizer.load(path, sequence_length=7)
    assert loaded == vectorizer
    broken = tmp_path / "broken.txt"
    broken.write_text("the\nand\n", encoding="utf-8")
    with pytest.raises(MalformedFileError, match=r"broken.txt, line 1: a TextVectorization"):
        TextVectorizer.load(broken)


def test_bad_parameters():
    with pytest.raises(InvalidParameterError, match="max_tokens must be an integer of at least 3"):
        TextVectorizer.fit(["a"], max_tokens=2)
    with pytest.raises(InvalidParameterError, match="sequence_length must be a positive integer"):
        TextVectorizer.fit(["a"], sequence_length=0)
