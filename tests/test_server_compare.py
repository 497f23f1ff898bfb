"""The server's compare view: a comparison job per pair of sources and top_k, then its summary,
side-by-side neighbours, moved keys and joint layout, each against ``embscope.compare`` on the
same real spaces (GloVe's 3,000 most frequent words against a rotated copy with 30 keys'
vectors swapped; MiniLM against its float16 copy)."""

from __future__ import annotations

import io
import math
import time
from dataclasses import asdict

import numpy as np
import pyarrow as pa
import pytest
import scipy.stats
from fastapi.testclient import TestClient

import embscope
from embscope.analysis.compare import joint_layout
from embscope.server import create_app

LOCAL = "http://127.0.0.1:8000"
A, B = "glove-6b-50d", "glove-rotated"
SWAPPED = 30


@pytest.fixture(scope="module")
def glove_3000(glove) -> embscope.EmbeddingSpace:
    return glove.subset(glove.keys[:3000])


@pytest.fixture(scope="module")
def rotated(glove_3000):
    """The first 2,990 of those words rotated, with noise of 1% of a component's spread, and
    30 of them (every 90th) with their vectors passed round among themselves: those moved."""
    rng = np.random.default_rng(5)
    keys = glove_3000.keys[:2990]
    vectors = np.asarray(glove_3000.vectors[:2990], dtype=np.float64)
    rotation = scipy.stats.ortho_group.rvs(glove_3000.dim, random_state=2)
    vectors = vectors @ rotation + rng.normal(scale=0.01 * vectors.std(), size=vectors.shape)
    swapped = np.arange(45, 2990, 90)[:SWAPPED]
    vectors[swapped] = vectors[np.roll(swapped, 1)]
    space = embscope.from_array(vectors.astype(np.float32), keys, name=B)
    return space, {keys[i] for i in swapped}


@pytest.fixture(scope="module")
def disjoint() -> embscope.EmbeddingSpace:
    """A space sharing no key with the others: its comparison fails, as a job."""
    vectors = np.random.default_rng(0).normal(size=(20, 50)).astype(np.float32)
    return embscope.from_array(vectors, [f"zz{i}" for i in range(20)], name="disjoint")


@pytest.fixture(scope="module")
def client(glove_3000, rotated, disjoint):
    app = create_app([glove_3000, rotated[0], disjoint])
    with TestClient(app, base_url=LOCAL) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def comparison(glove_3000, rotated):
    return embscope.compare(glove_3000, rotated[0], top_k=10, progress=False)


def wait_for(client, job_id, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/api/jobs/{job_id}").json()
        if state["state"] not in ("queued", "running"):
            return state
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {state['state']} after {timeout} s")


def compared(client, a=A, b=B, top_k=10):
    started = client.post("/api/compare", json={"a": a, "b": b, "top_k": top_k})
    assert started.status_code == 202, started.text
    return wait_for(client, started.json()["id"])


def path(what, a=A, b=B):
    return f"/api/compare/{a}/{b}/{what}"


def same(value, expected):
    if isinstance(expected, float) and math.isnan(expected):
        return value is None
    if isinstance(expected, float):
        return value == pytest.approx(expected, rel=1e-9, abs=1e-12)
    return value == expected


def test_the_comparison_is_a_job_shared_and_kept(client):
    # nothing to read before it is started: a 409 that says what to do
    early = client.get(path("summary"))
    assert early.status_code == 409 and "POST /api/compare" in early.json()["detail"]
    first = client.post("/api/compare", json={"a": A, "b": B})
    second = client.post("/api/compare", json={"a": A, "b": B, "top_k": 10})
    assert first.status_code == 202 and first.json()["id"] == second.json()["id"]
    done = wait_for(client, first.json()["id"])
    assert done["state"] == "done" and done["progress"] == 1.0
    assert done["description"] == f"comparison of {B} with {A} (top 10)"
    # asked again, the finished comparison answers at once: the same job, done
    again = client.post("/api/compare", json={"a": A, "b": B})
    assert again.json()["id"] == first.json()["id"] and again.json()["state"] == "done"
    # another top_k, or the other way round, is another comparison
    assert client.get(path("summary"), params={"top_k": 5}).status_code == 409
    assert client.get(path("summary", B, A)).status_code == 409


def test_the_summary_is_the_librarys(client, comparison):
    compared(client)
    answer = client.get(path("summary")).json()
    summary = comparison.summary()
    for name, expected in asdict(summary).items():
        if name == "metric":
            assert answer[name] == "cosine"
        elif name == "dims":
            assert answer[name] == [50, 50]
        else:
            assert same(answer[name], expected), (name, answer[name], expected)
    assert answer["a"] == A and answer["b"] == B
    assert answer["line"] == summary.line() and answer["coverage"] == summary.coverage()
    assert [f["name"] for f in answer["figures"]] == [f[0] for f in summary.figures()]
    for figure, (_, value, chance, _) in zip(answer["figures"], summary.figures(), strict=True):
        assert same(figure["value"], value) and same(figure["chance"], chance)
    # a rotated copy: the same geometry; 10 keys only in A
    assert answer["only_a"] == 10 and answer["shared_keys"] == 2990
    assert answer["overlap"] > 0.9 > 0.01 > answer["overlap_chance"]
    assert answer["cka"] > 0.95 and answer["alignment"] == "orthogonal"
    counts = answer["overlap_counts"]
    assert len(counts) == 11 and sum(counts) == 2990
    assert counts == np.bincount(comparison.overlap, minlength=11).tolist()


def test_the_moved_list_is_the_librarys_and_the_swapped_keys_lead(client, comparison, rotated):
    compared(client)
    answer = client.get(path("moved"), params={"top": SWAPPED}).json()
    expected = comparison.moved(SWAPPED)
    assert [w["key"] for w in answer["words"]] == expected["key"].tolist()
    assert {w["key"] for w in answer["words"]} == rotated[1]
    assert [w["moved_rank"] for w in answer["words"]] == list(range(1, SWAPPED + 1))
    for word, row in zip(answer["words"], expected.itertuples(), strict=True):
        assert word["label"] == row.label and word["shared_neighbors"] == row.shared_neighbors
        for name in ("overlap", "jaccard", "rank_correlation", "aligned_cosine"):
            assert word[name] == pytest.approx(getattr(row, name), abs=1e-12)
        assert word["norm_a"] == pytest.approx(row.norm_a, rel=1e-6)
        assert word["norm_b"] == pytest.approx(row.norm_b, rel=1e-6)
    steady = client.get(path("moved"), params={"top": 12, "least": True}).json()
    assert steady["least"]
    assert [w["key"] for w in steady["words"]] == comparison.moved(12, least=True)["key"].tolist()
    assert steady["words"][0]["moved_rank"] == 2990
    assert client.get(path("moved"), params={"top": 0}).status_code == 422


def test_neighbours_side_by_side_mark_the_shared_ones(client, comparison, rotated):
    compared(client)
    for word in ["king", sorted(rotated[1])[0]]:
        answer = client.get(path("neighbors"), params={"word": word}).json()
        side = comparison.neighbors(word)
        assert [h["key"] for h in answer["hits_a"]] == side.a.keys
        assert [h["key"] for h in answer["hits_b"]] == side.b.keys
        assert np.allclose([h["score"] for h in answer["hits_a"]], side.a.scores, atol=1e-9)
        for hits in (answer["hits_a"], answer["hits_b"]):
            assert [h["in_both"] for h in hits] == [h["key"] in side.shared for h in hits]
        assert answer["shared"] == len(side.shared)
        assert answer["a_keys"] == answer["b_keys"] == [word]
        place = comparison.moved_order().tolist().index(comparison.keys.index(word)) + 1
        assert answer["figures"]["key"] == word and answer["figures"]["moved_rank"] == place
    # the steady word keeps its neighbours, the swapped one loses them
    steady = client.get(path("neighbors"), params={"word": "king"}).json()
    swapped = client.get(path("neighbors"), params={"word": sorted(rotated[1])[0]}).json()
    assert steady["shared"] >= 8 > 2 >= swapped["shared"]
    # a listed key asked for exactly
    exact = client.get(path("neighbors"), params={"word": "queen", "exact": True}).json()
    assert exact["a_keys"] == ["queen"]
    assert [h["key"] for h in exact["hits_a"]] == comparison.neighbors("queen").a.keys


def test_unknown_words_and_bad_requests_are_4xx(client, glove_3000):
    compared(client)
    unknown = client.get(path("neighbors"), params={"word": "kingg"})
    assert unknown.status_code == 404
    assert "king" in unknown.json()["suggestions"] and A in unknown.json()["detail"]
    # a word A has and B lacks: B's own message, with B's closest keys
    only_a = glove_3000.keys[2995]
    missing = client.get(path("neighbors"), params={"word": only_a})
    assert missing.status_code == 404 and B in missing.json()["detail"]
    assert missing.json()["suggestions"]
    exact_missing = client.get(path("neighbors"), params={"word": only_a, "exact": True})
    assert exact_missing.status_code == 404 and B in exact_missing.json()["detail"]
    # text the library must never see, and bounds
    assert client.get(path("neighbors"), params={"word": "a\x00b"}).status_code == 422
    assert client.get(path("neighbors"), params={"word": "a" * 500}).status_code == 422
    for top_k in (0, 101, "ten"):
        assert client.post("/api/compare", json={"a": A, "b": B, "top_k": top_k}).status_code == 422
        assert client.get(path("summary"), params={"top_k": top_k}).status_code == 422
    assert client.post("/api/compare", json={"a": A}).status_code == 422
    assert client.post("/api/compare", json={"a": A, "b": "b\x00"}).status_code == 422
    # sources the server does not have, or one source twice
    unknown_source = client.post("/api/compare", json={"a": A, "b": "etc-passwd"})
    assert unknown_source.status_code == 404 and B in unknown_source.json()["detail"]
    assert client.get(path("summary", A, "etc-passwd")).status_code == 404
    twice = client.post("/api/compare", json={"a": A, "b": A})
    assert twice.status_code == 400 and "two different sources" in twice.json()["detail"]
    assert client.get(path("moved", A, A)).status_code == 400
    assert client.get(path("layout"), params={"sample": 10**6}).status_code == 422


def test_a_comparison_that_fails_says_why(client):
    failed = compared(client, A, "disjoint")
    assert failed["state"] == "failed" and "share 0 key" in failed["error"]
    after = client.get(path("summary", A, "disjoint"))
    assert after.status_code == 409 and "share 0 key" in after.json()["detail"]


def test_the_joint_layout_is_the_librarys_as_arrow(client, comparison, rotated):
    compared(client)
    response = client.get(path("layout"), params={"sample": 300, "moved": SWAPPED})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(io.BytesIO(response.content)).read_all()
    assert table.column_names == ["key", "label", "x_a", "y_a", "x_b", "y_b", "moved"]
    assert table.schema.field("x_a").type == pa.float32()
    expected = joint_layout(comparison, sample=300, moved=SWAPPED, random_state=0)
    frame = table.to_pandas()
    assert frame["key"].tolist() == expected.keys and len(frame) == 300
    assert np.allclose(frame[["x_a", "y_a"]], expected.coords_a, atol=1e-5)
    assert np.allclose(frame[["x_b", "y_b"]], expected.coords_b, atol=1e-5)
    assert set(frame.loc[frame["moved"], "key"]) == rotated[1]
    explained = [float(v) for v in table.schema.metadata[b"explained"].split()]
    assert explained == pytest.approx(expected.explained, abs=1e-6)
    # the swapped keys sit far from their aligned selves, the others close
    gap = np.hypot(frame["x_a"] - frame["x_b"], frame["y_a"] - frame["y_b"])
    assert gap[frame["moved"]].median() > 5 * gap[~frame["moved"]].median()


def test_a_single_source_offers_no_comparison(glove_3000):
    app = create_app([glove_3000])
    with TestClient(app, base_url=LOCAL) as client:
        answer = client.post("/api/compare", json={"a": A, "b": A})
        assert answer.status_code == 400
        assert "needs two sources" in answer.json()["detail"]
        assert "embscope serve" in answer.json()["detail"]
        assert client.get(path("summary", A, A)).status_code == 400


@pytest.mark.slow
def test_minilm_against_its_float16_copy(minilm):
    half = minilm.astype("float16")
    app = create_app([minilm, half])
    with TestClient(app, base_url=LOCAL) as client:
        ids = [s["id"] for s in client.get("/api/sources").json()]
        assert ids == ["minilm", "minilm-2"]
        done = compared(client, *ids, top_k=10)
        assert done["state"] == "done", done
        answer = client.get(path("summary", *ids)).json()
        assert answer["overlap"] >= 0.95 and answer["cka"] > 0.999
        assert answer["space_a"] == "minilm (A)" and answer["space_b"] == "minilm (B)"
        expected = embscope.compare(minilm, half, top_k=10, progress=False).summary()
        assert answer["overlap"] == pytest.approx(expected.overlap, abs=1e-12)
        assert answer["similarity_spearman"] == pytest.approx(
            expected.similarity_spearman, abs=1e-12
        )
        side = client.get(path("neighbors", *ids), params={"word": "bank"}).json()
        assert side["shared"] >= 9 and all(h["in_both"] for h in side["hits_a"][:5])
        # a word MiniLM splits: 404 with its pieces, from A
        split = client.get(path("neighbors", *ids), params={"word": "embeddings"})
        assert split.status_code == 404 and split.json()["pieces"] == [
            "em",
            "##bed",
            "##ding",
            "##s",
        ]


# ---- ranking stability in the neighbour answers ------------------------------------------------


def stability_of(hits) -> dict:
    return hits.stability.to_dict()


def test_neighbour_answers_carry_their_ranking_stability(client, glove_3000):
    asked = {"query": "king", "top_k": 300, "listed": 15}
    answer = client.get(f"/api/sources/{A}/neighbors", params=asked).json()
    expected = stability_of(glove_3000.search("king", top_k=15))
    stability = answer["stability"]
    assert len(answer["hits"]) == 300 and stability["listed"] == 15
    assert stability["band_rows"] == expected["band_rows"]
    assert stability["span"] == pytest.approx(expected["span"], abs=1e-9)
    assert stability["score_spread"] == pytest.approx(expected["score_spread"], abs=1e-9)
    assert stability["line"] == expected["line"] and not stability["near_tie"]
    # without listed, the note is about every row answered; opposites have theirs
    whole = client.get(f"/api/sources/{A}/neighbors", params={"query": "king", "top_k": 50})
    assert whole.json()["stability"]["listed"] == 50
    opposite = client.get(
        f"/api/sources/{A}/neighbors",
        params={"query": "king", "top_k": 20, "listed": 10, "opposite": True},
    ).json()["stability"]
    expected_opposite = stability_of(glove_3000.search("king", top_k=10, opposite=True))
    assert opposite["line"] == expected_opposite["line"]
    assert opposite["band_rows"] == expected_opposite["band_rows"] and opposite["listed"] == 10
    bad = client.get(f"/api/sources/{A}/neighbors", params={**asked, "listed": 0})
    assert bad.status_code == 422
    # and each side of a side-by-side answer
    compared(client)
    side = client.get(path("neighbors"), params={"word": "king"}).json()
    assert side["stability_a"]["listed"] == side["stability_b"]["listed"] == 10
    assert side["stability_a"]["line"] == stability_of(glove_3000.search("king", top_k=10))["line"]


@pytest.mark.slow
def test_two_seeds_of_the_sentiment_model_compared_and_their_near_ties_flagged(
    shared_data, tmp_path
):
    """The issue's case: a 16-d sentiment space trained twice, only the seed differing. Its
    neighbour lists are near ties, and the page is told so."""
    import embscope.train

    paths = []
    for seed in (1, 2):
        run = embscope.train.sentiment(
            shared_data / "sst" / "stsa.binary.train",
            vocab_size=4000,
            epochs=4,
            random_state=seed,
            progress=False,
        )
        paths.append(run.save(tmp_path / f"seed-{seed}"))
    spaces = [embscope.load(p) for p in paths]
    app = create_app(paths)
    with TestClient(app, base_url=LOCAL) as client:
        ids = [s["id"] for s in client.get("/api/sources").json()]
        answer = client.get(
            f"/api/sources/{ids[0]}/neighbors",
            params={"query": "bad", "top_k": 300, "listed": 15},
        ).json()["stability"]
        expected = stability_of(spaces[0].search("bad", top_k=15))
        assert answer["near_tie"] and expected["near_tie"]
        assert answer["line"] == expected["line"] and answer["line"].startswith("near tie")
        assert compared(client, *ids)["state"] == "done"
        summary = client.get(path("summary", *ids)).json()
        reference = embscope.compare(*spaces, top_k=10, progress=False).summary()
        assert summary["overlap"] == pytest.approx(reference.overlap, abs=1e-12)
        assert summary["overlap_chance"] < summary["overlap"] < 1
        side = client.get(path("neighbors", *ids), params={"word": "bad"}).json()
        assert side["stability_a"]["near_tie"] and side["stability_b"]["near_tie"]
