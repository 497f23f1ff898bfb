"""Ranking stability: every neighbour list says how far apart its scores lie and how many rows
it left out score inside that band, and flags a near tie, checked against a plain numpy count
on the sentiment model (whose lists are near ties), MiniLM and GloVe (whose lists are not)."""

from __future__ import annotations

import numpy as np
import pytest

import embscope
from embscope.search.results import NEAR_TIE_SHARE


def numpy_band(space, word, *, top_k=10, restrict_vocab=None, opposite=False):
    """The figures by hand: cosine of the word against every row searched, its own row left
    out; the listed are the top_k; the band is the listed scores' range below the last."""
    n = restrict_vocab or len(space)
    vectors = np.asarray(space.vectors[:n], dtype=np.float64)
    query = np.asarray(space[word], dtype=np.float64)
    cosines = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
    own = space.row(word)
    keep = np.ones(n, dtype=bool)
    if own < n:
        keep[own] = False
    scores = cosines[keep] * (-1.0 if opposite else 1.0)
    order = np.sort(scores)[::-1]
    listed, rest = order[:top_k], order[top_k:]
    span = listed[0] - listed[-1]
    band = int(np.count_nonzero(rest >= listed[-1] - span - 1e-6))
    return span, band, float(cosines[keep].std())


@pytest.mark.slow  # trains the sentiment model (shared with tests/test_compare.py)
@pytest.mark.parametrize("opposite", [False, True])
def test_a_sentiment_list_is_a_near_tie_and_its_figures_are_numpys(sentiment_seeds, opposite):
    space = sentiment_seeds[0]
    hits = space.search("horrible", restrict_vocab=2000, opposite=opposite)
    span, band, spread = numpy_band(space, "horrible", restrict_vocab=2000, opposite=opposite)
    stability = hits.stability
    assert stability.listed == 10 and stability.rows_ranked == 1999
    assert stability.span == pytest.approx(span, abs=1e-6)
    assert abs(stability.band_rows - band) <= 1  # float32 against float64 at the band's edge
    assert stability.score_spread == pytest.approx(spread, rel=1e-4)
    # a 16-d sentiment space puts every negative word within a hair of "horrible"
    assert stability.near_tie and stability.band_rows > 10
    assert stability.span < NEAR_TIE_SHARE * stability.score_spread
    line = stability.line()
    assert line.startswith("near tie: the 10 listed span")
    assert f"{stability.band_rows:,} more rows lie inside that band" in line
    # every view of the answer says so
    assert "near tie" in repr(hits)
    assert "near tie" in hits._repr_html_()
    table = space.opposites if opposite else space.neighbors
    frame = table("horrible", restrict_vocab=2000)
    assert frame.attrs["stability"]["near_tie"] is True
    assert frame.attrs["stability"]["band_rows"] == stability.band_rows


@pytest.mark.parametrize(("name", "word"), [("minilm", "king"), ("glove-6b-50d", "frog")])
def test_lists_of_real_language_models_are_not_near_ties(name, word, minilm, glove):
    space = {"minilm": minilm, "glove-6b-50d": glove}[name]
    hits = space.search(word)
    span, band, spread = numpy_band(space, word)
    stability = hits.stability
    assert stability.span == pytest.approx(span, abs=1e-6)
    assert abs(stability.band_rows - band) <= 1
    assert stability.score_spread == pytest.approx(spread, rel=1e-4)
    assert not stability.near_tie
    assert "near tie" not in repr(hits) and "near tie" not in hits._repr_html_()
    assert stability.line().startswith("the 10 listed span")


def test_the_fast_paths_measure_the_same_stability(minilm):
    """A float16 space is searched by a SIMD candidate pass that keeps no scores: its
    stability is measured on first use, and agrees with the float32 search's."""
    half = minilm.astype("float16")
    exact = minilm.search("king").stability
    fast = half.search("king")
    assert "_stability" not in fast.__dict__  # not paid for until asked
    assert fast.stability.span == pytest.approx(exact.span, abs=2e-3)
    assert abs(fast.stability.band_rows - exact.band_rows) <= 0.01 * exact.band_rows


def test_exact_ties_are_counted_and_excluded_rows_are_not(glove_1000):
    # three rows with the same vector as the 10th neighbour tie with it exactly
    hits = glove_1000.search("good")
    last = hits.keys[-1]
    vectors = np.asarray(glove_1000.vectors, dtype=np.float32).copy()
    keys = list(glove_1000.keys)
    for i in range(3):
        vectors = np.vstack([vectors, vectors[glove_1000.row(last)]])
        keys.append(f"copy-{i}")
    tied = embscope.EmbeddingSpace(vectors, keys, name="ties")
    stability = tied.search("good").stability
    assert stability.band_rows >= 3
    # excluding the copies takes them out of the rows ranked and of the band
    excluded = tied.search("good", exclude=[f"copy-{i}" for i in range(3)]).stability
    assert excluded.rows_ranked == stability.rows_ranked - 3
    assert excluded.band_rows == stability.band_rows - 3


def test_an_analogy_by_3cosadd_has_its_search_stability_and_3cosmul_none(glove):
    words = {"positive": ["king", "woman"], "negative": ["man"]}
    added = glove.analogy(**words)
    assert added["key"].iloc[0] == "queen"
    searched = glove.search(_3cosadd_query(glove), exclude=["king", "woman", "man"]).stability
    stability = added.attrs["stability"]
    assert stability["span"] == pytest.approx(searched.span, abs=1e-5)
    assert stability["band_rows"] == searched.band_rows
    assert stability["rows_ranked"] == len(glove) - 3 == searched.rows_ranked
    # 3CosMul ranks by a product of cosines, not by one query's scores
    assert "stability" not in glove.analogy(**words, method="3cosmul").attrs


def _3cosadd_query(space):
    units = [space[w] / np.linalg.norm(space[w]) for w in ("king", "woman", "man")]
    query = units[0] + units[1] - units[2]
    return (query / np.linalg.norm(query)).astype(np.float32)
