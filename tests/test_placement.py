"""A part of a space shown where it lies in the whole space's projection (the notebook picks
its neighbourhood out of the whole vocabulary's t-SNE): the coordinates are the whole
projection's, a sample is made to hold the part's rows, and the projection says which it did."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from embscope.cli import main
from embscope.errors import InvalidParameterError


def test_a_neighbourhood_placed_in_the_whole_pca_keeps_the_whole_pcas_coordinates(glove, terrible):
    placed = terrible.project("pca", placement="whole")
    whole = glove.project("pca")
    for key in ("terrible", terrible.keys[5], terrible.keys[-1]):
        np.testing.assert_array_equal(placed.position(key), whole.position(key))
    assert placed.placement == "placed where they lie in the PCA of 400,000 rows of glove-6b-50d"
    assert "placed in the PCA of 400,000 rows" in placed.figure().layout.title.text
    own = terrible.project("pca")
    assert own.placement == "fitted to these 61 rows alone"
    assert "fitted to these rows alone" in own.figure().layout.title.text
    # fitted to 61 rows, the PCA spreads them more than the whole vocabulary's axes do
    assert np.ptp(own.coordinates, axis=0).sum() > np.ptp(placed.coordinates, axis=0).sum()
    # its quality is measured among the part's own rows, as a fitted projection's is
    assert 0 < placed.quality.trustworthiness <= 1 and placed.quality.metric == "cosine"


def test_a_tsne_sample_of_the_whole_is_made_to_hold_the_rows_placed(glove_1000):
    part = glove_1000.neighborhood("bad", similar=10, opposite=10)
    placed = part.project("tsne", placement="whole", sample=300, n_iter=250)
    assert len(placed) == len(part) == 21
    assert placed.parameters["placed_in"] == "the t-SNE of 300 of the 1,000 rows of glove-6b-50d"
    assert "made to hold the 21 rows placed in it" in placed.parameters["whole_sample"]
    # the whole projection it came from, asked for again, holds the same rows where they were
    rows_in_whole = np.array([glove_1000.row(key) for key in part.keys])
    whole = glove_1000.project("tsne", sample=300, n_iter=250, holding_rows=rows_in_whole)
    assert whole.from_cache and np.isin(rows_in_whole, whole.rows).all()
    for key in part.keys:
        np.testing.assert_array_equal(placed.position(key), whole.position(key))
    # a seeded sample that misses the rows is a different projection, cached apart
    plain = glove_1000.project("tsne", sample=300, n_iter=250)
    assert not np.isin(rows_in_whole, plain.rows).all()
    assert plain.cache_file != whole.cache_file


def test_a_part_of_a_part_is_placed_in_the_space_it_was_cut_from(glove_1000):
    part = glove_1000.keys_subspace(["king", "president", "man", "woman"])
    placed = part.project("pca", placement="whole")
    assert placed.parameters["placed_in"] == "the PCA of 1,000 rows of glove-6b-50d"
    whole = glove_1000.project("pca")
    np.testing.assert_array_equal(placed.position("president"), whole.position("president"))
    stored = part.astype("float16")
    assert stored.part_of is part.part_of  # another dtype, the same rows of the same space


def test_placement_is_refused_where_it_means_nothing(glove_1000):
    with pytest.raises(InvalidParameterError, match="needs a space cut from another"):
        glove_1000.without(glove_1000.direction("good", "bad")).project("pca", placement="whole")
    with pytest.raises(InvalidParameterError, match="placement must be one of 'own', 'whole'"):
        glove_1000.project("pca", placement="inside")


def test_the_cli_places_a_neighbourhood_in_the_whole_space(tmp_path):
    out = tmp_path / "terrible.html"
    args = ["project", "glove-6b-50d", "--neighborhood", "terrible", "--out", str(out)]
    placed = CliRunner().invoke(main, [*args, "--placement", "whole", "--json"])
    assert placed.exit_code == 0, placed.output
    record = json.loads(placed.stdout.splitlines()[-1])
    assert record["rows"] == 61 and record["placement"].startswith("placed where they lie in")
    assert "placed in the PCA of 400,000 rows" in out.read_text(encoding="utf-8")
    own = CliRunner().invoke(main, args)
    assert own.exit_code == 0 and "fitted to these 61 rows alone" in own.output
    refused = CliRunner().invoke(main, ["project", "glove-6b-50d", "--placement", "whole"])
    assert refused.exit_code == 2 and "give one of them" in refused.output
