"""Token forensics on real vocabularies: MiniLM's BERT vocabulary and GPT-2's tokenizer."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import embscope
from embscope.cli import main
from embscope.errors import InvalidParameterError

pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def minilm_report():
    return embscope.tokens.scan("minilm", progress=False)


@pytest.fixture(scope="module")
def gpt2_report(shared_data):
    return embscope.tokens.scan(shared_data / "gpt2_tokenizer" / "gpt2.tiktoken", progress=False)


def _placeholders(table: pd.DataFrame) -> np.ndarray:
    return table["key"].str.fullmatch(r"\[unused\d+\]").to_numpy()


def test_input_norm_alone_separates_the_unused_tokens(minilm_report):
    from sklearn.metrics import roc_auc_score

    table = minilm_report.table
    unused = _placeholders(table)
    assert unused.sum() == 994
    # low norm = suspicious: the negated norm scores the unused tokens
    assert roc_auc_score(unused, -table["input_norm"]) >= 0.98
    lowest = table.nsmallest(2000, "input_norm")
    assert table["rank_input_norm"].notna().all()  # needs no references: every token ranked
    assert set(lowest.index) == set(table.index[table["rank_input_norm"] <= 2000])
    assert unused[lowest.index].sum() >= 0.99 * 994
    plain_words = lowest["key"].str.fullmatch(r"[a-z]+")
    assert plain_words.mean() < 0.02


def test_the_report_finds_the_references_itself_and_scores_the_rest(minilm_report):
    table = minilm_report.table
    unused = _placeholders(table)
    assert (table["reference"].to_numpy() == unused).all()
    summary = minilm_report.summary()
    assert summary["references"] == "994 placeholder tokens ([unused*] / <unused*>)"
    assert minilm_report.indicator == "output_cosine"
    # the indicators built on the references rank only the other tokens
    for name in ("output_cosine", "output_l2"):
        assert table.loc[unused, f"rank_{name}"].isna().all()
        assert (
            table.loc[~unused & (table["category"] != "padding_row"), f"rank_{name}"].notna().all()
        )
    assert "output_bias" in summary["not_computed"]


def test_candidates_are_rare_pieces_not_english_words(minilm_report):
    candidates = minilm_report.candidates
    table = minilm_report.table
    ok = (table["category"] == "ok").sum()
    assert len(candidates) == pytest.approx(0.02 * ok, abs=2)
    assert (candidates["category"] == "ok").all() and not candidates["reference"].any()
    assert candidates["rank"].is_monotonic_increasing
    assert (candidates["output_cosine"] <= minilm_report.threshold_value).all()
    ascii_words = candidates["key"].str.fullmatch(r"(##)?[a-z]+")
    assert ascii_words.mean() < 0.1
    # barely trained pieces have small input norms too: the two views agree
    assert candidates["input_norm"].median() < table["input_norm"].quantile(0.1)


def test_bert_audit_categories(minilm_report):
    table = minilm_report.table.set_index("key")
    assert table.loc["[CLS]", "category"] == "special"
    assert table.loc["[unused5]", "category"] == "unreachable_special"
    assert table.loc["hello", "category"] == "ok"
    assert table.loc["##ing", "category"] == "ok"  # a continuation, reached after a word start
    # BERT splits punctuation and CJK characters off as words of their own: never continued
    assert table.loc["##!", "category"] == "unreachable_single"
    assert table.loc["##中", "category"] == "unreachable_single"


def test_centroid_ends(minilm_report):
    summary = minilm_report.summary()
    nearest = summary["nearest_centroid"]
    assert len(nearest) == 10 and len(summary["farthest_from_centroid"]) == 10
    # the never-trained rows crowd the centroid, as "SolidGoldMagikarp" did in GPT-2
    assert sum(bool(re.fullmatch(r"\[unused\d+\]", label)) for label in nearest) >= 5


def test_gpt2_tokenizer_audit(gpt2_report):
    table = gpt2_report.table
    unused_bytes = table.index[table["category"] == "unused_byte"].tolist()
    # C0, C1 and F5-FF in GPT-2's byte order
    assert unused_bytes == [124, 125, *range(177, 188)]
    assert table.loc[43453, "key"] == "ĠSolidGoldMagikarp"
    assert table.loc[43453, "category"] == "ok"  # reachable, a single token: its weights glitch
    assert table.loc[table["reference"], "token_id"].tolist() == list(range(177, 188))
    assert gpt2_report.indicator is None and gpt2_report.candidates.empty
    assert gpt2_report.summary()["categories"]["ok"] > 49_000
    with pytest.raises(InvalidParameterError, match="no indicator was computed"):
        gpt2_report.figure()


def test_given_references_replace_the_registry():
    report = embscope.tokens.scan("minilm", references=["[unused0]", 2, 3], progress=False)
    assert report.table["reference"].sum() == 3
    assert report.summary()["references"] == "given (3 tokens)"
    with pytest.raises(InvalidParameterError, match="not in the vocabulary"):
        embscope.tokens.scan("minilm", references=["no-such-token"], progress=False)


def test_word_vectors_get_the_indicators_that_need_no_tokenizer(glove_1000):
    report = embscope.tokens.scan(glove_1000, progress=False)
    assert report.indicator == "input_norm"
    assert {"input_norm", "centroid_distance"} <= set(report.table.columns)
    assert "output_cosine" in report.summary()["not_computed"]
    assert len(report.candidates) == pytest.approx(20, abs=1)


def test_report_files(minilm_report, tmp_path):
    parquet = minilm_report.save(tmp_path / "tokens.parquet")
    back = pd.read_parquet(parquet)
    assert len(back) == 30522 and back["candidate"].sum() == len(minilm_report.candidates)
    page = minilm_report.save(tmp_path / "tokens.html").read_text()
    assert "plotly" in page and "Candidates" in page and "[unused" in page
    with pytest.raises(InvalidParameterError, match="a token report is written as"):
        minilm_report.save(tmp_path / "tokens.xlsx")
    figure = minilm_report.figure()
    names = [trace.name for trace in figure.data]
    assert "candidates" in names and "reference tokens" in names


def test_cli(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        main, ["tokens", "minilm", "--top", "5", "--out", str(tmp_path / "r.csv")]
    )
    assert result.exit_code == 0, result.output
    assert "994 placeholder tokens" in result.output
    assert "Candidates, most likely first (5 of" in result.output
    assert (tmp_path / "r.csv").is_file()
    result = runner.invoke(main, ["tokens", "minilm", "--top", "3", "--json"])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["summary"]["main_indicator"] == "output_cosine"
    assert [row["rank"] for row in lines[1:]] == [1, 2, 3]
    bad = runner.invoke(main, ["tokens", "minilm", "--out", str(tmp_path / "r.txt")])
    assert bad.exit_code == 1 and "a token report is written as" in bad.output
    assert not (tmp_path / "r.txt").exists()


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    pytest.importorskip("transformers")
    from planted_checkpoint import build_planted_checkpoint

    return build_planted_checkpoint(tmp_path_factory.mktemp("planted") / "checkpoint")


def test_planted_rows_come_first_on_every_indicator(planted):
    report = embscope.tokens.scan(planted.directory, progress=False)
    table = report.table
    counts = np.array(planted.token_counts)
    trained = np.flatnonzero(counts >= 50)  # rows the training really moved
    rank_columns = [c for c in table.columns if c.startswith("rank_")]
    assert {c.removeprefix("rank_") for c in rank_columns} == {
        "input_norm", "centroid_distance", "output_cosine", "output_l2",
    }  # fmt: skip
    for column in rank_columns:
        planted_ranks = table.loc[list(planted.planted_ids), column]
        assert planted_ranks.max() < table.loc[trained, column].min(), column
    # the registry found the unused bytes as references without being told
    assert sorted(table.index[table["reference"]]) == sorted(planted.unused_byte_ids)
    assert "lm_head.weight" in report.summary()["matrices"]
    # candidates are drawn from untrained rows only
    assert (counts[report.candidates["token_id"]] < 50).all()
    assert set(planted.planted_ids) & set(report.candidates["token_id"])


def test_verification_by_prompting_tells_planted_from_trained(planted):
    from embscope.tokens.verify import max_probabilities

    counts = np.array(planted.token_counts)
    frequent = np.argsort(-counts)[:10].tolist()
    probabilities = max_probabilities(
        planted.directory, frequent + list(planted.planted_ids), progress=False
    )
    trained, untrained = probabilities[:10], probabilities[10:]
    assert (untrained < 0.01).all()  # the model cannot repeat a token it never saw
    assert np.median(trained) > 100 * untrained.max()
    report = embscope.tokens.scan(planted.directory, progress=False).verify(top=5, progress=False)
    verified = report.candidates.head(5)
    assert verified["max_probability"].notna().all() and verified["verified"].all()
    assert report.candidates["max_probability"].iloc[5:].isna().all()
    assert report.summary()["verification"].startswith("5 of 5 candidates verified")


def test_verification_says_why_it_cannot_run(minilm_report):
    report = embscope.tokens.scan("minilm", progress=False).verify()
    assert report.summary()["verification"] == (
        "not verified: not a causal language model (architectures: BertModel)"
    )
    assert "max_probability" not in report.table


def test_cli_on_a_tokenizer_file_lists_the_tokens_it_cannot_produce(shared_data):
    runner = CliRunner()
    tiktoken_file = shared_data / "gpt2_tokenizer" / "gpt2.tiktoken"
    result = runner.invoke(main, ["tokens", str(tiktoken_file), "--top", "13"])
    assert result.exit_code == 0, result.output
    assert "no weights: tokenizer audit only" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.endswith("│ unused_byte")]
    assert len(rows) == 13 and "<0xC0>" in rows[0] and "<0xFF>" in rows[-1]
