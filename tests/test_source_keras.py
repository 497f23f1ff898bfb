"""Keras files: real Keras 3 models (torch backend) saved as .keras, .h5 and .weights.h5."""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported; there is no TensorFlow here

import json
import logging
import shutil
import sys
import warnings
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import embscope
from embscope.cli import main
from embscope.errors import InvalidParameterError, MalformedFileError, MissingDependencyError
from embscope.sources.keras import embedding_layers, load_keras
from embscope.train.vectorizer import TextVectorizer

keras = pytest.importorskip("keras")

VOCAB_SIZE = 1000
SEQUENCE_LENGTH = 40
EMBEDDING_DIM = 16


def text_vectorization_vocabulary(sentences: list[str], max_tokens: int) -> list[str]:
    """What ``TextVectorization(max_tokens=...).adapt(sentences).get_vocabulary()`` returns
    (Keras 3's TextVectorization needs TensorFlow, which this project does not install)."""
    return list(TextVectorizer.fit(sentences, max_tokens=max_tokens).vocabulary)


def vectorize(sentences: list[str], vocabulary: list[str]) -> np.ndarray:
    return TextVectorizer(tuple(vocabulary), SEQUENCE_LENGTH).transform(sentences).astype("int32")


def save_quietly(save, path: Path) -> None:
    # Keras' HDF5 writer trips numpy deprecation warnings on torch tensors; they are not ours
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        save(str(path))


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory, shared_data):
    """The word-embeddings tutorial's model, trained briefly on SST sentences, saved 3 ways."""
    lines = (shared_data / "sst" / "stsa.binary.train").read_text(encoding="utf-8").splitlines()
    labels = np.array([[float(line[0])] for line in lines[:400]], dtype="float32")
    sentences = [line[2:] for line in lines[:400]]
    vocabulary = text_vectorization_vocabulary(sentences, VOCAB_SIZE)
    assert len(vocabulary) == VOCAB_SIZE

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(SEQUENCE_LENGTH,), dtype="int32"),
            keras.layers.Embedding(VOCAB_SIZE, EMBEDDING_DIM, name="embedding"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(vectorize(sentences, vocabulary), labels, epochs=2, batch_size=64, verbose=0)

    folder = tmp_path_factory.mktemp("sentiment")
    model.save(str(folder / "model.keras"))
    save_quietly(model.save, folder / "model.h5")
    save_quietly(model.save_weights, folder / "model.weights.h5")
    # as the tutorial does: one token of get_vocabulary() per line
    with (folder / "vocab.txt").open("w", encoding="utf-8") as handle:
        for token in vocabulary:
            handle.write(token + "\n")
    weights = model.get_layer("embedding").get_weights()[0]
    return {"dir": folder, "weights": weights, "vocabulary": vocabulary}


@pytest.fixture(scope="module")
def two_embeddings(tmp_path_factory):
    """A functional model with word and tag embeddings, and a model nesting a Sequential."""
    keras.utils.set_random_seed(1)
    words = keras.Input(shape=(5,), dtype="int32", name="words")
    tags = keras.Input(shape=(3,), dtype="int32", name="tags")
    word_vectors = keras.layers.Embedding(30, 6, name="word_embedding")(words)
    tag_vectors = keras.layers.Embedding(7, 2, name="tag_embedding")(tags)
    pooled = keras.layers.Concatenate()(
        [
            keras.layers.GlobalAveragePooling1D()(word_vectors),
            keras.layers.GlobalAveragePooling1D()(tag_vectors),
        ]
    )
    functional = keras.Model([words, tags], keras.layers.Dense(1, name="score")(pooled))

    encoder = keras.Sequential(
        [
            keras.Input(shape=(8,), dtype="int32"),
            keras.layers.Embedding(20, 4, name="inner_embedding"),
            keras.layers.GlobalAveragePooling1D(),
        ],
        name="encoder",
    )
    tokens = keras.Input(shape=(8,), dtype="int32")
    nested = keras.Model(tokens, keras.layers.Dense(1)(encoder(tokens)))

    folder = tmp_path_factory.mktemp("functional")
    functional.save(str(folder / "two.keras"))
    save_quietly(functional.save, folder / "two.h5")
    nested.save(str(folder / "nested.keras"))
    save_quietly(nested.save, folder / "nested.h5")
    return {
        "dir": folder,
        "word_embedding": functional.get_layer("word_embedding").get_weights()[0],
        "tag_embedding": functional.get_layer("tag_embedding").get_weights()[0],
        "inner_embedding": encoder.get_layer("inner_embedding").get_weights()[0],
    }


@pytest.mark.parametrize("filename", ["model.keras", "model.h5", "model.weights.h5"])
def test_reads_the_tutorial_model_with_its_vocabulary(sentiment, filename):
    space = load_keras(sentiment["dir"] / filename)

    # row 0, the padding, is left out as the tutorial's projector export leaves it out
    np.testing.assert_array_equal(space.vectors, sentiment["weights"][1:])
    assert space.summary()["memory_mapped"]  # read in place, even inside the .keras zip
    assert space.keys[0] == "[UNK]"
    assert space.keys == sentiment["vocabulary"][1:]
    assert space.metadata["token_id"].tolist() == list(range(1, VOCAB_SIZE))
    assert space.provenance.options["padding_row"] == "left out"
    assert space.provenance.options["vocabulary"] == str(sentiment["dir"] / "vocab.txt")
    assert space.neighbors("film", top_k=3)["key"].tolist()[0] in space


def test_load_dispatches_keras_files_and_takes_the_options(sentiment, tmp_path):
    elsewhere = tmp_path / "model.keras"
    shutil.copy(sentiment["dir"] / "model.keras", elsewhere)

    space = embscope.load(elsewhere, layer="embedding", vocabulary=sentiment["dir"] / "vocab.txt")

    assert space.provenance.kind == "keras"
    assert space.row("the") == sentiment["vocabulary"].index("the") - 1  # padding left out
    # vocab= is the older name of the option, kept for existing callers
    older = embscope.load(elsewhere, vocab=sentiment["dir"] / "vocab.txt")
    assert older.keys == space.keys


def test_several_embedding_layers_need_a_layer_name(two_embeddings):
    for filename in ("two.keras", "two.h5"):
        with pytest.raises(InvalidParameterError) as caught:
            load_keras(two_embeddings["dir"] / filename)
        message = str(caught.value)
        assert "'word_embedding' (30 x 6)" in message
        assert "'tag_embedding' (7 x 2)" in message
        assert "layer=" in message


@pytest.mark.parametrize("filename", ["two.keras", "two.h5"])
@pytest.mark.parametrize("layer", ["word_embedding", "tag_embedding"])
def test_the_named_layer_is_read(two_embeddings, filename, layer):
    space = load_keras(two_embeddings["dir"] / filename, layer=layer)

    np.testing.assert_array_equal(space.vectors, two_embeddings[layer])
    assert space.keys == [str(i) for i in range(len(two_embeddings[layer]))]
    assert space.provenance.options["vocabulary"] is None


def test_a_layer_that_is_not_an_embedding_or_absent_is_refused(two_embeddings):
    with pytest.raises(InvalidParameterError, match=r"'score' of two\.keras is a Dense layer"):
        load_keras(two_embeddings["dir"] / "two.keras", layer="score")
    with pytest.raises(InvalidParameterError, match="no Embedding layer named 'words_embedding'"):
        load_keras(two_embeddings["dir"] / "two.keras", layer="words_embedding")


@pytest.mark.parametrize("filename", ["nested.keras", "nested.h5"])
def test_an_embedding_inside_a_nested_model_is_found(two_embeddings, filename):
    space = load_keras(two_embeddings["dir"] / filename)

    np.testing.assert_array_equal(space.vectors, two_embeddings["inner_embedding"])
    assert space.provenance.options["layer"] == "inner_embedding"


def rewrite_keras_archive(source: Path, target: Path, *, compression: int, edit=None) -> None:
    """Copy a .keras archive, optionally editing its weights file with h5py on the way."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    if edit is not None:
        weights = target.with_suffix(".h5")
        weights.write_bytes(members["model.weights.h5"])
        with h5py.File(weights, "r+") as root:
            edit(root)
        members["model.weights.h5"] = weights.read_bytes()
    with zipfile.ZipFile(target, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_files_from_keras_versions_without_layer_names_use_the_config_path(
    two_embeddings, tmp_path
):
    def drop_names(root):
        def visit(name, item):
            if isinstance(item, h5py.Group) and "name" in item.attrs:
                del item.attrs["name"]

        root.visititems(visit)

    for model in ("two", "nested"):
        target = tmp_path / f"{model}.keras"
        rewrite_keras_archive(
            two_embeddings["dir"] / f"{model}.keras",
            target,
            compression=zipfile.ZIP_STORED,
            edit=drop_names,
        )
        layer = "tag_embedding" if model == "two" else "inner_embedding"
        space = load_keras(target, layer=layer)
        np.testing.assert_array_equal(space.vectors, two_embeddings[layer])


def test_a_compressed_keras_archive_is_read_into_memory(sentiment, tmp_path):
    target = tmp_path / "model.keras"
    rewrite_keras_archive(
        sentiment["dir"] / "model.keras", target, compression=zipfile.ZIP_DEFLATED
    )

    space = load_keras(target, vocabulary=sentiment["dir"] / "vocab.txt")

    assert not space.summary()["memory_mapped"]
    np.testing.assert_array_equal(space.vectors, sentiment["weights"][1:])


def test_a_vocabulary_without_padding_and_unk_is_refused_with_both_sizes(sentiment, tmp_path):
    short = tmp_path / "vocab.txt"
    short.write_text("\n".join(sentiment["vocabulary"][2:]) + "\n", encoding="utf-8")

    with pytest.raises(MalformedFileError) as caught:
        load_keras(sentiment["dir"] / "model.keras", vocab=short)
    message = str(caught.value)
    assert "998 tokens for the 1,000 rows of layer 'embedding'" in message
    assert "add them back as its first two lines" in message
    assert "extra_rows='drop'" in message


def test_extra_rows_drop_keeps_the_rows_the_vocabulary_names(sentiment, tmp_path, caplog):
    # TextVectorization found fewer tokens than max_tokens: the last rows are never looked up
    partial = tmp_path / "vocab.txt"
    partial.write_text("\n".join(sentiment["vocabulary"][:600]) + "\n", encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="embscope.sources.keras"):
        space = load_keras(sentiment["dir"] / "model.keras", vocabulary=partial, extra_rows="drop")

    assert len(space) == 599  # rows 1..599: the padding row is left out too
    np.testing.assert_array_equal(space.vectors, sentiment["weights"][1:600])
    assert space.metadata["token_id"].tolist() == list(range(1, 600))
    # a loud note: how many rows went, and from where
    assert "names 600 of the 1,000 rows" in caplog.text
    assert "left out the 400 rows from row 600 on" in caplog.text
    with pytest.raises(InvalidParameterError, match="extra_rows must be"):
        load_keras(sentiment["dir"] / "model.keras", vocab=partial, extra_rows="keep")


def test_a_longer_vocabulary_is_refused(sentiment, tmp_path):
    long = tmp_path / "vocab.txt"
    long.write_text("\n".join([*sentiment["vocabulary"], "zzz"]) + "\n", encoding="utf-8")

    with pytest.raises(MalformedFileError, match="1,001 tokens for the 1,000 rows"):
        load_keras(sentiment["dir"] / "model.keras", vocab=long)


def test_without_a_vocabulary_the_keys_are_token_ids_and_the_log_says_so(
    sentiment, tmp_path, caplog
):
    alone = tmp_path / "model.h5"
    shutil.copy(sentiment["dir"] / "model.h5", alone)

    with caplog.at_level(logging.WARNING, logger="embscope.sources.keras"):
        space = load_keras(alone)

    assert space.keys[:3] == ["0", "1", "2"]
    assert "keys are the token ids" in caplog.text


def test_config_walk_lists_embedding_layers_with_their_store_paths(two_embeddings):
    with zipfile.ZipFile(two_embeddings["dir"] / "nested.keras") as archive:
        config = json.loads(archive.read("config.json"))

    (layer,) = embedding_layers(config)
    assert (layer.name, layer.input_dim, layer.output_dim) == ("inner_embedding", 20, 4)
    assert layer.store_path == "layers/sequential/layers/embedding/vars"


def test_files_that_are_not_keras_models_are_refused(tmp_path):
    text = tmp_path / "model.h5"
    text.write_text("not hdf5", encoding="utf-8")
    with pytest.raises(MalformedFileError, match="not a Keras file"):
        load_keras(text)

    archive = tmp_path / "model.keras"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("config.json", "{}")
    with pytest.raises(MalformedFileError, match=r"no model\.weights\.h5 in the archive"):
        load_keras(archive)

    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as root:
        root["numbers"] = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(embscope.SourceError, match="no Embedding layer"):
        load_keras(plain)


def test_missing_h5py_names_the_extra(sentiment, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # what an absent package looks like

    with pytest.raises(MissingDependencyError, match=r"pip install 'embscope\[keras\]'"):
        load_keras(sentiment["dir"] / "model.keras")


def write_keras2_h5(path: Path, weights: np.ndarray, *, whole_model: bool) -> None:
    """The layout tf.keras 2.x writes (``model.save("m.h5")`` / ``save_weights("m.h5")``):
    byte-string attributes and ``:0``-suffixed weight names. TensorFlow is not installed here,
    so the file is written with h5py, field for field."""
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4]}},
                {
                    "class_name": "Embedding",
                    "config": {"name": "embedding", "input_dim": 6, "output_dim": 3},
                },
                {"class_name": "GlobalAveragePooling1D", "config": {"name": "pooling"}},
            ],
        },
    }
    with h5py.File(path, "w") as root:
        root.attrs["keras_version"] = b"2.15.0"
        root.attrs["backend"] = b"tensorflow"
        tree = root
        if whole_model:
            root.attrs["model_config"] = json.dumps(config).encode()
            tree = root.create_group("model_weights")
        tree.attrs["layer_names"] = [b"embedding", b"pooling"]
        group = tree.create_group("embedding")
        group.attrs["weight_names"] = [b"embedding/embeddings:0"]
        group["embedding/embeddings:0"] = weights
        tree.create_group("pooling").attrs["weight_names"] = np.array([], dtype="S1")


@pytest.mark.parametrize("whole_model", [True, False])
def test_keras2_hdf5_layout(tmp_path, whole_model):
    weights = np.arange(18, dtype=np.float32).reshape(6, 3)
    write_keras2_h5(tmp_path / "old.h5", weights, whole_model=whole_model)
    (tmp_path / "vocab.txt").write_text("\n[UNK]\nthe\na\nfilm\nbad\n", encoding="utf-8")

    space = load_keras(tmp_path / "old.h5")

    np.testing.assert_array_equal(space.vectors, weights[1:])
    assert space.keys == ["[UNK]", "the", "a", "film", "bad"]
    assert space.provenance.options["layer"] == "embedding"


# ---- the word-embeddings tutorial's own files ---------------------------------------------------

TUTORIAL_VOCABULARY = 10_000


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory, shared_data):
    """What TensorFlow's word-embeddings notebook leaves on disk: ``embedding-model-16.keras``
    (``Embedding(10000, 16, name="embedding")``) saved by ``model.save``, and
    ``embedding-vocabulary.txt``, one token of ``get_vocabulary()`` per line (padding first)."""
    lines = (shared_data / "sst" / "stsa.binary.train").read_text(encoding="utf-8").splitlines()
    vocabulary = text_vectorization_vocabulary([line[2:] for line in lines], TUTORIAL_VOCABULARY)
    assert len(vocabulary) == TUTORIAL_VOCABULARY and vocabulary[:2] == ["", "[UNK]"]

    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input(shape=(100,), dtype="int32"),
            keras.layers.Embedding(TUTORIAL_VOCABULARY, 16, name="embedding"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    folder = tmp_path_factory.mktemp("tutorial")
    model.save(str(folder / "embedding-model-16.keras"))
    with (folder / "embedding-vocabulary.txt").open("w", encoding="utf-8") as handle:
        for token in vocabulary:
            handle.write(token + "\n")
    weights = model.get_layer("embedding").get_weights()[0]
    return {"dir": folder, "weights": weights, "vocabulary": vocabulary}


def test_the_tutorial_files_load_by_the_model_path_alone(tutorial, caplog):
    with caplog.at_level(logging.INFO, logger="embscope.sources"):
        space = embscope.load(tutorial["dir"] / "embedding-model-16.keras")

    # the padding row is left out, as the notebook's vectors.tsv / metadata.tsv leave it out
    assert len(space) == TUTORIAL_VOCABULARY - 1
    assert space.keys == tutorial["vocabulary"][1:]
    np.testing.assert_array_equal(space.vectors, tutorial["weights"][1:])
    assert space.provenance.options["vocabulary"] == str(
        tutorial["dir"] / "embedding-vocabulary.txt"
    )
    assert "row 0 is left out" in caplog.text and "9,999 rows remain" in caplog.text
    hits = space.neighbors("horrible", top_k=5)
    assert len(hits) == 5 and "horrible" not in hits["key"].tolist()


def test_the_tutorial_question_on_the_command_line(tutorial):
    model = tutorial["dir"] / "embedding-model-16.keras"

    result = CliRunner().invoke(main, ["neighbors", "horrible", "-s", str(model), "-k", "3"])

    assert result.exit_code == 0, result.output
    assert "not in the vocabulary" not in result.output


def test_several_vocabulary_files_beside_the_model_need_vocabulary(tutorial, tmp_path):
    model = tmp_path / "embedding-model-16.keras"
    shutil.copy(tutorial["dir"] / "embedding-model-16.keras", model)
    shutil.copy(tutorial["dir"] / "embedding-vocabulary.txt", tmp_path)
    (tmp_path / "vocab.txt").write_text("a\nb\n", encoding="utf-8")

    with pytest.raises(embscope.SourceError) as caught:
        embscope.load(model)
    message = str(caught.value)
    assert "several vocabulary files beside it (embedding-vocabulary.txt, vocab.txt)" in message
    assert "pass vocabulary=" in message

    space = embscope.load(model, vocabulary=tmp_path / "embedding-vocabulary.txt")
    assert len(space) == TUTORIAL_VOCABULARY - 1


def test_vocab_and_vocabulary_together_must_agree(tutorial):
    model = tutorial["dir"] / "embedding-model-16.keras"
    vocabulary = tutorial["dir"] / "embedding-vocabulary.txt"

    with pytest.raises(InvalidParameterError, match="vocab= is the older name of vocabulary="):
        load_keras(model, vocabulary=vocabulary, vocab=tutorial["dir"] / "other.txt")
    with pytest.raises(embscope.SourceError, match="no such vocabulary file"):
        load_keras(model, vocabulary=tutorial["dir"] / "missing.txt")
