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


# ---- reference tokens: the registry's, else the unreachable ones, else a caution --------------
def test_without_references_the_report_says_the_ranking_is_not_evidence(glove_1000):
    report = embscope.tokens.scan(glove_1000, progress=False)
    assert not report.table["reference"].any() and len(report.candidates)
    assert report.caution.startswith("no reference tokens, so this ranking is not evidence")
    assert "input_norm is lowest" in report.caution and "verify" in report.caution
    assert report.summary()["caution"] == report.caution
    assert f"caution: {report.caution}" in str(report)


def test_with_references_there_is_no_caution(minilm_report):
    assert minilm_report.caution is None and minilm_report.summary()["caution"] is None
    assert "caution" not in str(minilm_report)


def _bert_checkpoint_without_placeholders(directory):
    """A BertModel whose WordPiece vocabulary has no [unused*] tokens: only the tokenizer
    audit can name tokens that were never trained (``##!``: BERT splits punctuation off)."""
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordPiece

    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "dog", "x", "!",
              "##s", "##!", "##?", "?", "a"]  # fmt: skip
    directory.mkdir(parents=True)
    rows = np.random.default_rng(0).standard_normal((len(tokens), 8)).astype(np.float32)
    save_file({"embeddings.word_embeddings.weight": rows}, str(directory / "model.safetensors"))
    config = {"model_type": "bert", "vocab_size": len(tokens), "hidden_size": 8}
    (directory / "config.json").write_text(json.dumps({**config, "architectures": ["BertModel"]}))
    (directory / "vocab.txt").write_text("\n".join(tokens) + "\n")
    tokenizer = Tokenizer(WordPiece({t: i for i, t in enumerate(tokens)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.add_special_tokens(tokens[:5])
    tokenizer.save(str(directory / "tokenizer.json"))
    return tokens


def test_unreachable_tokens_are_the_references_when_the_registry_has_none(tmp_path):
    tokens = _bert_checkpoint_without_placeholders(tmp_path / "bert")
    report = embscope.tokens.scan(tmp_path / "bert", progress=False)
    table = report.table
    unreachable = table.index[table["category"].str.startswith("unreachable_")].tolist()
    assert [tokens[i] for i in unreachable] == ["##!", "##?"]
    assert table.index[table["reference"]].tolist() == unreachable
    assert report.summary()["references"].startswith("2 unreachable tokens")
    assert report.indicator == "output_cosine" and report.caution is None
    # a BertModel has no language-model head: the input matrix stands for the output one
    assert "output none (no language-model head" in report.summary()["matrices"]


# ---- SmolLM2-135M (GGUF): the case, and verification in batches -------------------------
@pytest.fixture(scope="module")
def smollm2_report(smollm2_path):
    return embscope.tokens.scan(smollm2_path, progress=False)


@pytest.fixture(scope="module")
def smollm2_model(smollm2_path):
    pytest.importorskip("accelerate")
    from embscope.tokens.verify import load_causal_lm

    return load_causal_lm(smollm2_path)


def test_smollm2_names_common_words_and_says_they_are_not_evidence(smollm2_report):
    report = smollm2_report
    summary = report.summary()
    assert summary["references"].startswith("none found")
    assert summary["categories"]["ok"] > 48_000  # the GGUF file's own tokenizer was audited
    assert report.indicator == "input_norm" and report.caution is not None
    # what the issue saw: first names at the top of the list
    assert {"␣John", "␣Michael", "␣David"} <= set(report.candidates["label"].head(10))
    result = CliRunner().invoke(main, ["tokens", str(report.checkpoint), "--top", "3"])
    assert result.exit_code == 0, result.output
    assert "caution: no reference tokens, so this ranking is not evidence" in result.output
    assert "Lowest input_norm, NOT evidence of under-training" in result.output
    lines = CliRunner().invoke(main, ["tokens", str(report.checkpoint), "--top", "1", "--json"])
    assert json.loads(lines.stdout.splitlines()[0])["summary"]["caution"] == report.caution


@pytest.mark.slow  # loads SmolLM2-135M through transformers (about 15 s)
def test_batched_verification_gives_the_one_at_a_time_verdicts(smollm2_model):
    from embscope.tokens.verify import VERIFIED_BELOW, max_probabilities

    # ␣John, <jupyter_text> (a special token the model never repeats), a form feed; in batches
    # of two (a full one and a last one of one), against one prompt at a time
    tokens = [2322, 12, 200]
    batched = max_probabilities(smollm2_model, tokens, batch_size=2, progress=False)
    alone = max_probabilities(smollm2_model, tokens, batch_size=1, progress=False)
    np.testing.assert_allclose(batched, alone, atol=1e-4)
    assert (batched < VERIFIED_BELOW).tolist() == (alone < VERIFIED_BELOW).tolist()
    assert (batched < VERIFIED_BELOW).tolist() == [False, True, False]
    with pytest.raises(InvalidParameterError, match="batch_size must be a positive integer"):
        max_probabilities(smollm2_model, tokens, batch_size=0, progress=False)


@pytest.mark.slow  # loads SmolLM2-135M through transformers (about 15 s)
def test_verification_of_a_gguf_file_refutes_the_common_words(smollm2_report, smollm2_model):
    report = smollm2_report.verify(top=3, model=smollm2_model, progress=False)
    verified = report.candidates.head(3)
    assert (verified["max_probability"] > 0.5).all() and not verified["verified"].any()
    assert report.summary()["verification"].startswith("0 of 3 candidates verified")


def test_the_server_hands_the_caution_to_the_page(glove_1000):
    import time

    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from embscope.server import create_app

    with TestClient(create_app([glove_1000]), base_url="http://127.0.0.1:8000") as client:
        source = client.get("/api/sources").json()[0]["id"]
        job = client.post(f"/api/sources/{source}/tokens", json={}).json()
        deadline = time.monotonic() + 60
        while client.get(f"/api/jobs/{job['id']}").json()["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        answer = client.get(f"/api/jobs/{job['id']}/tokens", params={"top": 3}).json()
    assert answer["indicator"] == "input_norm" and len(answer["candidates"]) == 3
    assert answer["caution"].startswith("no reference tokens, so this ranking is not evidence")
    assert answer["summary"]["caution"] == answer["caution"]


def test_the_page_shows_the_caution_above_the_list(browser, glove_1000, tmp_path):
    """The token panel of the built page, served by ``embscope serve``: a scan without
    reference tokens says, above its list, that the list is not evidence."""
    import re
    import signal
    import subprocess
    import sys

    source = tmp_path / "glove-1000.parquet"
    embscope.export(glove_1000, source, format="parquet")
    command = [sys.executable, "-m", "embscope", "serve", str(source), "--port", "0"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            line = process.stdout.readline()
            address = re.search(r"http://127\.0\.0\.1:\d+/", line)
            assert address, line
            page = browser.new_page()
            page.goto(address.group(0))
            page.wait_for_selector("body[data-ready]")
            page.click('[data-testid="tokens-go"]')
            page.wait_for_selector("body[data-tokens]", timeout=120_000)
            caution = page.locator('[data-testid="tokens-caution"]')
            assert caution.is_visible()
            assert caution.text_content().startswith("no reference tokens, so this ranking")
            status = page.locator('[data-testid="tokens-status"]').text_content()
            assert "not evidence" in status
            page.close()
        finally:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=30)
