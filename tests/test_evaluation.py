"""Word-pair and analogy benchmarks on GloVe, checked against gensim's figures on the same files."""

from __future__ import annotations

import dataclasses
import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from embscope import (
    EmbeddingSpace,
    InvalidParameterError,
    MalformedFileError,
    MissingDependencyError,
    SourceError,
)
from embscope.analysis.evaluation import (
    AnalogyEvaluation,
    WordPairEvaluation,
    _best_columns,
    dataset_path,
)
from embscope.analysis.statistics import average_ranks as _ranks
from embscope.analysis.statistics import correlation_pvalue as _correlation_pvalue
from embscope.cli import main

# gensim 4.4.0 KeyedVectors.evaluate_word_analogies(questions-words.txt) on GloVe 6B 50d with
# its defaults (restrict_vocab=300000, case_insensitive=True): (section, correct, incorrect).
# It took gensim 171 s on the 2-core test machine, too long to repeat in every run.
GENSIM_GOOGLE_SECTIONS = [
    ("capital-common-countries", 401, 105),
    ("capital-world", 3099, 1425),
    ("currency", 73, 735),
    ("city-in-state", 378, 2089),
    ("family", 349, 157),
    ("gram1-adjective-to-adverb", 151, 841),
    ("gram2-opposite", 77, 735),
    ("gram3-comparative", 690, 642),
    ("gram4-superlative", 321, 801),
    ("gram5-present-participle", 439, 617),
    ("gram6-nationality-adjective", 1376, 223),
    ("gram7-past-tense", 585, 975),
    ("gram8-plural", 798, 534),
    ("gram9-plural-verbs", 299, 571),
]
GENSIM_GOOGLE_ACCURACY = 0.463717540798522


@pytest.fixture(scope="module")
def glove_gensim(glove):
    from gensim.models import KeyedVectors

    keyed = KeyedVectors(vector_size=glove.dim)
    keyed.add_vectors(glove.keys, np.asarray(glove.vectors))
    return keyed


@pytest.fixture(scope="module")
def google_sample(tmp_path_factory):
    """Every 40th question of each section of questions-words (495 questions)."""
    _, path = dataset_path("google", kind="analogies")
    kept, position = [], 0
    for line in path.read_text().splitlines():
        if line.startswith(":"):
            kept.append(line)
            position = 0
            continue
        if position % 40 == 0:
            kept.append(line)
        position += 1
    sample = tmp_path_factory.mktemp("analogies") / "sample.txt"
    sample.write_text("\n".join(kept) + "\n")
    return sample


def _assert_same_as_gensim(ours: AnalogyEvaluation, score: float, sections: list[dict]) -> None:
    *parts, total = sections
    assert total["section"] == "Total accuracy"
    assert ours.correct == len(total["correct"]) and ours.incorrect == len(total["incorrect"])
    assert ours.accuracy == pytest.approx(score, abs=1e-12)
    expected = [(s["section"], len(s["correct"]), len(s["incorrect"])) for s in parts]
    got = list(
        zip(
            ours.sections["section"],
            ours.sections["correct"].tolist(),
            ours.sections["incorrect"].tolist(),
            strict=True,
        )
    )
    assert got == expected


# ---- word pairs --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["wordsim353", "simlex999"])
def test_word_pairs_match_gensim(glove, glove_gensim, name):
    ours = glove.evaluate_word_pairs(name)
    pearson, spearman, oov_percent = glove_gensim.evaluate_word_pairs(
        str(dataset_path(name, kind="pairs")[1])
    )
    assert ours.pearson == pytest.approx(pearson[0], abs=1e-6)
    assert ours.spearman == pytest.approx(spearman[0], abs=1e-6)
    assert ours.pearson_pvalue == pytest.approx(pearson[1], rel=1e-4)
    assert ours.spearman_pvalue == pytest.approx(spearman[1], rel=1e-4)
    assert 100 * ours.oov_ratio == pytest.approx(oov_percent, abs=1e-9)
    assert ours.pairs_used == round(ours.pairs_total * (1 - ours.oov_ratio))


def test_wordsim353_figures(glove):
    result = glove.evaluate_word_pairs("wordsim353")
    assert round(result.spearman, 3) == 0.503  # the figure gensim 4.4.0 reports
    assert (result.pairs_total, result.pairs_used, result.oov_ratio) == (353, 353, 0.0)
    assert result.pairs["cosine"].notna().all()


@pytest.mark.parametrize(
    "options",
    [
        {"restrict_vocab": 20000},
        {"restrict_vocab": 20000, "dummy4unknown": True},
        {"case_insensitive": False},
    ],
)
def test_word_pair_options_match_gensim(glove, glove_gensim, tmp_path, options):
    # mixed case, a word GloVe lacks, a rare word, comments and a header line
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(
        "# my pairs\nword1\tword2\tscore\nKing\tqueen\t8.5\ncar\tautomobile\t9.0\n"
        "cup\tqwzxqwzx\t3.0\ntiger\tcat\t7.35\nstock\tjaguar\t0.92\nbook\tpaper\t7.46\n"
        "computer\tkeyboard\t7.62\nsmart\tstupid\t1.2\nobstreperous\tloud\t6.0\n"
    )
    ours = glove.evaluate_word_pairs(pairs, **options)
    pearson, spearman, oov_percent = glove_gensim.evaluate_word_pairs(str(pairs), **options)
    assert ours.pearson == pytest.approx(pearson[0], abs=1e-6)
    assert ours.spearman == pytest.approx(spearman[0], abs=1e-6)
    assert 100 * ours.oov_ratio == pytest.approx(oov_percent, abs=1e-9)
    assert ours.pairs_total == 9


def test_p_values_and_ranks_equal_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(7)
    for n in (3, 10, 40, 353):
        x = rng.normal(size=n)
        y = 0.4 * x + rng.normal(size=n)
        r, p = stats.pearsonr(x, y)
        assert _correlation_pvalue(float(r), n) == pytest.approx(p, rel=1e-9)
        tied = np.round(y, 0)  # many ties
        np.testing.assert_array_equal(_ranks(tied), stats.rankdata(tied))
        rho, p_rank = stats.spearmanr(x, tied)
        assert _correlation_pvalue(float(rho), n) == pytest.approx(p_rank, rel=1e-9)
    # a strong correlation over many pairs: a p-value far below 1e-100 keeps its digits
    t = 0.95 * np.sqrt(351 / (1 - 0.95**2))
    assert _correlation_pvalue(0.95, 353) == pytest.approx(2 * stats.t.sf(t, 351), rel=1e-9)


def test_word_pair_result_is_typed(glove):
    result = glove.evaluate_word_pairs("simlex999")
    assert isinstance(result, WordPairEvaluation)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.pearson = 1.0
    frame = result.to_pandas()
    assert len(frame) == 1 and frame.loc[0, "dataset"] == "simlex999"
    assert {"pearson", "spearman", "oov_ratio", "pairs_used"} <= set(frame.columns)
    assert "<table" in result._repr_html_()
    assert list(result.pairs.columns) == ["word_1", "word_2", "human", "cosine", "known"]
    assert "pairs=" not in repr(result)


# ---- analogies ---------------------------------------------------------------------------
def test_analogies_match_gensim_on_a_sample(glove, glove_gensim, google_sample):
    ours = glove.evaluate_analogies(google_sample)
    score, sections = glove_gensim.evaluate_word_analogies(str(google_sample))
    _assert_same_as_gensim(ours, score, sections)
    assert ours.questions_total == 495


@pytest.mark.parametrize(
    "options",
    [
        {"restrict_vocab": 30000},
        {"restrict_vocab": 30000, "dummy4unknown": True},
        {"restrict_vocab": 30000, "case_insensitive": False},
    ],
)
def test_analogy_options_match_gensim(glove, glove_gensim, google_sample, options):
    ours = glove.evaluate_analogies(google_sample, **options)
    score, sections = glove_gensim.evaluate_word_analogies(str(google_sample), **options)
    _assert_same_as_gensim(ours, score, sections)


def test_case_variants_follow_gensim(glove_gensim, tmp_path):
    # a vocabulary holding two cases of a word: the first row stands for both, and the other
    # case is never an answer to a question that asks with it
    from gensim.models import KeyedVectors

    rng = np.random.default_rng(3)
    keys = ["paris", "france", "Paris", "berlin", "germany", "Berlin", "rome", "italy", "madrid"]
    vectors = rng.normal(size=(len(keys), 8)).astype(np.float32)
    vectors[2] = vectors[0] + 0.01  # "Paris" next to "paris"
    space = EmbeddingSpace(vectors, keys)
    keyed = KeyedVectors(vector_size=8)
    keyed.add_vectors(keys, vectors)
    questions = tmp_path / "q.txt"
    questions.write_text(
        ": capitals\nfrance paris germany berlin\nGermany Berlin France Paris\n"
        "italy rome france paris\nfrance paris italy rome\nspain madrid italy rome\n"
    )
    for case_insensitive in (True, False):
        ours = space.evaluate_analogies(questions, case_insensitive=case_insensitive)
        score, sections = keyed.evaluate_word_analogies(
            str(questions), case_insensitive=case_insensitive
        )
        _assert_same_as_gensim(ours, score, sections)


def test_analogy_result_tables(glove, google_sample):
    result = glove.evaluate_analogies(google_sample)
    assert list(result.sections.columns) == ["section", "correct", "incorrect", "accuracy"]
    assert len(result.sections) == 14
    full = result.to_pandas()
    assert full.iloc[-1]["section"] == "Total accuracy"
    assert full.iloc[-1]["correct"] == result.correct
    questions = result.questions
    assert len(questions) == result.questions_total
    first = questions.iloc[0]
    assert (first["a"], first["b"], first["c"], first["expected"]) == (
        "Athens",
        "Greece",
        "Baghdad",
        "Iraq",
    )
    assert first["predicted"] == "iraq" and first["correct"]
    assert questions["correct"].sum() == result.correct
    assert questions["predicted"].isna().sum() >= result.oov
    assert "<table" in result._repr_html_()
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.accuracy = 1.0


def test_3cosmul_evaluation_matches_gensim_cosmul(glove, google_sample):
    """gensim evaluates with 3CosAdd only; its most_similar_cosmul on the first 30,000 rows,
    with evaluate_word_analogies' answer rule, is the reference."""
    from gensim.models import KeyedVectors

    rows = 30000
    keyed = KeyedVectors(vector_size=glove.dim)
    keyed.add_vectors(glove.keys[:rows], np.asarray(glove.vectors[:rows]))
    ours = glove.evaluate_analogies(google_sample, method="3cosmul", restrict_vocab=rows)
    asked = ours.questions[ours.questions["predicted"].notna()].head(60)
    assert len(asked) == 60
    for question in asked.itertuples():
        a, b, c = (word.lower() for word in (question.a, question.b, question.c))
        answers = keyed.most_similar_cosmul(positive=[b, c], negative=[a], topn=5)
        predicted = next(key for key, _ in answers if key not in {a, b, c})
        assert question.predicted == predicted, question


@pytest.mark.parametrize("columns", [5, 40, 1000, 30011])
def test_best_columns_equal_a_full_sort(columns):
    rng = np.random.default_rng(columns)
    scores = rng.normal(size=(7, columns)).astype(np.float32)
    scores[1, : columns // 2] = 0.5  # ties: the lower column first
    scores[2, 3] = np.nan  # a NaN ranks last
    scores[3] = np.round(scores[3])  # ties at the cut, across groups
    scores[4, ::3] = 9.0  # more equal maxima than groups kept
    kept = min(16, columns)
    expected = np.argsort(-np.nan_to_num(scores, nan=-np.inf), axis=1, kind="stable")[:, :kept]
    got = _best_columns(scores, 16)
    np.testing.assert_array_equal(got[:, :kept], expected)
    assert (got[:, kept:] == -1).all()


@pytest.mark.slow
def test_full_google_set_matches_gensim(glove):
    # gensim needs about 3 minutes for the full set, too long to repeat in every test run; its
    # figures (gensim 4.4.0, default settings) are recorded above, and
    # benchmarks/bench_evaluation.py recomputes them live next to ours
    result = glove.evaluate_analogies("google")
    assert result.accuracy == pytest.approx(GENSIM_GOOGLE_ACCURACY, abs=1e-12)
    got = list(
        zip(
            result.sections["section"],
            result.sections["correct"].tolist(),
            result.sections["incorrect"].tolist(),
            strict=True,
        )
    )
    assert got == GENSIM_GOOGLE_SECTIONS
    assert (result.questions_total, result.oov) == (19544, 58)


# ---- files and names ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        ("a\tb\t1.0\nc\td\n", 2, "expected word, word and score"),
        ("a\tb\t1.0\nc\td\thigh\n", 2, "is not a number"),
        ("# comment\n\na\tb\t1.0\nc\t\t2.0\n", 4, "expected word, word and score"),
        ("a\tb\t1.0\nc\td\tnan\n", 2, "not finite"),
        ("# only comments\n", None, "no word pairs found"),
    ],
)
def test_malformed_pair_files_name_the_line(glove, tmp_path, content, line, problem):
    path = tmp_path / "pairs.tsv"
    path.write_text(content)
    with pytest.raises(MalformedFileError, match=problem) as caught:
        glove.evaluate_word_pairs(path)
    assert caught.value.line == line and caught.value.path == str(path)


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        ("athens greece baghdad iraq\n", 1, "before the first ': section' header"),
        (": capitals\nathens greece baghdad\n", 2, "expected four words"),
        (": capitals\n\n", None, "no analogy questions found"),
    ],
)
def test_malformed_analogy_files_name_the_line(glove, tmp_path, content, line, problem):
    path = tmp_path / "questions.txt"
    path.write_text(content)
    with pytest.raises(MalformedFileError, match=problem) as caught:
        glove.evaluate_analogies(path)
    assert caught.value.line == line


def test_a_file_that_is_not_utf8(glove, tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_bytes(b"cafe\tcoffee\t8.0\ncaf\xe9\tcoffee\t8.0\n")
    with pytest.raises(MalformedFileError, match="not UTF-8") as caught:
        glove.evaluate_word_pairs(path)
    assert caught.value.line == 2


def test_other_delimiters(glove, tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("king,queen,8.5\ncar,automobile,9\ncat,dog,7\nsmart,stupid,1\n")
    by_comma = glove.evaluate_word_pairs(path, delimiter=",")
    spaced = tmp_path / "pairs.txt"
    spaced.write_text(path.read_text().replace(",", "  "))
    by_space = glove.evaluate_word_pairs(spaced, delimiter=None)
    assert by_comma.spearman == by_space.spearman and by_comma.pairs_used == 4


def test_unknown_names_and_missing_files(glove, tmp_path):
    with pytest.raises(InvalidParameterError, match="wordsim353, simlex999 or the path"):
        glove.evaluate_word_pairs("wordsim")
    with pytest.raises(InvalidParameterError, match="must be one of google"):
        glove.evaluate_analogies("bats")
    with pytest.raises(SourceError, match="no such file"):
        glove.evaluate_word_pairs(tmp_path / "missing.tsv")


def test_every_pair_unknown_is_a_clear_error(glove, tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("qwzxqwzx\tqzqzqzqz\t1.0\nxqxqxqxq\tqwzxqwzx\t2.0\n")
    with pytest.raises(InvalidParameterError, match="none of the 2 pairs"):
        glove.evaluate_word_pairs(path)


def test_named_sets_without_gensim_say_what_to_do(glove, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "gensim", None)  # find_spec now reports it missing
    with pytest.raises(MissingDependencyError, match="pip install gensim") as caught:
        glove.evaluate_word_pairs("wordsim353")
    assert "pass the path of a file" in str(caught.value)
    with pytest.raises(MissingDependencyError, match=r"questions-words\.txt"):
        glove.evaluate_analogies("google")
    path = tmp_path / "pairs.tsv"  # a path needs no gensim
    path.write_text("king\tqueen\t8\ncar\tautomobile\t9\ncat\tdog\t7\n")
    assert glove.evaluate_word_pairs(path).pairs_used == 3


def test_named_sets_are_read_without_importing_gensim():
    import subprocess

    probe = (
        "import sys, embscope\n"
        "from embscope.analysis.evaluation import dataset_path\n"
        "print(dataset_path('simlex999', kind='pairs')[1].name, 'gensim' in sys.modules)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert completed.stdout.split() == ["simlex999.txt", "False"]


# ---- command line ------------------------------------------------------------------------
@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_cli_word_pairs_json_equals_the_api(run, glove):
    result = run("evaluate", "-s", "glove-6b-50d", "--pairs", "wordsim353", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    expected = glove.evaluate_word_pairs("wordsim353")
    assert record["kind"] == "word_pairs" and record["dataset"] == "wordsim353"
    assert record["spearman"] == pytest.approx(expected.spearman)
    assert record["pearson"] == pytest.approx(expected.pearson)


def test_cli_table_for_pairs_and_analogies(run, glove, google_sample):
    result = run(
        "evaluate",
        "glove-6b-50d",
        "--pairs",
        "wordsim353",
        "--pairs",
        "simlex999",
        "--analogies",
        str(google_sample),
        "--restrict-vocab",
        "30000",
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "wordsim353" in out and "simlex999" in out and "spearman" in out
    assert "capital-world" in out and "Total accuracy" in out and "first 30,000 rows" in out
    expected = glove.evaluate_analogies(google_sample, restrict_vocab=30000)
    assert f"{expected.accuracy:.1%}" in out


def test_cli_analogies_json(run, glove, google_sample):
    result = run("evaluate", "-s", "glove-6b-50d", "--analogies", str(google_sample), "--json")
    record = json.loads(result.stdout)
    expected = glove.evaluate_analogies(google_sample)
    assert record["kind"] == "analogies" and record["correct"] == expected.correct
    assert [s["correct"] for s in record["sections"]] == expected.sections["correct"].tolist()


def test_cli_errors(run, tmp_path):
    result = run("evaluate", "-s", "glove-6b-50d", "--pairs", "wordsim")
    assert result.exit_code == 1 and "wordsim353, simlex999 or the path" in result.output
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\t1\nc\n")
    result = run("evaluate", "-s", "glove-6b-50d", "--pairs", str(bad))
    assert result.exit_code == 1 and f"{bad}, line 2" in result.output
    result = run("evaluate", "minilm", "-s", "glove-6b-50d")
    assert result.exit_code == 2 and "two sources given" in result.output


@pytest.mark.slow
def test_an_llm_vocabulary_is_evaluated_on_its_word_start_tokens(smollm2):
    # "king" in a benchmark is the word, Ġking, not the piece inside "making"; with the pieces
    # two thirds of wordsim353 were out of vocabulary
    scores = smollm2.evaluate_word_pairs("wordsim353")
    assert scores.oov_ratio < 0.15 and scores.pairs_used >= 300
    assert scores.spearman > 0.3
