"""Analogies (3CosAdd, 3CosMul) and the odd one out, checked against gensim on GloVe."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from embscope import EmbeddingSpace, InvalidParameterError, UnknownKeyError
from embscope.analysis.analogy import expression, parse_analogy
from embscope.cli import main

# (positive, negative): the classic analogies, one- and many-word combinations
ANALOGIES = [
    (["king", "woman"], ["man"]),
    (["paris", "germany"], ["france"]),
    (["walked", "swim"], ["walk"]),
    (["bigger", "small"], ["big"]),
    (["rome", "japan"], ["italy"]),
    (["mice", "dog"], ["mouse"]),
    (["sister", "boy"], ["girl"]),
    (["good", "worst"], ["bad"]),
    (["dollar", "europe"], ["america"]),
    (["computer"], []),
    (["king", "woman", "girl"], ["man", "boy"]),
    (["doctor", "she"], ["he"]),
]
ODD_ONES_OUT = [
    ["breakfast", "cereal", "dinner", "lunch"],
    ["paris", "london", "berlin", "banana"],
    ["dog", "cat", "horse", "car"],
    ["red", "blue", "green", "happy"],
    ["piano", "guitar", "violin", "table"],
    ["run", "walk", "swim", "blue"],
    ["france", "germany", "italy", "tokyo"],
    ["apple", "orange", "banana", "computer"],
    ["doctor", "nurse", "hospital", "guitar"],
    ["monday", "tuesday", "friday", "july"],
    ["one", "two", "three", "many", "dog"],
    ["good", "bad"],
]


@pytest.fixture(scope="module")
def glove_gensim(glove):
    from gensim.models import KeyedVectors

    keyed = KeyedVectors(vector_size=glove.dim)
    keyed.add_vectors(glove.keys, np.asarray(glove.vectors))
    return keyed


@pytest.mark.parametrize(("positive", "negative"), ANALOGIES)
def test_3cosadd_matches_gensim_most_similar(glove, glove_gensim, positive, negative):
    ours = glove.analogy(positive, negative, top_k=10)
    theirs = glove_gensim.most_similar(positive=positive, negative=negative, topn=10)
    assert ours["key"].tolist() == [key for key, _ in theirs]
    np.testing.assert_allclose(ours["score"], [score for _, score in theirs], atol=1e-5)


@pytest.mark.parametrize(("positive", "negative"), ANALOGIES)
def test_3cosmul_matches_gensim_most_similar_cosmul(glove, glove_gensim, positive, negative):
    ours = glove.analogy(positive, negative, top_k=10, method="3cosmul")
    theirs = glove_gensim.most_similar_cosmul(positive=positive, negative=negative, topn=10)
    assert ours["key"].tolist() == [key for key, _ in theirs]
    np.testing.assert_allclose(ours["score"], [score for _, score in theirs], atol=1e-5)


@pytest.mark.parametrize("words", ODD_ONES_OUT)
def test_doesnt_match_matches_gensim(glove, glove_gensim, words):
    assert glove.doesnt_match(words) == glove_gensim.doesnt_match(words)


def test_the_classic_answers(glove):
    assert glove.analogy(["king", "woman"], ["man"], top_k=1)["key"].tolist() == ["queen"]
    assert glove.doesnt_match(["breakfast", "cereal", "dinner", "lunch"]) == "cereal"


def test_restrict_vocab_matches_gensim(glove, glove_gensim):
    ours = glove.analogy(["king", "woman"], ["man"], top_k=10, restrict_vocab=5000)
    theirs = glove_gensim.most_similar(
        positive=["king", "woman"], negative=["man"], topn=10, restrict_vocab=5000
    )
    assert ours["key"].tolist() == [key for key, _ in theirs]
    assert all(glove.row(key) < 5000 for key in ours["key"])
    # gensim's most_similar_cosmul accepts restrict_vocab but ignores it: compare with its
    # scores over every row, cut to the first rows by hand
    cosmul = glove.analogy(
        ["paris", "germany"], ["france"], top_k=10, method="3cosmul", restrict_vocab=5000
    )
    every = glove_gensim.most_similar_cosmul(
        positive=["paris", "germany"], negative=["france"], topn=None
    )[:5000]
    inputs = {glove.row(w) for w in ("paris", "germany", "france")}
    expected = [r for r in np.argsort(-every, kind="stable") if r not in inputs][:10]
    assert cosmul["key"].tolist() == [glove.keys[r] for r in expected]
    np.testing.assert_allclose(cosmul["score"], every[expected], atol=1e-5)


def test_analogy_frame(glove):
    frame = glove.analogy(positive=["king", "woman"], negative=["man"], top_k=5)
    assert list(frame.columns[:4]) == ["rank", "key", "label", "score"]
    assert frame["rank"].tolist() == [1, 2, 3, 4, 5]
    assert frame["score"].is_monotonic_decreasing
    assert not {"king", "woman", "man"} & set(frame["key"])
    assert frame.attrs["query"] == "king - man + woman"
    assert frame.attrs["method"] == "3cosadd"
    assert frame.attrs["positive"] == ["king", "woman"] and frame.attrs["negative"] == ["man"]
    assert frame.attrs["query_keys"] == ["king", "woman", "man"]
    # one word for positive, a string for negative, as gensim allows; method is case-blind
    single = glove.analogy("king", "man", top_k=3, method="3CosMul")
    assert single.attrs["method"] == "3cosmul" and "king" not in set(single["key"])


def test_the_same_word_twice_counts_twice(glove, glove_gensim):
    ours = glove.analogy(["king", "king", "woman"], ["man"], top_k=5)
    theirs = glove_gensim.most_similar(positive=["king", "king", "woman"], negative=["man"])
    assert ours["key"].tolist() == [key for key, _ in theirs[:5]]


def test_tokenizer_spaces_resolve_words_like_every_question(minilm):
    frame = minilm.analogy(["King", "woman"], ["man"], top_k=5)
    assert frame.attrs["query_keys"] == ["king", "woman", "man"]
    assert not {"king", "woman", "man"} & set(frame["key"])


def test_zero_vectors_give_numbers_not_nan():
    vectors = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [-1, 0]], dtype=np.float32)
    space = EmbeddingSpace(vectors, ["zero", "x", "y", "xy", "minus_x"])
    for method in ("3cosadd", "3cosmul"):
        frame = space.analogy(["xy", "zero"], ["y"], top_k=3, method=method)
        assert not frame["score"].isna().any()
        assert frame["key"].iloc[0] == "x"
    assert space.doesnt_match(["x", "xy", "minus_x"]) == "minus_x"


def test_bad_input_is_named(glove):
    with pytest.raises(UnknownKeyError, match="closest keys: king"):
        glove.analogy(["kingg", "woman"], ["man"])
    with pytest.raises(UnknownKeyError):
        glove.doesnt_match(["breakfast", "lunchh"])
    with pytest.raises(InvalidParameterError, match="positive must hold at least one word"):
        glove.analogy([], ["man"])
    with pytest.raises(InvalidParameterError, match="method must be one of 3cosadd, 3cosmul"):
        glove.analogy(["king"], method="3cosdiv")
    with pytest.raises(InvalidParameterError, match="top_k must be a positive integer"):
        glove.analogy(["king"], method="3cosmul", top_k=0)
    with pytest.raises(InvalidParameterError, match="restrict_vocab must be at least 1"):
        glove.analogy(["king"], restrict_vocab=0)
    with pytest.raises(InvalidParameterError, match="words must hold at least 2 words"):
        glove.doesnt_match(["breakfast"])
    with pytest.raises(InvalidParameterError, match="got the string"):
        glove.doesnt_match("breakfast cereal dinner")


@pytest.mark.parametrize(
    ("text", "positive", "negative"),
    [
        ("king - man + woman", ["king", "woman"], ["man"]),
        ("king woman", ["king", "woman"], []),
        ("- man + king + woman", ["king", "woman"], ["man"]),
        ("man : king :: woman : ?", ["king", "woman"], ["man"]),
        ("man : king :: woman", ["king", "woman"], ["man"]),
        ("well-known - good", ["well-known"], ["good"]),
    ],
)
def test_parse_analogy(text, positive, negative):
    assert parse_analogy(text) == (positive, negative)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("king - - man", "two operators in a row"),
        ("king -", "ends with the operator"),
        ("", "at least one word"),
        ("man king :: woman", "must read 'a : b :: c'"),
    ],
)
def test_parse_analogy_errors(text, problem):
    with pytest.raises(InvalidParameterError, match=problem):
        parse_analogy(text)


def test_expression():
    assert expression(["king", "woman"], ["man"]) == "king - man + woman"
    assert expression(["paris"], []) == "paris"


# ---- command line ------------------------------------------------------------------------
@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_cli_forms_give_the_same_answer(run, glove):
    expected = glove.analogy(["king", "woman"], ["man"], top_k=5)["key"].tolist()
    for form in (
        ["king", "woman", "--minus", "man"],
        ["king", "-", "man", "+", "woman"],
        ["king - man + woman"],
        ["man : king :: woman : ?"],
    ):
        result = run("analogy", *form, "-s", "glove-6b-50d", "-k", "5", "--json")
        assert result.exit_code == 0, result.output
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert [r["key"] for r in records] == expected, form


def test_cli_table_and_method(run, glove):
    result = run("analogy", "king", "woman", "--minus", "man", "-s", "glove-6b-50d", "-k", "3")
    assert result.exit_code == 0
    assert "king - man + woman" in result.output and "queen" in result.output
    cosmul = run(
        "analogy", "king - man + woman", "-s", "glove-6b-50d", "--method", "3cosmul", "--json"
    )
    records = [json.loads(line) for line in cosmul.stdout.splitlines()]
    expected = glove.analogy(["king", "woman"], ["man"], method="3cosmul")
    assert [r["key"] for r in records] == expected["key"].tolist()
    np.testing.assert_allclose([r["score"] for r in records], expected["score"])


def test_cli_errors_are_one_line(run):
    result = run("analogy", "king - - man", "-s", "glove-6b-50d")
    assert result.exit_code == 1 and "two operators in a row" in result.output
    result = run("analogy", "kingg", "woman", "--minus", "man", "-s", "glove-6b-50d")
    assert result.exit_code == 1 and "closest keys: king" in result.output
    assert "Traceback" not in result.output
