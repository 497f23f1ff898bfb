"""TensorBoard projector TSV files, written and read back by TensorBoard's rules."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

import embscope
from embscope import EmbeddingSpace, InvalidParameterError, MalformedFileError, SourceError
from embscope.sources.projector import load_projector, write_projector


@pytest.fixture(scope="module")
def small_glove(glove) -> EmbeddingSpace:
    return glove.subset(["king", "queen", "man", "woman", "paris", "france", "good", "bad"])


def write_lines(path, lines):
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def test_round_trip_is_exact(small_glove, tmp_path):
    metadata = pd.DataFrame(
        {
            "token_id": np.arange(8, dtype=np.int64),
            "frequency": [0.5, np.nan, 1e-7, 2.0, 3.25, 1.0, 0.0, -4.5],
            "capital": [False, False, False, False, True, False, False, False],
            "class": ["royal", "royal", "person", "person", "place", "place", "", "quality"],
            "label": [1, 1, 2, 2, 3, 3, 4, 4],  # a metadata column clashing with `label`
        }
    )
    space = EmbeddingSpace(
        small_glove.vectors,
        small_glove.keys,
        labels=[k.upper() for k in small_glove.keys],
        metadata=metadata,
        name="glove subset",
    )

    out = write_projector(space, tmp_path / "export")

    header = (out / "metadata.tsv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "key\tlabel\ttoken_id\tfrequency\tcapital\tclass\tmetadata.label"
    assert (out / "projector_config.pbtxt").read_text().count('tensor_path: "vectors.tsv"') == 1
    loaded = embscope.load(out)
    assert loaded.provenance.kind == "projector"
    assert loaded.keys == space.keys
    assert loaded.labels == space.labels
    np.testing.assert_array_equal(loaded.vectors, space.vectors)
    pd.testing.assert_frame_equal(loaded.metadata, metadata)
    assert loaded.name == "export"


def test_vectors_file_path_and_float16_round_trip(tmp_path):
    vectors = (np.arange(12, dtype=np.float16) / 7).reshape(4, 3)
    space = EmbeddingSpace(vectors, ["a", "b", "c", "d"])
    write_projector(space, tmp_path, config=False)

    loaded = load_projector(tmp_path / "vectors.tsv")

    assert not (tmp_path / "projector_config.pbtxt").exists()
    np.testing.assert_array_equal(loaded.vectors, vectors.astype(np.float32))


def test_tutorial_export_single_column_metadata(glove, tmp_path):
    # what the TensorFlow word-embeddings tutorial writes: str() of each number, no header,
    # one word per line, the padding row left out of both files
    words = ["[UNK]", "the", "a", "and", "of", "movie"]
    vectors = np.vstack([np.zeros((1, glove.dim), np.float32), glove[words[1:]]])
    write_lines(tmp_path / "vectors.tsv", ["\t".join(str(x) for x in v) for v in vectors])
    write_lines(tmp_path / "metadata.tsv", words)

    space = load_projector(tmp_path)

    assert space.keys == words
    np.testing.assert_array_equal(space.vectors, vectors)
    assert space.metadata.columns.tolist() == []


def test_repeated_first_column_falls_back_to_row_numbers(tmp_path, caplog):
    write_lines(tmp_path / "vectors.tsv", ["1\t0", "0\t1", "1\t1"])
    write_lines(tmp_path / "metadata.tsv", ["7", "3", "7"])  # class labels, as in MNIST

    with caplog.at_level(logging.INFO, logger="embscope.sources.projector"):
        space = load_projector(tmp_path)

    assert space.keys == ["0", "1", "2"]
    assert space.labels == ["7", "3", "7"]
    assert space.metadata["label"].tolist() == [7, 3, 7]
    assert "keys are the row numbers" in caplog.text
    with pytest.raises(
        MalformedFileError, match=r"metadata.tsv, line 3: duplicate key '7' .*line 1"
    ):
        load_projector(tmp_path, key_column="label")


def test_header_key_column_must_be_unique(tmp_path):
    write_lines(tmp_path / "vectors.tsv", ["1\t0", "0\t1", "1\t1"])
    write_lines(tmp_path / "metadata.tsv", ["key\tclass", "a\tx", "b\ty", "", "a\tz"])

    with pytest.raises(MalformedFileError, match=r"line 5: duplicate key 'a' .*first at line 2"):
        load_projector(tmp_path)


def test_labels_in_the_vectors_file(tmp_path):
    write_lines(tmp_path / "vectors.tsv", ["king\t1\t0", "queen\t0\t1"])

    space = load_projector(tmp_path / "vectors.tsv")

    assert space.keys == ["king", "queen"]
    assert space.vectors.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_vectors_problems_name_the_line(tmp_path):
    path = write_lines(tmp_path / "vectors.tsv", ["0.1\t0.2\t0.3", "", "0.1\t0.2", "1\t2\t3"])
    with pytest.raises(
        MalformedFileError, match=r"line 3: 2 tab-separated fields, but line 1 has 3"
    ):
        load_projector(path)

    write_lines(path, ["0.1\t0.2", "0.3\tx"])
    with pytest.raises(MalformedFileError, match=r"vectors.tsv, line 2: field 2 \('x'\) is not a"):
        load_projector(path)

    path.write_bytes(b"0.1\t0.2\n0.3\t0.4\n\xff\t1\n")
    with pytest.raises(MalformedFileError, match="line 3: not UTF-8"):
        load_projector(path)

    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(MalformedFileError, match="no vectors"):
        load_projector(path)


def test_metadata_problems_name_the_line(tmp_path):
    write_lines(tmp_path / "vectors.tsv", ["1\t0", "0\t1"])
    metadata = write_lines(tmp_path / "metadata.tsv", ["word\tcount", "a\t1", "b\t2\textra"])
    with pytest.raises(MalformedFileError, match="line 3: 3 tab-separated fields, but the header"):
        load_projector(tmp_path)

    write_lines(metadata, ["a", "b\tc"])
    with pytest.raises(MalformedFileError, match="line 2: 2 tab-separated fields, but the first"):
        load_projector(tmp_path)

    write_lines(metadata, ["", "b"])  # an empty padding token: TensorBoard skips the line
    with pytest.raises(MalformedFileError, match=r"1 rows of metadata .* for the 2 vectors"):
        load_projector(tmp_path)

    write_lines(metadata, ["word\tword", "a\tb", "c\td"])
    with pytest.raises(MalformedFileError, match="line 1: the header repeats column 'word'"):
        load_projector(tmp_path)


def test_missing_files_are_reported(tmp_path):
    write_lines(tmp_path / "points.tsv", ["1\t2"])
    with pytest.raises(SourceError, match=r"no vectors\.tsv in this directory .*points\.tsv"):
        load_projector(tmp_path)
    write_lines(tmp_path / "metadata.tsv", ["a"])
    with pytest.raises(SourceError, match=r"is the metadata of a projector export; point at"):
        load_projector(tmp_path / "metadata.tsv")
    with pytest.raises(SourceError, match="no such metadata file"):
        load_projector(tmp_path / "points.tsv", metadata=tmp_path / "absent.tsv")


def test_cells_that_tsv_cannot_hold(tmp_path, caplog):
    space = EmbeddingSpace(
        np.eye(2, dtype=np.float32),
        ["a", "b"],
        metadata=pd.DataFrame({"text": ["one\ttwo", "three\nfour"]}),
    )
    with caplog.at_level(logging.WARNING, logger="embscope.sources.projector"):
        write_projector(space, tmp_path / "out")
    assert load_projector(tmp_path / "out").metadata["text"].tolist() == ["one two", "three four"]
    assert "2 cells hold tabs or line breaks" in caplog.text

    tabbed = EmbeddingSpace(np.eye(2, dtype=np.float32), ["a", "b\tc"])
    with pytest.raises(InvalidParameterError, match="key 'b\\\\tc' at row 1 holds a tab"):
        write_projector(tabbed, tmp_path / "refused")
    assert not (tmp_path / "refused" / "metadata.tsv").exists()
