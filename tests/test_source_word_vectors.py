"""Word-vector files: read and written, checked against gensim on real files."""

from __future__ import annotations

import gzip
from pathlib import Path

import gensim
import numpy as np
import pytest
from gensim.models import KeyedVectors

import embscope
from embscope.errors import InvalidParameterError, MalformedFileError, SourceError
from embscope.sources.word_vectors import has_word2vec_header, load_word_vectors, write_word2vec

GENSIM_DATA = Path(gensim.__file__).parent / "test" / "test_data"
SUBSET_ROWS = 20_000  # several MiB of text and binary: reads cross many block boundaries


@pytest.fixture(scope="module")
def glove_subset(glove: embscope.EmbeddingSpace) -> embscope.EmbeddingSpace:
    keys = glove.keys[:SUBSET_ROWS]
    return embscope.EmbeddingSpace(np.array(glove.vectors[:SUBSET_ROWS]), keys, name="glove-20k")


@pytest.fixture(scope="module")
def glove_kv(glove_subset: embscope.EmbeddingSpace) -> KeyedVectors:
    kv = KeyedVectors(glove_subset.dim)
    kv.add_vectors(glove_subset.keys, np.asarray(glove_subset.vectors))
    return kv


@pytest.fixture(scope="module")
def glove_text(tmp_path_factory: pytest.TempPathFactory, glove_kv: KeyedVectors) -> Path:
    path = tmp_path_factory.mktemp("glove") / "glove-20k.txt"
    glove_kv.save_word2vec_format(str(path), binary=False)
    return path


def assert_same(space: embscope.EmbeddingSpace, kv: KeyedVectors) -> None:
    assert space.keys == kv.index_to_key
    assert space.vectors.dtype == np.float32
    np.testing.assert_array_equal(space.vectors, kv.vectors)


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def binary_file(path: Path, rows: dict[bytes, list[float]], *, newline: bool) -> Path:
    dim = len(next(iter(rows.values())))
    body = b"".join(
        key + b" " + np.asarray(vector, "<f4").tobytes() + (b"\n" if newline else b"")
        for key, vector in rows.items()
    )
    return write_bytes(path, f"{len(rows)} {dim}\n".encode() + body)


# ---- agreement with gensim ----------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".bin", ".txt", ".bin.gz", ".txt.gz"])
def test_reads_what_gensim_writes(
    tmp_path: Path, glove_kv: KeyedVectors, glove_subset: embscope.EmbeddingSpace, suffix: str
) -> None:
    binary = suffix.startswith(".bin")
    path = tmp_path / f"vectors{suffix}"
    glove_kv.save_word2vec_format(str(path), binary=binary)

    space = load_word_vectors(path, format="word2vec" if binary else "word2vec-text")

    assert_same(space, KeyedVectors.load_word2vec_format(str(path), binary=binary))
    np.testing.assert_array_equal(space.vectors, glove_subset.vectors)


@pytest.mark.parametrize("suffix", [".bin", ".txt", ".txt.gz"])
def test_gensim_reads_what_we_write(
    tmp_path: Path, glove_subset: embscope.EmbeddingSpace, suffix: str
) -> None:
    binary = suffix == ".bin"
    path = tmp_path / f"vectors{suffix}"
    write_word2vec(glove_subset, path, binary=binary)

    assert_same(glove_subset, KeyedVectors.load_word2vec_format(str(path), binary=binary))
    assert load_word_vectors(path, format="word2vec" if binary else "word2vec-text").keys == (
        glove_subset.keys
    )


def test_text_we_write_matches_gensim_byte_for_byte(
    tmp_path: Path, glove_subset: embscope.EmbeddingSpace, glove_text: Path
) -> None:
    ours = tmp_path / "ours.txt"
    write_word2vec(glove_subset, ours, binary=False)
    assert ours.read_bytes() == glove_text.read_bytes()


def test_written_gzip_is_gzip(tmp_path: Path, glove_subset: embscope.EmbeddingSpace) -> None:
    path = tmp_path / "vectors.bin.gz"
    write_word2vec(glove_subset.subset(glove_subset.keys[:100]), path)
    assert gzip.decompress(path.read_bytes()).startswith(b"100 50\nthe ")


GENSIM_FILES = [
    ("word2vec_pre_kv_c", "word2vec-text", "strict"),
    ("high_precision.kv.txt", "word2vec-text", "strict"),
    ("EN.1-10.cbow1_wind5_hs0_neg10_size300_smpl1e-05.txt", "word2vec-text", "strict"),
    # Japanese keys cut mid-character, as the C tool does
    ("w2v_keyedvectors_load_test.modeldata", "word2vec-text", "ignore"),
    ("euclidean_vectors.bin", "word2vec", "strict"),  # no newline after each vector
    ("high_precision.kv.bin", "word2vec", "strict"),
    ("poincare_vectors.bin", "word2vec", "strict"),
    ("lee_fasttext.vec", "fasttext", "strict"),
    ("pang_lee_polarity_fasttext.vec", "fasttext", "replace"),  # a key that is byte 0x97
    ("crime-and-punishment.vec", "fasttext", "strict"),  # Cyrillic keys
    ("toy-model.vec", "fasttext", "strict"),
]


@pytest.mark.parametrize(("name", "fmt", "errors"), GENSIM_FILES)
def test_gensim_test_files(name: str, fmt: str, errors: str) -> None:
    path = GENSIM_DATA / name
    space = load_word_vectors(path, format=fmt, unicode_errors=errors)
    expected = KeyedVectors.load_word2vec_format(
        str(path), binary=fmt == "word2vec", unicode_errors=errors
    )
    assert_same(space, expected)


def with_header(path: Path, glove: Path) -> Path:
    """A copy of a GloVe file with a word2vec header, for gensim: its own no_header reading
    leaks a file handle, which the warnings-as-errors setting turns into a failure."""
    lines = glove.read_bytes().rstrip(b"\n").split(b"\n")
    dim = len(lines[0].split()) - 1
    return write_bytes(path, f"{len(lines)} {dim}\n".encode() + b"\n".join(lines) + b"\n")


def test_glove_without_header(tmp_path: Path) -> None:
    path = GENSIM_DATA / "test_glove.txt"
    assert not has_word2vec_header(path)
    space = embscope.load(path)
    assert space.provenance.kind == "glove"
    gensim_copy = with_header(tmp_path / "with-header.txt", path)
    assert_same(space, KeyedVectors.load_word2vec_format(str(gensim_copy)))


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("euclidean_vectors.bin", "word2vec"),
        ("lee_fasttext.vec", "fasttext"),
        ("word2vec_pre_kv_c", "word2vec-text"),
    ],
)
def test_dispatcher_picks_the_format(name: str, kind: str) -> None:
    space = embscope.load(GENSIM_DATA / name)
    assert space.provenance.kind == kind
    assert len(space) > 1000


def test_gzip_is_read_transparently(tmp_path: Path, glove_text: Path) -> None:
    plain = load_word_vectors(glove_text, format="word2vec-text", limit=500)
    lines = glove_text.read_bytes().split(b"\n")[1:501]
    compressed = tmp_path / "glove.txt.gz"
    compressed.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    assert not has_word2vec_header(compressed)

    space = embscope.load(compressed)

    assert space.provenance.kind == "glove"
    assert space.keys == plain.keys
    np.testing.assert_array_equal(space.vectors, plain.vectors)


# ---- text layout ----------------------------------------------------------------------------
EXPECTED_KEYS = ["ab", "cd", "ef"]
EXPECTED = np.array([[1, 2.5, -3], [4, 5e-3, 6], [7, 8, 9.25]], np.float32)


@pytest.mark.parametrize(
    "body",
    [
        b"ab 1 2.5 -3\ncd 4 5e-3 6\nef 7 8 9.25\n",
        b"ab 1 2.5 -3 \ncd 4 5e-3 6 \nef 7 8 9.25 \n",  # fastText's trailing spaces
        b"ab 1 2.5 -3\r\ncd 4 5e-3 6\r\nef 7 8 9.25\r\n",
        b"ab 1 2.5 -3\ncd 4 5e-3 6\nef 7 8 9.25",  # no final newline
        b"ab 1 2.5 -3\ncd 4 5e-3 6\nef 7 8 9.25\n\n \r\n",  # blank lines at the end
    ],
    ids=["plain", "trailing-spaces", "crlf", "no-final-newline", "blank-end"],
)
@pytest.mark.parametrize("header", [True, False], ids=["word2vec-text", "glove"])
def test_text_layouts(tmp_path: Path, body: bytes, header: bool) -> None:
    path = write_bytes(tmp_path / "v.txt", (b"3 3\n" if header else b"") + body)
    space = load_word_vectors(path, format="word2vec-text" if header else "glove")
    assert space.keys == EXPECTED_KEYS
    np.testing.assert_array_equal(space.vectors, EXPECTED)


def test_short_values_then_a_non_ascii_key_are_text(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "v.txt", "2 5\na 1 2 3 4 5\nкот 6 7 8 9 0\n".encode())
    assert has_word2vec_header(path)
    assert embscope.load(path).keys == ["a", "кот"]


def test_glove_whose_first_row_is_two_numbers(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "numbers.txt", b"3 5\n4 6\n7 8\n")
    assert not has_word2vec_header(path)
    space = embscope.load(path)
    assert space.keys == ["3", "4", "7"]
    np.testing.assert_array_equal(space.vectors, [[5], [6], [8]])


def test_glove_format_honours_a_real_header(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "v.txt", b"2 2\nx 1 2\ny 3 4\n")
    assert has_word2vec_header(path)
    assert load_word_vectors(path, format="glove").keys == ["x", "y"]


@pytest.mark.parametrize("newline", [True, False], ids=["newline", "no-newline"])
def test_binary_with_and_without_newline_after_vectors(tmp_path: Path, newline: bool) -> None:
    rows = {
        "naïve".encode(): [1.5, -2.0, 3.25, 0.0],
        b"b": [4, 5, 6, 7],
        b"\xe4\xb8\xad": [8, 9, 1, 2],
    }
    path = binary_file(tmp_path / "v.bin", rows, newline=newline)
    space = load_word_vectors(path, format="word2vec")
    assert space.keys == ["naïve", "b", "中"]
    np.testing.assert_array_equal(space.vectors, np.array(list(rows.values()), np.float32))
    assert_same(space, KeyedVectors.load_word2vec_format(str(path), binary=True))


# ---- options ------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["word2vec", "word2vec-text", "glove"])
def test_limit_reads_only_the_first_vectors(
    tmp_path: Path, glove_kv: KeyedVectors, glove_text: Path, fmt: str
) -> None:
    path = glove_text
    if fmt == "word2vec":
        path = tmp_path / "v.bin"
        glove_kv.save_word2vec_format(str(path), binary=True)
    elif fmt == "glove":
        path = write_bytes(tmp_path / "v.txt", glove_text.read_bytes().split(b"\n", 1)[1])

    space = load_word_vectors(path, format=fmt, limit=12_345)

    gensim_path = with_header(tmp_path / "h.txt", path) if fmt == "glove" else path
    expected = KeyedVectors.load_word2vec_format(
        str(gensim_path), binary=fmt == "word2vec", limit=12_345
    )
    assert_same(space, expected)
    assert space.provenance.options["limit"] == 12_345


def test_limit_does_not_read_past_what_it_needs(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "v.txt", b"5 2\na 1 2\nb 3 4\nc broken\n")
    assert load_word_vectors(path, format="word2vec-text", limit=2).keys == ["a", "b"]
    damaged = binary_file(tmp_path / "v.bin", {b"a": [1, 2], b"b": [3, 4]}, newline=True)
    damaged.write_bytes(damaged.read_bytes().replace(b"2 2\n", b"3 2\n") + b"c \x00")
    assert load_word_vectors(damaged, format="word2vec", limit=2).keys == ["a", "b"]


def test_limit_above_the_count_reads_everything(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "v.vec", b"2 2\na 1 2\nb 3 4\n")
    assert load_word_vectors(path, format="fasttext", limit=10).keys == ["a", "b"]


def test_float16(tmp_path: Path, glove_text: Path) -> None:
    space = load_word_vectors(glove_text, format="word2vec-text", dtype="float16", limit=100)
    assert space.vectors.dtype == np.float16
    big = write_bytes(tmp_path / "big.txt", b"a 1 2\nb 3 70000\n")
    with pytest.raises(SourceError, match="float16 range"):
        load_word_vectors(big, format="glove", dtype="float16")


def test_non_utf8_keys_options(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "v.txt", b"a 1 2\ncaf\xe9 3 4\n")
    with pytest.raises(MalformedFileError) as caught:
        load_word_vectors(path, format="glove")
    assert caught.value.line == 2
    assert str(path) in str(caught.value)
    assert "encoding='latin-1'" in str(caught.value)
    assert "unicode_errors='replace'" in str(caught.value)
    assert load_word_vectors(path, format="glove", encoding="latin-1").keys == ["a", "café"]
    assert load_word_vectors(path, format="glove", unicode_errors="replace").keys[1] == "caf\ufffd"


@pytest.mark.parametrize("errors", ["replace", "ignore"])
def test_binary_unicode_errors_match_gensim(tmp_path: Path, errors: str) -> None:
    rows = {b"ok": [1, 2], b"trunc\xe4\xb8": [3, 4], b"\xff": [5, 6]}  # a key cut mid-character
    path = binary_file(tmp_path / "v.bin", rows, newline=True)
    space = load_word_vectors(path, format="word2vec", unicode_errors=errors)
    assert_same(
        space, KeyedVectors.load_word2vec_format(str(path), binary=True, unicode_errors=errors)
    )


@pytest.mark.parametrize(
    ("option", "value", "rule"),
    [
        ("format", "word3vec", "format must be one of"),
        ("on_duplicate", "mean", "on_duplicate must be one of"),
        ("limit", 0, "limit must be a positive integer"),
        ("dtype", "int8", "dtype must be"),
        ("encoding", "no-such-codec", "not a known codec"),
        ("encoding", "utf-16", "single bytes"),
        ("unicode_errors", "shrug", "unicode_errors must be"),
    ],
)
def test_invalid_options(option: str, value: object, rule: str) -> None:
    options = {"format": "fasttext", option: value}
    with pytest.raises(InvalidParameterError, match=rule):
        load_word_vectors(GENSIM_DATA / "toy-model.vec", **options)


def test_provenance(glove_text: Path) -> None:
    space = load_word_vectors(glove_text, format="word2vec-text", limit=10, name="g")
    stat = glove_text.stat()
    assert space.name == "g"
    assert space.provenance.source == str(glove_text)
    assert space.provenance.kind == "word2vec-text"
    assert space.provenance.fingerprint == f"{stat.st_size}-{int(stat.st_mtime)}"
    assert space.provenance.options == {
        "on_duplicate": "error",
        "limit": 10,
        "dtype": "float32",
        "encoding": "utf-8",
        "unicode_errors": "strict",
    }


# ---- duplicates ---------------------------------------------------------------------------
def test_duplicate_keys_in_text(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "v.txt", b"3 2\na 1 2\nb 3 4\na 5 6\n")
    with pytest.raises(MalformedFileError) as caught:
        load_word_vectors(path, format="word2vec-text")
    message = str(caught.value)
    assert caught.value.line == 4
    assert "duplicate key 'a' (lines 2 and 4)" in message
    assert "on_duplicate='first' or 'last'" in message

    first = load_word_vectors(path, format="word2vec-text", on_duplicate="first")
    assert first.keys == ["a", "b"]
    np.testing.assert_array_equal(first.vectors, [[1, 2], [3, 4]])
    last = load_word_vectors(path, format="word2vec-text", on_duplicate="last")
    assert last.keys == ["b", "a"]
    np.testing.assert_array_equal(last.vectors, [[3, 4], [5, 6]])


def test_duplicate_keys_in_binary(tmp_path: Path) -> None:
    path = tmp_path / "v.bin"
    path.write_bytes(
        b"3 1\n"
        + b"".join(
            key + b" " + np.float32(value).tobytes()
            for key, value in [(b"x", 1), (b"y", 2), (b"x", 3)]
        )
    )
    with pytest.raises(MalformedFileError, match=r"duplicate key 'x' \(vectors 1 and 3\)"):
        load_word_vectors(path, format="word2vec")
    first = load_word_vectors(path, format="word2vec", on_duplicate="first")
    assert first.keys == ["x", "y"]
    np.testing.assert_array_equal(first.vectors, [[1], [2]])  # as gensim keeps


# ---- malformed files ----------------------------------------------------------------------
def test_empty_file(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "empty.txt", b"")
    with pytest.raises(MalformedFileError, match="the file is empty") as caught:
        embscope.load(path)
    assert str(path) in str(caught.value)
    blank = write_bytes(tmp_path / "blank.txt", b"\n  \n")
    with pytest.raises(MalformedFileError, match="only blank lines"):
        load_word_vectors(blank, format="glove")
    header_only = write_bytes(tmp_path / "header.vec", b"10 3\n")
    with pytest.raises(MalformedFileError, match="promises 10 vectors but none follow"):
        load_word_vectors(header_only, format="fasttext")


def test_wrong_number_of_values_deep_in_a_large_file(tmp_path: Path, glove_text: Path) -> None:
    lines = glove_text.read_bytes().split(b"\n")
    lines[15_001] = lines[15_001].rsplit(b" ", 1)[0]  # line 15,002 of the file loses a value
    key = lines[15_001].split(b" ")[0].decode()
    path = write_bytes(tmp_path / "short.txt", b"\n".join(lines))
    with pytest.raises(MalformedFileError) as caught:
        load_word_vectors(path, format="word2vec-text")
    assert caught.value.line == 15_002
    assert f"49 values after the key {key!r}, expected 50" in str(caught.value)
    assert str(path) in str(caught.value)


def test_glove_row_longer_than_the_first(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "v.txt", b"a 1 2\nb 3 4\nc 5 6 7\n")
    with pytest.raises(
        MalformedFileError, match=r"line 3: 3 values .* expected 2 \(as on line 1\)"
    ):
        load_word_vectors(path, format="glove")


def test_empty_line_in_the_middle(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "v.txt", b"a 1 2\n\nb 3 4\n")
    with pytest.raises(MalformedFileError, match="line 2: the line is empty"):
        load_word_vectors(path, format="glove")


def test_value_that_is_not_a_number(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "v.vec", b"3 3\na 1 2 3\nb 4 5,5 6\nc 7 8 9\n")
    with pytest.raises(MalformedFileError) as caught:
        load_word_vectors(path, format="fasttext")
    assert caught.value.line == 3
    assert "'5,5' is not a number (value 2 of 3, key 'b')" in str(caught.value)


def test_header_count_disagrees_with_the_body(tmp_path: Path) -> None:
    with pytest.raises(MalformedFileError, match="promises 3 vectors but the file holds 1"):
        load_word_vectors(GENSIM_DATA / "pretrained.vec", format="fasttext")  # as shipped
    fewer = write_bytes(tmp_path / "fewer.txt", b"4 2\na 1 2\nb 3 4\n")
    with pytest.raises(MalformedFileError, match="promises 4 vectors but the file holds 2"):
        load_word_vectors(fewer, format="word2vec-text")
    more = write_bytes(tmp_path / "more.txt", b"1 2\na 1 2\nb 3 4\nc 5 6\n")
    with pytest.raises(MalformedFileError, match="promises 1 vector but 3 lines follow it"):
        load_word_vectors(more, format="word2vec-text")
    rows = {b"a": [1, 2], b"b": [3, 4], b"c": [5, 6]}
    binary = binary_file(tmp_path / "more.bin", rows, newline=True)
    binary.write_bytes(binary.read_bytes().replace(b"3 2\n", b"2 2\n", 1))
    with pytest.raises(MalformedFileError, match="promises 2 vectors but the file holds 3"):
        load_word_vectors(binary, format="word2vec")


def test_truncated_binary_names_the_vector_and_key(tmp_path: Path, glove_kv: KeyedVectors) -> None:
    path = tmp_path / "v.bin"
    glove_kv.save_word2vec_format(str(path), binary=True)
    data = path.read_bytes()
    record_of = {key: len(key.encode()) + 1 + 200 for key in glove_kv.index_to_key}
    header = len(f"{SUBSET_ROWS} 50\n")
    inside = header + sum(record_of[key] for key in glove_kv.index_to_key[:12_000]) + 10
    cut = write_bytes(tmp_path / "cut.bin", data[:inside])
    key = glove_kv.index_to_key[12_000]

    with pytest.raises(MalformedFileError) as caught:
        load_word_vectors(cut, format="word2vec")

    message = str(caught.value)
    assert str(cut) in message
    assert f"promises {SUBSET_ROWS:,} vectors" in message
    present = 10 - len(key.encode()) - 1
    assert f"inside vector 12,001 (key {key!r}), after {present} of its 200 bytes" in message


def test_truncated_binary_at_a_record_boundary(tmp_path: Path) -> None:
    path = binary_file(tmp_path / "v.bin", {b"a": [1, 2], b"bb": [3, 4]}, newline=True)
    path.write_bytes(path.read_bytes().replace(b"2 2\n", b"5 2\n", 1))
    with pytest.raises(MalformedFileError, match="promises 5 vectors but the file ends after 2"):
        load_word_vectors(path, format="word2vec")
    cut = write_bytes(tmp_path / "cut.bin", path.read_bytes() + b"ccc")
    with pytest.raises(MalformedFileError, match="ends inside the key of vector 3"):
        load_word_vectors(cut, format="word2vec")


def test_non_utf8_key_in_binary_names_the_vector(tmp_path: Path) -> None:
    rows = {b"a": [1, 2], b"b": [1, 2], b"caf\xe9": [3, 4]}
    path = binary_file(tmp_path / "v.bin", rows, newline=False)
    with pytest.raises(MalformedFileError, match=r"vector 3: the key b'caf\\xe9' is not valid"):
        load_word_vectors(path, format="word2vec")
    assert load_word_vectors(path, format="word2vec", encoding="latin-1").keys[2] == "café"


def test_the_wrong_kind_is_named(tmp_path: Path, glove_kv: KeyedVectors) -> None:
    with pytest.raises(MalformedFileError, match="kind='word2vec-text'"):
        load_word_vectors(GENSIM_DATA / "word2vec_pre_kv_c", format="word2vec")
    binary = tmp_path / "vectors.txt"  # binary data behind a text suffix
    glove_kv.save_word2vec_format(str(binary), binary=True)
    assert has_word2vec_header(binary)
    with pytest.raises(MalformedFileError, match="kind='word2vec'"):
        embscope.load(binary)
    with pytest.raises(MalformedFileError, match=r"use the \.vec file"):
        load_word_vectors(GENSIM_DATA / "lee_fasttext.bin", format="word2vec")
    with pytest.raises(MalformedFileError, match="kind='glove'"):
        load_word_vectors(GENSIM_DATA / "test_glove.txt", format="word2vec-text")


def test_broken_gzip(tmp_path: Path, glove_text: Path) -> None:
    data = gzip.compress(glove_text.read_bytes()[:200_000])
    path = write_bytes(tmp_path / "v.txt.gz", data[: len(data) // 2])
    with pytest.raises(MalformedFileError, match="gzip data is broken"):
        load_word_vectors(path, format="word2vec-text")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        load_word_vectors(tmp_path / "nothing.vec", format="fasttext")


# ---- writing ------------------------------------------------------------------------------
def test_write_refuses_keys_with_separators(tmp_path: Path) -> None:
    space = embscope.from_array(np.eye(2, dtype=np.float32), ["new york", "b"])
    target = write_bytes(tmp_path / "v.bin", b"old")
    with pytest.raises(InvalidParameterError, match="'new york' \\(row 0\\) holds a space"):
        write_word2vec(space, target)
    assert target.read_bytes() == b"old"  # untouched, and no temporary file left behind
    assert [p.name for p in tmp_path.iterdir()] == ["v.bin"]


def test_a_failed_write_leaves_the_old_file(
    tmp_path: Path, glove_subset: embscope.EmbeddingSpace
) -> None:
    keys = list(glove_subset.keys)
    keys[15_000] = "\ud800"  # no UTF-8 form: fails after the first blocks are written
    space = embscope.EmbeddingSpace(np.asarray(glove_subset.vectors), keys)
    target = write_bytes(tmp_path / "v.bin", b"old")
    with pytest.raises(InvalidParameterError, match="row 15000"):
        write_word2vec(space, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["v.bin"]


def test_undecodable_keys_round_trip_with_surrogateescape(tmp_path: Path) -> None:
    original = write_bytes(tmp_path / "v.txt", b"2 2\ncaf\xe9 1.5 2.0\nb 3.0 -4.25\n")
    space = load_word_vectors(original, format="word2vec-text", unicode_errors="surrogateescape")
    copy = tmp_path / "copy.txt"
    write_word2vec(space, copy, binary=False)
    assert copy.read_bytes() == original.read_bytes()


def test_bom_before_the_header(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "v.txt", b"\xef\xbb\xbf1 2\na 1 2\n")
    assert has_word2vec_header(path)
    assert embscope.load(path).keys == ["a"]


def test_write_float16_space(tmp_path: Path) -> None:
    space = embscope.from_array(np.array([[0.5, -1.25], [3, 4]], np.float16), ["a", "b"])
    path = tmp_path / "v.txt"
    write_word2vec(space, path, binary=False)
    assert path.read_text() == "2 2\na 0.5 -1.25\nb 3.0 4.0\n"
