"""The space report on real spaces: All-but-the-Top raises GloVe's isotropy and lowers its
mean random-pair cosine (the direction Mu & Viswanath report), centring lowers GloVe's hubness,
TwoNN finds the dimension of a known manifold, and the page renders offline in Chromium."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import embscope
from embscope.analysis import geometry
from embscope.cli import main


@pytest.fixture(scope="module")
def glove_report(glove):
    return embscope.report(glove, sample=4000, progress=False)


def test_all_but_the_top_makes_glove_more_isotropic(glove_report):
    found = glove_report
    assert found.isotropy_after > found.isotropy and found.isotropy < 0.5
    assert abs(found.mean_cosine_after) < found.mean_cosine
    assert found.removed_directions == 1  # 50 dimensions / 100, at least one
    assert set(found.probe_overlap) <= set(embscope.analysis.report.PROBE_WORDS)
    assert all(0 <= share <= 1 for share in found.probe_overlap.values())


def test_centring_lowers_glove_hubness_and_the_hubs_are_real_rows(glove, glove_report):
    found = glove_report
    assert found.hubness_skew > found.hubness_skew_centred > 0
    assert found.k_occurrence.sum() == found.k * found.sample
    key, count = found.hubs[0]
    assert key in glove and count == found.k_occurrence.max()


def test_figures_agree_with_numpy_on_the_sample(glove, glove_report):
    rows = np.union1d(
        geometry.sample_rows(len(glove), 4000, 0),
        [glove.row(w) for w in embscope.analysis.report.PROBE_WORDS if w in glove],
    )
    assert glove_report.sample == len(rows)
    vectors = np.asarray(glove.vectors[rows], dtype=np.float64)
    centred = vectors - vectors.mean(axis=0)
    variance = np.linalg.svd(centred, compute_uv=False) ** 2
    np.testing.assert_allclose(glove_report.variance_shares, variance / variance.sum())
    np.testing.assert_allclose(glove_report.norms, np.linalg.norm(glove.vectors, axis=1), rtol=1e-6)


def test_two_nn_finds_the_dimension_of_a_known_manifold():
    rng = np.random.default_rng(0)
    # 4,000 points of a 5-dimensional cube placed in 60 dimensions by a random rotation
    points = rng.random((4000, 5)) @ np.linalg.qr(rng.normal(size=(60, 60)))[0][:5]
    # TwoNN works on distances; unit rows of points far from the origin keep a 5-d manifold
    shifted = points + 10 * rng.normal(size=60)
    estimate = geometry.two_nn_dimension(geometry.unit_rows(shifted).astype(np.float32))
    assert 4.0 < estimate < 6.0


def test_a_skewed_and_a_symmetric_distribution():
    assert geometry.skewness(np.r_[np.zeros(99), 100.0]) > 5
    assert abs(geometry.skewness(np.arange(101.0))) < 1e-12


def test_the_cli_writes_a_page_that_renders_offline(tmp_path, offline_page, minilm):
    out = tmp_path / "minilm.html"
    args = ["report", "minilm", "--sample", "2000", "--out", str(out), "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.splitlines()[-1])
    assert record["rows"] == len(minilm) and record["file"] == str(out)
    assert set(record["seconds"]) == {
        "norms", "anisotropy", "hubness", "intrinsic dimension", "projection", "context"
    }  # fmt: skip
    page = offline_page
    page.goto(out.as_uri())
    page.wait_for_selector(".js-plotly-plot .main-svg")
    assert page.locator(".js-plotly-plot").count() == 5
    assert "isotropy" in page.locator("table").first.text_content()
    assert "measured in" in page.locator("body > p").first.text_content()
    assert page.refused == []
    refused = CliRunner().invoke(main, ["report", "minilm", "--out", str(tmp_path / "r.txt")])
    assert refused.exit_code == 2 and ".html" in refused.output


def test_the_sections_that_apply_to_some_spaces_only(glove, glove_report, minilm, ag_news_docs):
    pairs = glove.evaluate_word_pairs("wordsim353")
    assert (
        f"wordsim353 Spearman {pairs.spearman:.3f}" in glove_report.context["word-pair benchmarks"]
    )
    assert "under-trained tokens" not in glove_report.context
    tokens = embscope.report(minilm, sample=500, progress=False).context
    scanned = embscope.tokens.scan(minilm, progress=False).summary()
    assert tokens["under-trained tokens"].startswith(f"{scanned['candidates']:,} candidates")
    assert "word-pair benchmarks" not in tokens
    documents = embscope.report(ag_news_docs, sample=300, progress=False)
    separation = ag_news_docs.separation()
    line = documents.context["class separation"]
    assert line.startswith(f"4 classes of 'class': silhouette {separation.silhouette:.3f}")
    assert "class separation" in str(documents)
    assert glove_report.context["sample projection"].startswith("PCA of 2,000 rows: trust")
    assert glove_report.context["class separation"].startswith("does not apply: the rows carry")
    assert "(how" not in str(glove_report) and "()" not in str(glove_report)
    # the column named: the 4 classes again; a column that is not there says so
    same_rows = ag_news_docs.subset(ag_news_docs.keys)  # its classes are in "class"
    named = embscope.report(same_rows, sample=300, label="class", progress=False).context
    assert named["class separation"] == line
    wrong = embscope.report(same_rows, sample=300, label="topic", progress=False).context
    assert wrong["class separation"].startswith("not measured: label column 'topic' is not in")
