"""De-leaking rt-polarity against SST-2's dev and test sentences, on the real files."""

from __future__ import annotations

import pytest

import embscope
from embscope.train.leakage import (
    CONTAINED_FROM,
    overlap_groups,
    remove_overlap,
    sentence_key,
    sentence_words,
)


def test_tokenisation_differences_are_undone():
    assert sentence_key("it wo n't -lrb- ever -rrb- work .") == sentence_key(
        "It won't (ever) work."
    )
    assert sentence_key("the 21st century 's new conan") == sentence_key(
        "the 21st century's new conan"
    )
    assert sentence_key("Café") == sentence_key("cafe")


@pytest.fixture(scope="module")
def sst_held_out(shared_data):
    sst = shared_data / "sst"
    return [
        *embscope.read_texts(sst / "stsa.binary.dev").texts,
        *embscope.read_texts(sst / "stsa.binary.test").texts,
    ]


def test_rt_polarity_loses_every_sst_dev_and_test_sentence(shared_data, sst_held_out):
    rt = embscope.read_texts(shared_data / "rt_polarity")
    kept, removed = remove_overlap(rt, sst_held_out)
    assert len(kept) + removed == len(rt) == 10662
    # 2,693 held-out sentences came from about 2,500 rt-polarity snippets
    assert 2300 <= removed <= 2700
    kept_keys = [sentence_key(text) for text in kept.texts]
    held = {sentence_key(text) for text in sst_held_out}
    assert not held & set(kept_keys)
    # no kept text holds a long held-out sentence, word for word
    kept_words = "\n".join(" " + " ".join(sentence_words(text)) + " " for text in kept.texts)
    long_held = [
        words
        for text in sst_held_out
        if len("".join(words := sentence_words(text))) >= CONTAINED_FROM
    ]
    assert not [w for w in long_held if f" {' '.join(w)} " in kept_words]
    # SST's training sentences are not held out: most of them stay findable
    assert kept.frame["label"].value_counts().min() > 4000


def test_overlap_groups_join_sst_sentences_to_the_rt_snippets_holding_them(shared_data):
    sst = embscope.read_texts(shared_data / "sst" / "stsa.binary.train").texts[:300]
    rt = embscope.read_texts(shared_data / "rt_polarity").texts
    texts = [*sst, *rt]
    groups = overlap_groups(texts)
    assert len(groups) == len(texts)
    # nearly every SST training sentence was cut from an rt-polarity snippet: it shares a group
    shared = sum(1 for i in range(len(sst)) if (groups[len(sst) :] == groups[i]).any())
    assert shared >= 0.9 * len(sst)
    # a text shares a group only with texts it equals, holds or is held by (or through those)
    keys = [sentence_key(t) for t in texts]
    for i in range(len(sst)):
        partners = [j for j in (groups == groups[i]).nonzero()[0] if j != i]
        assert not partners or any(keys[i] in keys[j] or keys[j] in keys[i] for j in partners)
