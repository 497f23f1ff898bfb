"""NumPy arrays and tables with a vector column: real files written and read back."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import embscope
from embscope import EmbeddingSpace, InvalidParameterError, MalformedFileError
from embscope.sources.arrays import load_array, load_table, write_npy, write_parquet

WORDS = ["king", "queen", "man", "woman", "paris", "france", "good", "bad", "null", "na"]


@pytest.fixture(scope="module")
def small_glove(glove) -> EmbeddingSpace:
    """Real GloVe vectors ("null", "na" and "nan" are real words that CSV readers like to eat)."""
    return glove.subset([w for w in WORDS if w in glove] + ["n/a", "nan"])


@pytest.fixture
def rich_space() -> EmbeddingSpace:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((5, 8)).astype(np.float32)
    vectors[2] = 0.0
    metadata = pd.DataFrame(
        {
            "token_id": np.arange(5, dtype=np.int64),
            "count": [3.5, np.nan, 1.0, 2.25, 1e-7],
            "special": [True, False, False, False, True],
            "text": ["Ġthe", "a\tb", "", "naïve", "日本"],
            "label": ["pos", "neg", "pos", "neg", "pos"],  # a class label, clashing by name
        }
    )
    return EmbeddingSpace(
        vectors,
        ["<pad>", "the", "##ing", "naïve", "日本"],
        labels=["<pad>", "␣the", "##ing", "naïve", "日本"],
        metadata=metadata,
        metric="dot",
        name="rich",
    )


# ---- .npy -------------------------------------------------------------------------------------


def test_npy_round_trip_is_exact_and_memory_mapped(small_glove, tmp_path):
    target = write_npy(small_glove, tmp_path / "glove.npy")

    assert (tmp_path / "glove.vocab.txt").is_file()
    space = embscope.load(target)
    assert space.summary()["memory_mapped"]
    assert space.keys == small_glove.keys
    np.testing.assert_array_equal(space.vectors, small_glove.vectors)
    assert space.provenance.kind == "npy"
    assert space.similarity("king", "queen") == pytest.approx(
        small_glove.similarity("king", "queen"), abs=1e-6
    )


def test_npy_keeps_float16_and_takes_an_explicit_vocabulary(tmp_path):
    vectors = np.arange(12, dtype=np.float16).reshape(4, 3)
    np.save(tmp_path / "half.npy", vectors)
    vocab = tmp_path / "words.txt"
    vocab.write_text("\na\nb\nc\n", encoding="utf-8")  # padding first, as Keras writes it

    space = load_array(tmp_path / "half.npy", vocabulary=vocab)

    assert space.vectors.dtype == np.float16
    # the padding row is left out, as Keras' projector export leaves it out
    assert space.keys == ["a", "b", "c"]
    np.testing.assert_array_equal(space.vectors, vectors[1:])
    assert space.provenance.options["padding_row"] == "left out"
    # the older name of the option still works
    assert load_array(tmp_path / "half.npy", vocab=vocab).keys == ["a", "b", "c"]


def test_npy_without_vocabulary_uses_row_numbers_and_says_so(tmp_path, caplog):
    np.save(tmp_path / "bare.npy", np.ones((3, 2), dtype=np.float32))

    with caplog.at_level(logging.WARNING, logger="embscope.sources.arrays"):
        space = load_array(tmp_path / "bare.npy")

    assert space.keys == ["0", "1", "2"]
    assert "keys are the row numbers" in caplog.text


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.ones(5, dtype=np.float32), "1-D array of 5 values"),
        (
            np.ones((2, 3, 4), dtype=np.float32),
            r"3-D; pick one 2-D slice or reshape it to \(-1, 4\)",
        ),
        (np.ones((3, 2), dtype=np.int64), "dtype int64, not floating point"),
        (np.array([[1.0, "x"]], dtype=object), "Python objects"),
        (np.ones((0, 4), dtype=np.float32), "empty"),
    ],
)
def test_npy_that_is_not_a_float_matrix_is_refused(tmp_path, array, message):
    np.save(tmp_path / "bad.npy", array, allow_pickle=True)

    with pytest.raises(MalformedFileError, match=message):
        load_array(tmp_path / "bad.npy")


def test_truncated_or_foreign_npy_is_refused(tmp_path):
    np.save(tmp_path / "cut.npy", np.ones((100, 10), dtype=np.float32))
    data = (tmp_path / "cut.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[:-100])
    with pytest.raises(MalformedFileError, match="truncated: the header promises 100 x 10"):
        load_array(tmp_path / "cut.npy")

    (tmp_path / "text.npy").write_text("king 0.1 0.2\n", encoding="utf-8")
    with pytest.raises(MalformedFileError, match=r"neither a NumPy \.npy file nor an \.npz"):
        load_array(tmp_path / "text.npy")


def test_vocabulary_that_does_not_fit_is_refused_with_its_line(tmp_path):
    np.save(tmp_path / "m.npy", np.ones((3, 2), dtype=np.float32))
    (tmp_path / "m.vocab.txt").write_text("a\nb\n", encoding="utf-8")
    with pytest.raises(MalformedFileError, match="2 tokens for a matrix of 3 rows"):
        load_array(tmp_path / "m.npy")

    (tmp_path / "m.vocab.txt").write_text("a\nb\na\n", encoding="utf-8")
    with pytest.raises(MalformedFileError, match="line 3: duplicate token 'a'"):
        load_array(tmp_path / "m.npy")


def test_write_npy_refuses_keys_with_line_breaks(tmp_path):
    space = EmbeddingSpace(np.ones((2, 2), dtype=np.float32), ["a", "b\nc"])
    with pytest.raises(InvalidParameterError, match="row 1 holds a line break"):
        write_npy(space, tmp_path / "x.npy")
    assert not (tmp_path / "x.npy").exists()


# ---- .npz -------------------------------------------------------------------------------------


def test_npz_with_a_keys_array(small_glove, tmp_path):
    np.savez(
        tmp_path / "glove.npz",
        vectors=np.asarray(small_glove.vectors),
        keys=np.array(small_glove.keys),
    )

    space = embscope.load(tmp_path / "glove.npz")

    assert space.keys == small_glove.keys
    np.testing.assert_array_equal(space.vectors, small_glove.vectors)
    assert space.provenance.options["vocabulary"] == "glove.npz: array 'keys'"


def test_npz_with_several_matrices_needs_key(tmp_path):
    np.savez_compressed(
        tmp_path / "model.npz",
        input=np.ones((4, 3), dtype=np.float32),
        output=np.zeros((4, 3), dtype=np.float32),
        words=np.array([b"a", b"b", b"c", b"d"]),
    )
    with pytest.raises(InvalidParameterError, match=r"several 2-D arrays \(input \(4, 3\) float32"):
        load_array(tmp_path / "model.npz")
    with pytest.raises(InvalidParameterError, match="key='hidden' is not an array"):
        load_array(tmp_path / "model.npz", key="hidden")

    space = load_array(tmp_path / "model.npz", key="output")

    assert space.keys == ["a", "b", "c", "d"]  # bytes decoded as UTF-8
    assert not space.vectors.any()
    assert space.provenance.options["array"] == "output"


def test_npz_problems_are_named(tmp_path):
    np.savez(tmp_path / "mismatch.npz", vectors=np.ones((3, 2)), keys=np.array(["a", "b"]))
    with pytest.raises(MalformedFileError, match="'keys' holds 2 keys for the 3 rows"):
        load_array(tmp_path / "mismatch.npz")

    np.savez(
        tmp_path / "objects.npz",
        vectors=np.ones((2, 2)),
        keys=np.array(["a", None], dtype=object),
    )
    with pytest.raises(MalformedFileError, match="'keys' holds Python objects"):
        load_array(tmp_path / "objects.npz")

    np.savez(tmp_path / "twice.npz", vectors=np.ones((3, 2)), keys=np.array(["a", "b", "a"]))
    with pytest.raises(MalformedFileError, match="holds the key 'a' twice: rows 0 and 2"):
        load_array(tmp_path / "twice.npz")

    np.savez(tmp_path / "flat.npz", values=np.ones(4))
    with pytest.raises(MalformedFileError, match=r"no 2-D array .* values \(4,\) float64"):
        load_array(tmp_path / "flat.npz")

    np.save(tmp_path / "one.npy", np.ones((2, 2), dtype=np.float32))
    with pytest.raises(InvalidParameterError, match="holding a single array"):
        load_array(tmp_path / "one.npy", key="vectors")


# ---- Parquet ----------------------------------------------------------------------------------


def test_parquet_round_trip_keeps_keys_labels_metadata_and_metric(rich_space, tmp_path):
    target = write_parquet(rich_space, tmp_path / "rich.parquet")

    schema = pq.read_schema(target)
    assert schema.field("vector").type == pa.list_(pa.float32(), 8)
    assert schema.names[:2] == ["key", "label"]
    assert "metadata.label" in schema.names  # the class column, out of the way of `label`

    space = embscope.load(target)
    assert space.keys == rich_space.keys
    assert space.labels == rich_space.labels
    assert space.metric == "dot"
    np.testing.assert_array_equal(space.vectors, rich_space.vectors)
    pd.testing.assert_frame_equal(space.metadata, rich_space.metadata)


def test_parquet_written_by_pandas_with_a_list_column(small_glove, tmp_path):
    frame = pd.DataFrame(
        {
            "rank": np.arange(len(small_glove)),
            "word": small_glove.keys,
            "embedding": [row.astype(np.float64) for row in small_glove.vectors],
        }
    )
    frame.to_parquet(tmp_path / "words.parquet")

    space = load_table(tmp_path / "words.parquet")

    assert space.keys == small_glove.keys
    np.testing.assert_array_equal(space.vectors, small_glove.vectors)
    assert space.metadata.columns.tolist() == ["rank"]
    assert space.provenance.options == {"vector": "embedding", "key_column": "word"}


def test_parquet_vector_problems_name_the_row_or_the_columns(tmp_path):
    ragged = pa.table({"key": ["a", "b", "c"], "v": [[1.0, 2.0], [1.0, 2.0], [1.0, 2.0, 3.0]]})
    pq.write_table(ragged, tmp_path / "ragged.parquet")
    with pytest.raises(
        MalformedFileError, match="row 2 of column 'v' has 3 numbers but row 0 has 2"
    ):
        load_table(tmp_path / "ragged.parquet")

    missing = pa.table({"key": ["a", "b"], "v": [[1.0, 2.0], None]})
    pq.write_table(missing, tmp_path / "missing.parquet")
    with pytest.raises(MalformedFileError, match="row 1 of column 'v' has no vector"):
        load_table(tmp_path / "missing.parquet")

    two = pa.table({"key": ["a"], "v": [[1.0, 2.0]], "w": [[3.0, 4.0]]})
    pq.write_table(two, tmp_path / "two.parquet")
    with pytest.raises(InvalidParameterError, match=r"several list columns \(v, w\)"):
        load_table(tmp_path / "two.parquet")
    assert load_table(tmp_path / "two.parquet", column="w").vectors.tolist() == [[3.0, 4.0]]
    with pytest.raises(InvalidParameterError, match=r"column='x' is not a column .* key, v, w"):
        load_table(tmp_path / "two.parquet", column="x")
    with pytest.raises(InvalidParameterError, match="key_column='word' is not a column"):
        load_table(tmp_path / "two.parquet", column="v", key_column="word")


# ---- CSV --------------------------------------------------------------------------------------


def test_csv_with_bracketed_vectors_keeps_words_that_look_like_missing_values(
    small_glove, tmp_path
):
    frame = small_glove.to_pandas()[["key", "vector"]]
    frame["vector"] = ["[" + ", ".join(f"{x:.9g}" for x in v) + "]" for v in frame["vector"]]
    frame.insert(1, "length", [len(k) for k in frame["key"]])
    frame.to_csv(tmp_path / "words.csv", index=False)

    space = embscope.load(tmp_path / "words.csv")

    assert space.keys == small_glove.keys
    assert {"null", "na", "nan", "n/a"} <= set(space.keys)
    np.testing.assert_array_equal(space.vectors, small_glove.vectors)
    assert space.metadata["length"].tolist() == [len(k) for k in small_glove.keys]


def test_csv_with_space_separated_vectors_and_numeric_ids(tmp_path):
    (tmp_path / "docs.csv").write_text(
        "id,title,embedding\n007,first,0.5 -1 2\n8,second,1e-3 0 0\n", encoding="utf-8"
    )

    space = load_table(tmp_path / "docs.csv")

    assert space.keys == ["007", "8"]
    assert space.vectors.tolist() == [[0.5, -1.0, 2.0], [np.float32(1e-3), 0.0, 0.0]]
    assert space.metadata["title"].tolist() == ["first", "second"]


def test_csv_wide_columns(tmp_path):
    (tmp_path / "wide.csv").write_text(
        "token,count,dim_0,dim_1,dim_2\nup,4,0.1,0.2,0.3\ndown,2,-0.1,-0.2,-0.3\n",
        encoding="utf-8",
    )

    space = load_table(tmp_path / "wide.csv")

    assert space.keys == ["up", "down"]
    np.testing.assert_array_equal(
        space.vectors, np.array([[0.1, 0.2, 0.3], [-0.1, -0.2, -0.3]], dtype=np.float32)
    )
    assert space.metadata.columns.tolist() == ["count"]
    assert space.provenance.options["vector"] == "dim_0..dim_2"


def test_csv_problems_name_the_row(tmp_path):
    (tmp_path / "ragged.csv").write_text(
        'word,vector\na,"[1, 2]"\nb,"[1, 2, 3]"\n', encoding="utf-8"
    )
    with pytest.raises(MalformedFileError, match="row 1 of column 'vector' has 3 numbers"):
        load_table(tmp_path / "ragged.csv")

    (tmp_path / "dupes.csv").write_text(
        'word,vector\na,"1 2"\nb,"3 4"\na,"5 6"\n', encoding="utf-8"
    )
    with pytest.raises(
        MalformedFileError, match="duplicate key 'a' in column 'word': rows 0 and 2"
    ):
        load_table(tmp_path / "dupes.csv")

    (tmp_path / "none.csv").write_text("word,score\na,1\n", encoding="utf-8")
    with pytest.raises(MalformedFileError, match=r"no vector column.* columns: word, score"):
        load_table(tmp_path / "none.csv")

    (tmp_path / "latin1.csv").write_bytes(b'word,vector\nna\xefve,"1 2"\n')
    with pytest.raises(MalformedFileError, match="line 2: not UTF-8"):
        load_table(tmp_path / "latin1.csv")

    (tmp_path / "word.csv").write_text('word,vector\na,"1 2"\nb,"1 x"\n', encoding="utf-8")
    with pytest.raises(MalformedFileError, match="row 1 of column 'vector': 'x' is not a number"):
        load_table(tmp_path / "word.csv", column="vector")


# ---- the embscope marker of a Parquet file ---------------------------------------------------


def marked_parquet(path, marker: bytes, *, dim: int = 4) -> None:
    """A three-row table with the given bytes as its ``embscope`` schema metadata."""
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "key": ["0", "1", "2"],
            "label": ["a good film", "a bad film", "stock markets fell"],
            "vector": pa.FixedSizeListArray.from_arrays(
                pa.array(rng.standard_normal(3 * dim).astype(np.float32)), dim
            ),
        }
    )
    pq.write_table(table.replace_schema_metadata({b"embscope": marker}), path)


def documents_marker(model: dict) -> bytes:
    return json.dumps(
        {
            "key": "key",
            "label": "label",
            "vector": "vector",
            "metric": "cosine",
            "documents": {"model": model, "text_column": "text", "label_column": None},
        }
    ).encode()


@pytest.mark.parametrize(
    ("marker", "problem"),
    [
        (b"{not json", "is not valid JSON"),
        (b"\xff\xfe", "is not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "is JSON nested too deeply"),
        (b'["key"]', "is not a JSON object"),
        (b'{"key": 3}', "field 'key' must be str, not int"),
        (b'{"loader": "pickle"}', "has an unknown field 'loader'"),
        (b'{"metric": "manhattan"}', "names the metric 'manhattan'"),
        (b'{"documents": {"model": "minilm"}}', "field 'model' must be dict, not str"),
        (b'{"documents": {"model": {"name": "minilm"}}}', "'documents.model' lacks location"),
        (
            b'{"documents": {"model": {"name": "m", "location": "m", "trust_remote_code": true}}}',
            "has an unknown field 'trust_remote_code'",
        ),
    ],
)
def test_a_malformed_marker_is_one_clean_error(tmp_path, marker, problem):
    path = tmp_path / "marked.parquet"
    marked_parquet(path, marker)

    with pytest.raises(MalformedFileError) as caught:
        embscope.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: its 'embscope' schema metadata")
    assert problem in message


def test_a_model_the_file_names_is_not_loaded_until_the_user_confirms_it(tmp_path):
    # a crafted file that names a local directory as "its" model
    elsewhere = tmp_path / "some-model"
    elsewhere.mkdir()
    path = tmp_path / "docs.parquet"
    marked_parquet(path, documents_marker({"name": "acme/encoder", "location": str(elsewhere)}))

    space = embscope.load(path)
    assert space.neighbors("1", top_k=2)["key"].tolist()  # its rows answer as ever
    with pytest.raises(embscope.SourceError) as caught:
        space.neighbors("a wonderful film", top_k=2)
    message = str(caught.value)
    assert "docs.parquet says its vectors were made by the model 'acme/encoder'" in message
    assert f"(at {str(elsewhere)!r})" in message
    assert "pass model='acme/encoder' (CLI: --model 'acme/encoder')" in message
    assert "query_model" not in space.provenance.options


def test_a_bundled_model_is_used_and_a_confirmed_one_replaces_the_named_one(tmp_path, caplog):
    # the file names the bundled model but a location of its own: the bundled copy is used
    named_bundled = tmp_path / "bundled.parquet"
    marked_parquet(
        named_bundled,
        documents_marker({"name": "minilm", "location": str(tmp_path / "not-minilm")}),
        dim=384,
    )
    space = embscope.load(named_bundled)
    assert space.provenance.options["query_model"] == "minilm"
    assert len(space.neighbors("a wonderful film", top_k=2)) == 2

    # the user confirms a model: it encodes the queries, and the log says the file named another
    named_other = tmp_path / "other.parquet"
    marked_parquet(
        named_other, documents_marker({"name": "acme/encoder", "location": "acme/encoder"}), dim=384
    )
    with caplog.at_level(logging.WARNING, logger="embscope.sources.arrays"):
        confirmed = embscope.load(named_other, model="minilm")
    assert "says its vectors were made by 'acme/encoder'" in caplog.text
    assert confirmed.provenance.options["query_model"] == "minilm"
    assert len(confirmed.neighbors("a wonderful film", top_k=2)) == 2
