"""The dataset readers on the real sets in ../shared/data and on files written here."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from embscope import read_texts
from embscope.errors import InvalidParameterError, MalformedFileError, SourceError


@pytest.fixture(scope="module")
def ag_news(shared_data):
    return read_texts(
        shared_data / "ag_news" / "test.csv",
        columns=["class", "title", "description"],
        text="description",
        label="class",
        label_names=shared_data / "ag_news" / "classes.txt",
    )


def test_ag_news_without_a_header_and_with_label_names(ag_news):
    assert len(ag_news) == 7600 and ag_news.format == "csv"
    assert sorted(ag_news.classes) == ["Business", "Sci/Tech", "Sports", "World"]
    counts = ag_news.frame["class"].value_counts()
    assert set(counts) == {1900}
    first = ag_news.frame.iloc[0]
    # line n of classes.txt names class n: the first row is class 3, Business
    assert first["class_id"] == 3 and first["class"] == "Business"
    assert first["title"] == "Fears for T N pension after talks"
    assert ag_news.texts[0].startswith("Unions representing workers at Turner")


def test_columns_by_position(shared_data):
    dataset = read_texts(shared_data / "ag_news" / "test.csv", text=2, label=0)
    assert (dataset.text, dataset.label) == ("2", "0")
    assert set(dataset.frame["0"]) == {1, 2, 3, 4}


def test_a_csv_with_a_header(shared_data):
    dataset = read_texts(
        shared_data / "imdb" / "imdb_test_sample_5000.csv", text="text", label="label"
    )
    assert len(dataset) == 5000 and sorted(dataset.classes) == [0, 1]
    assert list(dataset.frame.columns) == ["row", "source_file", "id", "rating", "label", "text"]


def test_quoted_fields_may_hold_newlines_and_commas(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('text,label\n"first line\nsecond, line",pos\n"plain",neg\n', encoding="utf-8")
    dataset = read_texts(path, text="text", label="label")
    assert dataset.texts == ["first line\nsecond, line", "plain"]
    assert dataset.classes == ["pos", "neg"]


def test_a_header_naming_text_is_read_without_being_asked(tmp_path, shared_data):
    """Rows of short words defeat csv.Sniffer's header guess; a first row naming the default
    text column is the header anyway, so the file reads with no option at all."""
    path = tmp_path / "news.csv"
    path.write_text(
        "text,label\nStocks fell sharply,business\nThe rover landed on Mars,science\n",
        encoding="utf-8",
    )
    dataset = read_texts(path)
    assert dataset.texts == ["Stocks fell sharply", "The rover landed on Mars"]
    assert dataset.classes == ["business", "science"]
    # a file without a header says so, with the positions it can be given
    with pytest.raises(
        InvalidParameterError,
        match=r"which column holds the text\? test.csv has no header row naming its columns "
        r"\(positions 0, 1, 2\): pass text=",
    ):
        read_texts(shared_data / "ag_news" / "test.csv")


def test_sst_lines_are_label_then_text(shared_data):
    binary = read_texts(shared_data / "sst" / "stsa.binary.dev")
    assert binary.format == "label-text" and len(binary) == 872
    assert sorted(binary.classes) == [0, 1]
    assert binary.texts[0] == binary.frame["text"].iloc[0] and not binary.texts[0][0].isdigit()
    fine = read_texts(
        shared_data / "sst" / "stsa.fine.test", label_names=["--", "-", "0", "+", "++"]
    )
    assert len(fine) == 2210 and sorted(fine.classes) == ["+", "++", "-", "--", "0"]


def test_kotzias_lines_are_text_tab_label(shared_data):
    dataset = read_texts(shared_data / "sentiment_labelled_sentences" / "yelp_labelled.txt")
    assert dataset.format == "text-tab-label" and len(dataset) == 1000
    assert dataset.frame["label"].value_counts().to_dict() == {1: 500, 0: 500}
    assert dataset.texts[:2] == ["Wow... Loved this place.", "Crust is not good."]


def test_a_folder_of_label_files(shared_data):
    dataset = read_texts(shared_data / "rt_polarity")
    assert dataset.format == "directory" and len(dataset) == 10662
    assert dataset.frame["label"].value_counts().to_dict() == {"neg": 5331, "pos": 5331}


def test_a_folder_of_label_folders(tmp_path):
    for label, texts in {"pos": ["great film", "loved it"], "neg": ["awful"]}.items():
        (tmp_path / label).mkdir()
        for number, text in enumerate(texts):
            (tmp_path / label / f"{number}.txt").write_text(text, encoding="utf-8")
    dataset = read_texts(tmp_path)
    assert sorted(zip(dataset.frame["label"], dataset.texts, strict=True)) == [
        ("neg", "awful"),
        ("pos", "great film"),
        ("pos", "loved it"),
    ]


def test_plain_lines_have_no_label(shared_data):
    dataset = read_texts(shared_data / "rt_polarity" / "rt-polarity.pos")
    assert dataset.format == "lines" and dataset.label is None and len(dataset) == 5331


def test_jsonl_and_parquet(tmp_path):
    records = [
        {"body": "one", "topic": "a"},
        {"body": "two", "topic": "b"},
        {"body": "", "topic": "a"},
    ]
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    dataset = read_texts(jsonl, text="body", label="topic")
    assert dataset.texts == ["one", "two"] and dataset.empty_dropped == 1
    parquet = tmp_path / "items.parquet"
    pd.DataFrame(records).to_parquet(parquet)
    again = read_texts(parquet, text="body", label="topic")
    assert again.texts == ["one", "two"] and again.frame["row"].tolist() == [0, 1]


def test_sampling_per_label_is_seeded_and_keeps_source_order(ag_news):
    first = ag_news.sample_per_label(10, random_state=3)
    again = ag_news.sample_per_label(10, random_state=3)
    other = ag_news.sample_per_label(10, random_state=4)
    assert first.frame["row"].tolist() == again.frame["row"].tolist()
    assert first.frame["row"].tolist() != other.frame["row"].tolist()
    assert first.frame["row"].is_monotonic_increasing
    assert set(first.frame["class"].value_counts()) == {10}


def test_bad_input_is_named(tmp_path, shared_data):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "fine"}\n{"text": "oops"\n', encoding="utf-8")
    with pytest.raises(MalformedFileError, match=r"broken.jsonl, line 2: not valid JSON"):
        read_texts(broken)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("one\ntwo\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(MalformedFileError, match=r"latin.txt, line 3: byte 0xe9 is not UTF-8"):
        read_texts(latin)
    imdb = shared_data / "imdb" / "imdb_test_sample_5000.csv"
    with pytest.raises(InvalidParameterError, match=r"label column 'stars' is not in .*rating"):
        read_texts(imdb, text="text", label="stars")
    with pytest.raises(
        InvalidParameterError, match=r"text column 'review' is not in the first row"
    ):
        read_texts(imdb, text="review")
    no_name = r"label 2 of column 'label' has no name in label_names \(2 names for 0, 1\)"
    with pytest.raises(InvalidParameterError, match=no_name):
        read_texts(shared_data / "sst" / "stsa.fine.dev", label_names=["neg", "pos"])
    with pytest.raises(SourceError, match="no such file"):
        read_texts(tmp_path / "missing.csv")
    with pytest.raises(InvalidParameterError, match="sample_per_label must be a positive"):
        read_texts(shared_data / "sst" / "stsa.binary.dev").sample_per_label(0)


def test_a_larger_sample_keeps_the_smaller_one(ag_news):
    small = set(ag_news.sample_per_label(10, random_state=1).frame["row"])
    large = set(ag_news.sample_per_label(25, random_state=1).frame["row"])
    assert small < large and len(large) == 100


def test_a_few_sentences_are_not_taken_for_labelled_lines(tmp_path):
    # "the" and "stocks" repeat as first words the way labels do; three lines prove nothing
    few = tmp_path / "few.txt"
    few.write_text("the film was wonderful\nthe soup was cold\nstocks fell sharply\n")
    dataset = read_texts(few)
    assert dataset.texts == ["the film was wonderful", "the soup was cold", "stocks fell sharply"]
    assert dataset.label is None and dataset.format == "lines"
    numbered = tmp_path / "numbered.txt"
    numbered.write_text("1 the film was wonderful\n0 the soup was cold\n")
    labelled = read_texts(numbered)
    assert labelled.format == "label-text" and labelled.frame[labelled.label].tolist() == [1, 0]


def test_json_lines_nested_too_deep_are_a_malformed_line(tmp_path):
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"text": "fine"}\n{"text": "x", "y": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(MalformedFileError, match=r"deep\.jsonl, line 2: JSON nested too deeply"):
        read_texts(deep)
