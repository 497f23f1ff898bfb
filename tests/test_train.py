"""Training the notebook's sentiment model on the real sets, and exploring what it learned."""

from __future__ import annotations

import json
import logging
import re

import numpy as np
import pandas as pd
import pytest

import embscope
from embscope.errors import InvalidParameterError, MalformedFileError
from embscope.train import TextVectorizer
from embscope.train.vectorizer import tokenize

pytest.importorskip("torch")

KOTZIAS = ("yelp", "amazon_cells", "imdb")
NEGATIVE_REVIEW_WORDS = {
    "terrible", "worst", "awful", "bad", "boring", "waste", "dull", "mess", "stupid", "poorly",
    "pointless", "disappointing", "lame", "tedious", "unfunny", "mediocre", "flat", "badly",
    "pathetic", "ridiculous", "horrible", "wasted", "laughable", "annoying", "poor", "worse",
}  # fmt: skip


def kotzias(shared_data, name):
    return shared_data / "sentiment_labelled_sentences" / f"{name}_labelled.txt"


@pytest.fixture(scope="module")
def recipe(shared_data):
    """The documented recipe: SST-2 train, rt-polarity and the IMDB sample, with SST-2 dev/test
    and the Kotzias sentences held out."""
    sst = shared_data / "sst"
    imdb = embscope.read_texts(
        shared_data / "imdb" / "imdb_test_sample_5000.csv", text="text", label="label"
    )
    return embscope.train.sentiment(
        [sst / "stsa.binary.train", shared_data / "rt_polarity", imdb],
        label_names=["neg", "pos"],
        held_out=[
            sst / "stsa.binary.dev",
            sst / "stsa.binary.test",
            *(kotzias(shared_data, n) for n in KOTZIAS),
        ],
        random_state=0,
        progress=False,
    )


@pytest.fixture(scope="module")
def small(shared_data):
    """A quick run: SST-2 train alone, a few epochs."""
    return embscope.train.sentiment(
        shared_data / "sst" / "stsa.binary.train",
        vocab_size=4000,
        epochs=4,
        random_state=1,
        progress=False,
    )


def test_recipe_beats_the_accuracy_bars(recipe, shared_data):
    sst_test = recipe.score(shared_data / "sst" / "stsa.binary.test", label_names=["neg", "pos"])
    assert sst_test.rows == 1821 and sst_test.accuracy >= 0.78
    assert int(np.trace(sst_test.confusion.to_numpy())) == round(sst_test.accuracy * 1821)
    cross = [recipe.score(kotzias(shared_data, n), label_names=["neg", "pos"]) for n in KOTZIAS]
    assert sum(s.accuracy * s.rows for s in cross) / sum(s.rows for s in cross) >= 0.70


def test_recipe_removed_the_held_out_texts_and_reports_it(recipe):
    removed = {
        entry["source"].rsplit("/", 1)[-1]: entry["removed_as_held_out"]
        for entry in recipe.data["sources"]
    }
    assert 2300 <= removed["rt_polarity"] <= 2700
    # a few IMDB reviews hold a sentence of the Kotzias IMDB set
    assert removed["imdb_test_sample_5000.csv"] > 0
    kept = recipe.data["rows"]
    assert kept == sum(e["rows"] - e["removed_as_held_out"] for e in recipe.data["sources"])
    assert recipe.data["training_rows"] + recipe.data["validation_rows"] == kept
    assert 0.09 <= recipe.data["validation_rows"] / kept <= 0.11
    # most SST-2 training sentences sit inside an rt-polarity snippet: kept together
    assert recipe.data["groups_of_overlapping_texts"] > 4000


def test_recipe_space_has_the_sentiment_geometry(recipe, shared_data):
    space = recipe.space
    assert "" not in space.keys and len(space) == len(recipe.vectorizer) - 1
    assert space.similarity("wonderful", "horrible") < -0.5
    assert space.similarity("good", "bad") < -0.2
    near = recipe.space.neighbors("horrible", top_k=10, restrict_vocab=2000)
    assert len(set(near["key"]) & NEGATIVE_REVIEW_WORDS) >= 3
    assert (near["token_id"] <= 2001).all()
    # "mostly positive" judged by held-out data the model never saw: each opposite word should
    # occur more often in positive than in negative SST-2 dev/test sentences
    held = pd.concat(
        embscope.read_texts(shared_data / "sst" / f"stsa.binary.{part}").frame
        for part in ("dev", "test")
    )
    opposite = recipe.space.opposites("horrible", top_k=10, restrict_vocab=2000)["key"]
    positive_share = []
    for word in opposite:
        labels = [
            lab
            for text, lab in zip(held["text"], held["label"], strict=True)
            if word in tokenize(text)
        ]
        positive_share.append(np.mean(labels) if labels else 0.5)
    assert sum(share > 0.5 for share in positive_share) >= 6, dict(
        zip(opposite, positive_share, strict=True)
    )


def test_history_and_best_weights(small, shared_data):
    history = small.history
    assert list(history.columns) == [
        "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds", "best",
    ]  # fmt: skip
    assert history["epoch"].tolist() == list(range(1, len(history) + 1))
    assert small.best_epoch == history.loc[history["val_loss"].idxmin(), "epoch"]
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    assert small.config["pooling"] == embscope.train.DEFAULT_POOLING
    assert small.config["vocab_size"] == 4000 == len(small.vectorizer)


def test_seeded_runs_repeat_and_other_seeds_differ(shared_data):
    def train(seed):
        return embscope.train.sentiment(
            shared_data / "sst" / "stsa.binary.dev",
            vocab_size=2000,
            epochs=2,
            random_state=seed,
            progress=False,
        )

    first, again, other = train(3), train(3), train(4)
    assert np.array_equal(first.embedding, again.embedding)
    pd.testing.assert_frame_equal(
        first.history.drop(columns="seconds"), again.history.drop(columns="seconds")
    )
    assert not np.allclose(first.embedding, other.embedding)


def test_masked_pooling_trains_too(shared_data):
    run = embscope.train.sentiment(
        shared_data / "sst" / "stsa.binary.train",
        vocab_size=4000,
        epochs=3,
        pooling="masked",
        progress=False,
    )
    assert run.config["pooling"] == "masked"
    assert run.history["val_accuracy"].max() > 0.7


def test_five_classes_train_a_softmax(shared_data):
    sst = shared_data / "sst"
    run = embscope.train.sentiment(sst / "stsa.fine.train", epochs=6, progress=False)
    assert run.classes == ("0", "1", "2", "3", "4")
    assert run.model.output.out_features == 5
    predicted = run.predict(["a masterpiece", "an utterly awful mess"])
    assert [c for c in predicted.columns if c.startswith("p(")] == [f"p({i})" for i in range(5)]
    assert np.allclose(predicted.filter(like="p(").sum(axis=1), 1, atol=1e-5)
    assert (
        predicted["prediction"].astype(int).tolist()[0]
        > predicted["prediction"].astype(int).tolist()[1]
    )
    assert run.score(sst / "stsa.fine.test").accuracy > 0.33  # chance is 0.2


def test_predict_reads_sentiment(small):
    predicted = small.predict(["a wonderful, moving film", "a dull and tedious mess"])
    assert predicted["prediction"].tolist() == ["1", "0"]
    assert (predicted["probability"] > 0.5).all()
    assert np.allclose(predicted["p(0)"] + predicted["p(1)"], 1)
    single = small.predict("a wonderful, moving film")
    assert len(single) == 1 and single["prediction"][0] == "1"


def test_save_load_round_trip(small, tmp_path):
    out = small.save(tmp_path / "sentiment-16")
    assert sorted(p.name for p in out.iterdir()) == [
        "embscope-train.json", "model.safetensors", "vocabulary.txt",
    ]  # fmt: skip
    assert all(p.stat().st_mode & 0o044 for p in out.iterdir())  # readable like any user file
    # the explorable space, without torch's help
    space = embscope.load(out)
    assert space.keys == small.space.keys
    assert np.array_equal(space.vectors, small.space.vectors)
    assert space.metadata["count"].iloc[1] >= space.metadata["count"].iloc[2]
    assert space.provenance.kind == "trained"
    # the run, to predict with
    loaded = embscope.train.load(out)
    texts = ["a wonderful, moving film", "a dull and tedious mess"]
    pd.testing.assert_frame_equal(loaded.predict(texts), small.predict(texts))
    assert loaded.best_epoch == small.best_epoch and loaded.classes == small.classes
    # the vocabulary is a Keras get_vocabulary() file
    vocabulary = TextVectorizer.load(out / "vocabulary.txt")
    assert vocabulary.vocabulary[:2] == ("", "[UNK]") and len(vocabulary) == 4000
    config = json.loads((out / "embscope-train.json").read_text())
    assert config["dim"] == 16 and config["standardization"] == "normalized"
    # saving again replaces the run whole; a directory of other files is refused
    small.save(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sentiment-16"]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(InvalidParameterError, match="holds other files"):
        small.save(tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_checkpoint_holds_the_best_epoch(shared_data, tmp_path):
    checkpoint = tmp_path / "best"
    run = embscope.train.sentiment(
        shared_data / "sst" / "stsa.binary.dev",
        vocab_size=2000,
        epochs=12,
        patience=2,
        checkpoint=checkpoint,
        progress=False,
    )
    saved = embscope.train.load(checkpoint)
    # written after the best epoch, so it knows no later epochs, and holds the best weights
    assert saved.history["epoch"].max() == run.best_epoch
    assert np.array_equal(saved.embedding, run.embedding)


def test_restrict_vocab_searches_the_most_frequent_rows(small):
    space = small.space
    restricted = space.neighbors("bad", top_k=20, restrict_vocab=300)
    assert (restricted["token_id"] <= 300).all()
    counts = space.metadata["count"].to_numpy()
    assert counts[1] >= counts[100] >= counts[1000]  # rows are in frequency order


@pytest.mark.parametrize(
    ("rows", "options", "message"),
    [
        (["good\t1", "fine\t1"] * 10, {}, "one class (1)"),
        (["good\t1", "bad\t2"] * 10, {}, "binary labels must be 0 and 1; got 1, 2"),
        (
            ["good\t1", "bad\t0"] * 10,
            {"dim": 0},
            "dim must be a positive integer of at most 8,192; got 0",
        ),
        (["good\t1", "bad\t0"] * 10, {"dim": 10**8}, "dim must be a positive integer of at most"),
        (["good\t1", "bad\t0"] * 10, {"sequence_length": 10**9}, "sequence_length must be"),
        (["good\t1", "bad\t0"] * 10, {"learning_rate": float("inf")}, "learning_rate must be"),
        (["good\t1", "bad\t0"] * 10, {"classes": ["0", "2"]}, "label 1 is not among classes"),
        (["good\t1", "bad\t0"] * 10, {"pooling": "max"}, "pooling must be auto, mean or masked"),
    ],
)
def test_bad_input_gets_a_clear_error(tmp_path, rows, options, message):
    data = tmp_path / "data.txt"
    data.write_text("\n".join(rows) + "\n")
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        embscope.train.sentiment(data, progress=False, **options)


def test_numbered_and_named_sources_combine_through_label_names(tmp_path):
    numbered, named = tmp_path / "numbered.txt", tmp_path / "named.txt"
    numbered.write_text("".join(f"a good film {i}\t1\na bad film {i}\t0\n" for i in range(10)))
    named.write_text("".join(f"a fine film {i}\tpos\na poor film {i}\tneg\n" for i in range(10)))
    with pytest.raises(
        InvalidParameterError, match=re.escape("labels mix numbers (0, 1) and names (neg, pos)")
    ):
        embscope.train.sentiment([numbered, named], progress=False)
    run = embscope.train.sentiment(
        [numbered, named], label_names=["neg", "pos"], epochs=1, progress=False
    )
    assert run.classes == ("neg", "pos")
    assert run.data["class_counts"] == {"neg": 20, "pos": 20}


def test_string_labels_sort_and_empty_texts_are_counted(tmp_path, caplog):
    data = tmp_path / "reviews.csv"
    lines = ["text,label"]
    for i in range(30):
        lines += [f'"a great film {i}",positive', f'"a bad film {i}",negative', '"",positive']
    data.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="embscope"):
        run = embscope.train.sentiment(data, text="text", label="label", progress=False)
    assert run.classes == ("negative", "positive")
    assert run.data["sources"][0]["empty_dropped"] == 30
    # 30 distinct numbers and 4 words: far fewer tokens than the 10,000 asked for, and said so
    assert len(run.vectorizer) == 2 + 34
    assert "not the 10,000 asked for" in caplog.text


def test_a_damaged_saved_run_is_named_not_a_traceback(small, tmp_path):
    out = small.save(tmp_path / "run")
    config = json.loads((out / "embscope-train.json").read_text())
    (out / "embscope-train.json").write_text(json.dumps({**config, "dim": 8}))
    with pytest.raises(MalformedFileError, match=re.escape("size mismatch for embedding.weight")):
        embscope.train.load(out)
    (out / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(MalformedFileError, match=re.escape("model.safetensors")):
        embscope.load(out)
