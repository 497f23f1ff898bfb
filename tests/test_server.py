"""The web explorer's API, with the real app and the bundled spaces."""

from __future__ import annotations

import io
import re
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

import embscope
from embscope.figures import axis_titles
from embscope.server import create_app
from embscope.server.jobs import KEEP_FINISHED
from embscope.server.state import state_of

# the server answers only requests naming it by a loopback name (see test_server_security.py)
LOCAL = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def client(glove):
    app = create_app(["minilm", glove])
    with TestClient(app, base_url=LOCAL) as test_client:
        yield test_client


def wait_for(client, job_id, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/api/jobs/{job_id}").json()
        if state["state"] in ("done", "failed"):
            return state
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {state['state']} after {timeout} s")


def test_sources_are_the_ones_given(client):
    sources = client.get("/api/sources").json()
    assert [s["id"] for s in sources] == ["minilm", "glove-6b-50d"]
    assert sources[0]["rows"] == 30522 and sources[0]["dim"] == 384
    assert "token_id" in sources[0]["columns"] and sources[0]["label_column"] is None
    assert client.get("/api/sources/etc-passwd/neighbors", params={"query": "a"}).status_code == 404


def test_neighbors_match_the_library(client, glove):
    answer = client.get(
        "/api/sources/glove-6b-50d/neighbors", params={"query": "beauty", "top_k": 5}
    ).json()
    expected = glove.neighbors("beauty", top_k=5)
    assert [h["key"] for h in answer["hits"]] == expected["key"].tolist()
    assert np.allclose([h["score"] for h in answer["hits"]], expected["score"], atol=1e-6)
    assert answer["metric"] == "cosine" and not answer["opposite"]
    assert [h["row"] for h in answer["hits"]] == [glove.row(k) for k in expected["key"]]


def test_neighbors_restricted_to_the_first_rows(client, glove):
    """restrict_vocab: the first N rows only (GloVe's most frequent words), as the library."""
    for opposite in (False, True):
        answer = client.get(
            "/api/sources/glove-6b-50d/neighbors",
            params={"query": "good", "opposite": opposite, "restrict_vocab": 10_000, "top_k": 20},
        ).json()
        expected = glove.search("good", top_k=20, opposite=opposite, restrict_vocab=10_000)
        assert [hit["key"] for hit in answer["hits"]] == list(expected.keys)
        assert max(hit["row"] for hit in answer["hits"]) < 10_000
    refused = client.get(
        "/api/sources/glove-6b-50d/neighbors", params={"query": "good", "restrict_vocab": 0}
    )
    assert refused.status_code == 422


def test_metric_switch_and_opposites(client, glove):
    euclidean = client.get(
        "/api/sources/glove-6b-50d/neighbors",
        params={"query": "good", "metric": "euclidean", "top_k": 3},
    ).json()
    assert [h["key"] for h in euclidean["hits"]] == glove.neighbors(
        "good", metric="euclidean", top_k=3
    )["key"].tolist()
    opposite = client.get(
        "/api/sources/glove-6b-50d/neighbors", params={"query": "good", "opposite": True}
    ).json()
    assert opposite["opposite"] and opposite["hits"][0]["score"] < 0


def test_unknown_word_is_404_with_suggestions(client):
    response = client.get("/api/sources/glove-6b-50d/neighbors", params={"query": "beautyy"})
    assert response.status_code == 404
    body = response.json()
    assert "beauty" in body["suggestions"] and "beautyy" in body["detail"]


def test_requests_are_bounded(client):
    too_many = client.get(
        "/api/sources/glove-6b-50d/neighbors", params={"query": "good", "top_k": 100_000}
    )
    assert too_many.status_code == 422
    too_long = client.get("/api/sources/glove-6b-50d/neighbors", params={"query": "a" * 500})
    assert too_long.status_code == 422


def test_similarity_complete_and_profile(client, glove):
    answer = client.get(
        "/api/sources/glove-6b-50d/similarity", params={"a": "good", "b": "bad"}
    ).json()
    assert answer["score"] == pytest.approx(glove.similarity("good", "bad"), abs=1e-6)
    completions = client.get(
        "/api/sources/glove-6b-50d/complete", params={"prefix": "beaut", "limit": 5}
    ).json()
    assert completions[0]["key"] == "beautiful"
    # a word vocabulary's keys are their labels, and typed as they are
    assert all(c["key"] == c["label"] == c["query"] for c in completions)
    assert all(c["key"].startswith("beaut") for c in completions)
    profile = client.get("/api/sources/minilm/profile", params={"query": "beauty"}).json()
    assert len(profile["rows"]) == 15 and -1 <= profile["rank_correlation"] <= 1
    assert profile["rows"][0]["cosine"] >= profile["rows"][-1]["cosine"]
    expected = embscope.load("minilm").distance_profile("beauty", top_k=15).top_euclidean
    assert [r["key"] for r in profile["euclidean_rows"]] == expected
    # the scatter's sample: seeded, bounded, and pairs of the table's own values
    assert len(profile["sample"]) == 1500
    assert all(-1.0001 <= c <= 1.0001 and e >= 0 for c, e in profile["sample"])
    again = client.get("/api/sources/minilm/profile", params={"query": "beauty"}).json()
    assert again["sample"] == profile["sample"]
    too_big = client.get("/api/sources/minilm/profile", params={"query": "a", "sample": 10**6})
    assert too_big.status_code == 422


def test_projection_job_is_shared_and_sends_arrow(client, glove):
    request = {"method": "pca", "n_components": 3, "neighborhood": "terrible"}
    first = client.post("/api/sources/glove-6b-50d/projections", json=request)
    second = client.post("/api/sources/glove-6b-50d/projections", json=request)
    assert first.status_code == 202 and first.json()["id"] == second.json()["id"]
    state = wait_for(client, first.json()["id"])
    assert state["state"] == "done" and state["rows"] == 61
    assert [title.split(" (")[0] for title in state["axis_titles"]] == ["PC1", "PC2", "PC3"]
    assert 0 < state["quality"]["trustworthiness"] <= 1
    points = client.get(f"/api/jobs/{state['id']}/points")
    assert points.headers["content-type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(points.content).read_all()
    assert table.num_rows == 61
    assert table.schema.field("x").type == pa.float32()
    assert {"key", "x", "y", "z"} <= set(table.column_names)
    assert "label" not in table.column_names  # the keys are the labels here: not sent twice
    assert "terrible" in table.column("key").to_pylist()
    # each row's vector length comes along, for colouring and the histograms
    rows = [glove.row(key) for key in table.column("key").to_pylist()]
    assert np.allclose(table.column("norm").to_numpy(), glove.norms[rows], rtol=1e-6)
    parquet = client.get(f"/api/jobs/{state['id']}/points.parquet")
    assert parquet.status_code == 200 and ".parquet" in parquet.headers["content-disposition"]
    saved = pd.read_parquet(io.BytesIO(parquet.content))
    assert saved["key"].tolist() == table.column("key").to_pylist()
    assert np.allclose(saved["x"], table.column("x").to_numpy(), atol=1e-6)
    as_csv = client.get(f"/api/jobs/{state['id']}/points.csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    read_back = pd.read_csv(io.StringIO(as_csv.text), keep_default_na=False)
    assert read_back["key"].tolist() == saved["key"].tolist()
    assert read_back["label"].tolist() == saved["label"].tolist()
    assert client.get(f"/api/jobs/{state['id']}/points.exe").status_code == 422
    shared = client.get(f"/api/jobs/{state['id']}/figure.html", params={"color": "group"})
    assert shared.status_code == 200 and shared.headers["content-type"].startswith("text/html")
    assert "attachment" in shared.headers["content-disposition"]
    assert "terrible" in shared.text and not re.search(r"<script[^>]+src=.https?:", shared.text)
    wrong = client.get(f"/api/jobs/{state['id']}/figure.html", params={"color": "no-such"})
    assert wrong.status_code == 400


def test_a_running_job_reports_its_progress(client):
    # a seed no other test asks for, so the projection is computed, not read from the cache
    request = {"method": "tsne", "neighborhood": "wonderful", "random_state": 11}
    job = client.post("/api/sources/glove-6b-50d/projections", json=request).json()
    seen = []
    while job["state"] in ("queued", "running"):
        seen.append(job["progress"])
        time.sleep(0.05)
        job = client.get(f"/api/jobs/{job['id']}").json()
    assert job["state"] == "done" and job["progress"] == 1.0
    assert job["phase"].startswith("t-SNE 3D of 61 rows")
    reported = [p for p in seen if p is not None]
    assert reported == sorted(reported) and all(0 <= p <= 1 for p in reported)


def test_a_failed_job_does_not_take_the_server_down(client):
    # perplexity above the neighbourhood's size fails inside the job
    request = {"method": "tsne", "neighborhood": "terrible", "similar": 5, "opposite": 5,
               "perplexity": 50}  # fmt: skip
    job = client.post("/api/sources/glove-6b-50d/projections", json=request).json()
    state = wait_for(client, job["id"])
    assert state["state"] == "failed" and "perplexity" in state["error"]
    assert client.get(f"/api/jobs/{job['id']}/points").status_code == 409
    assert client.get("/api/sources").status_code == 200
    unknown = client.post("/api/sources/glove-6b-50d/projections", json={"neighborhood": "beautyy"})
    assert unknown.status_code == 404 and "beauty" in unknown.json()["suggestions"]


def test_openapi_describes_the_api(client):
    schema = client.get("/openapi.json").json()
    assert "/api/sources/{source}/neighbors" in schema["paths"]
    assert "NeighborsAnswer" in schema["components"]["schemas"]


def test_no_sources_is_an_error():
    with pytest.raises(embscope.InvalidParameterError, match="at least one source"):
        create_app([])


def test_serve_listens_on_loopback_and_a_free_port_and_opens_the_page(tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys
    import urllib.request

    # --open hands the address to the user's browser: here $BROWSER, a command that notes it
    opened = tmp_path / "opened.txt"
    browser = f"sh -c 'echo \"$0\" > {opened}' %s"
    command = [sys.executable, "-m", "embscope", "serve", "glove-6b-50d", "--port", "0", "--open"]
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "BROWSER": browser},
    ) as process:
        try:
            line = process.stdout.readline()
            address = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            assert address and int(address.group(1)) > 0, line
            url = f"{address.group(0)}api/sources/glove-6b-50d/neighbors?query=beauty&top_k=2"
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=10) as response:
                        hits = json.load(response)["hits"]
                    break
                except OSError:
                    assert time.monotonic() < deadline and process.poll() is None
                    time.sleep(0.2)
            assert [h["key"] for h in hits] == ["beautiful", "glamour"]
            while not opened.exists() or not opened.read_text().strip():
                assert time.monotonic() < deadline, "--open did not open the page"
                time.sleep(0.2)
            assert opened.read_text().strip() == address.group(0)
        finally:
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=30)
    assert "Traceback" not in stderr


def test_document_space_classes_and_text_search(ag_news_docs, glove):
    app = create_app([ag_news_docs, glove])
    with TestClient(app, base_url=LOCAL) as client:
        listed = client.get("/api/sources").json()[0]
        source = listed["id"]
        assert listed["label_column"] == "class"
        answer = client.get(f"/api/sources/{source}/classes").json()
        expected = ag_news_docs.class_similarity()
        assert answer["labels"] == [str(v) for v in expected.labels]
        assert np.allclose(answer["within"], expected.within.to_numpy(), atol=1e-6)
        matrix = np.array(answer["mean"])
        assert (np.diag(matrix) > matrix.max(axis=1, where=~np.eye(len(matrix), dtype=bool),
                                            initial=-1)).all()  # fmt: skip
        # a typed text is encoded by the space's own model: Business articles come first
        search = client.get(
            f"/api/sources/{source}/neighbors", params={"query": "stock markets fell", "top_k": 5}
        ).json()
        rows = [hit["row"] for hit in search["hits"]]
        assert (ag_news_docs.metadata["class"].iloc[rows] == "Business").sum() >= 4
        # a space without labels: a clear 400, not a crash
        words = client.get("/api/sources/glove-6b-50d/classes")
        assert words.status_code == 400 and "label" in words.json()["detail"]


def test_cluster_labels_name_the_dense_regions(client, glove):
    request = {"method": "umap", "n_components": 2, "neighborhood": "terrible",
               "similar": 100, "opposite": 100}  # fmt: skip
    job = client.post("/api/sources/glove-6b-50d/projections", json=request).json()
    state = wait_for(client, job["id"])
    assert state["state"] == "done", state
    clusters = client.get(f"/api/jobs/{job['id']}/clusters").json()
    assert len(clusters) >= 2
    assert all(len(c["position"]) == 2 and c["size"] >= 5 for c in clusters)
    assert [c["size"] for c in clusters] == sorted((c["size"] for c in clusters), reverse=True)
    # the similar and the opposite words fall apart, and each name comes from one side
    similar = set(glove.neighbors("terrible", top_k=100)["key"]) | {"terrible"}
    opposite = set(glove.opposites("terrible", top_k=100)["key"])
    sides = set()
    for cluster in clusters:
        words = set(cluster["label"].split(", "))
        assert len(words) == 3
        sides.add("similar" if words <= similar else "opposite" if words <= opposite else "mixed")
    assert {"similar", "opposite"} <= sides


def test_cluster_names_are_kept_only_while_their_job_is():
    """Each projection's cluster names are computed once and kept, but only while the job
    store keeps the job: a client starting projection after projection cannot grow them."""
    rng = np.random.default_rng(0)
    blobs = np.concatenate([rng.normal(centre, 0.1, (30, 8)) for centre in (-1, 1)])
    space = embscope.EmbeddingSpace(blobs.astype(np.float32), [f"w{i}" for i in range(60)])
    app = create_app([space])
    cached = state_of(app).clusters
    started = []
    with TestClient(app, base_url=LOCAL) as client:
        (source,) = [s["id"] for s in client.get("/api/sources").json()]
        for seed in range(KEEP_FINISHED + 8):
            # a seed of its own makes each request a job of its own (PCA itself ignores it)
            request = {"method": "pca", "n_components": 2, "random_state": seed}
            job = client.post(f"/api/sources/{source}/projections", json=request).json()
            while job["state"] in ("queued", "running"):
                time.sleep(0.005)
                job = client.get(f"/api/jobs/{job['id']}").json()
            assert job["state"] == "done", job
            first = client.get(f"/api/jobs/{job['id']}/clusters").json()
            assert first and client.get(f"/api/jobs/{job['id']}/clusters").json() == first
            started.append(job["id"])
            # the newest finished jobs the runner keeps, and the one whose start dropped the oldest
            assert len(cached) <= KEEP_FINISHED + 1
        kept = [i for i in started if client.get(f"/api/jobs/{i}").status_code == 200]
    assert len(kept) < len(started)
    assert len(cached) == len(kept) and all(i in cached for i in kept)


def test_serve_checks_its_sources_before_listening(tmp_path):
    import subprocess
    import sys

    missing = tmp_path / "no-such-vectors.vec"
    completed = subprocess.run(
        [sys.executable, "-m", "embscope", "serve", str(missing), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1
    assert "no such file or directory" in completed.stderr and "Traceback" not in completed.stderr
    assert "serving" not in completed.stdout


def test_token_scan_job(client):
    job = client.post("/api/sources/minilm/tokens", json={}).json()
    again = client.post("/api/sources/minilm/tokens", json={}).json()
    assert job["id"] == again["id"]  # one scan, shared
    state = wait_for(client, job["id"])
    assert state["state"] == "done", state
    answer = client.get(f"/api/jobs/{job['id']}/tokens", params={"top": 10}).json()
    assert answer["indicator"] == "output_cosine"
    assert answer["summary"]["references"].startswith("994 placeholder tokens")
    assert [c["rank"] for c in answer["candidates"]] == list(range(1, 11))
    assert all(c["category"] == "ok" for c in answer["candidates"])
    # a token scan is not a projection, and the other way round
    assert client.get(f"/api/jobs/{job['id']}/points").status_code == 409


def test_neighbors_leave_out_kinds_of_rows(client, minilm):
    path = "/api/sources/minilm/neighbors"
    asked = {"query": "beauty", "metric": "euclidean", "top_k": 15}
    plain = [h["key"] for h in client.get(path, params=asked).json()["hits"]]
    assert "[MASK]" in plain and any(k.startswith("[unused") for k in plain)
    answer = client.get(path, params={**asked, "skip": "special,unused"}).json()
    keys = [h["key"] for h in answer["hits"]]
    assert "[MASK]" not in keys and not any(k.startswith("[unused") for k in keys)
    expected = minilm.neighbors("beauty", metric="euclidean", top_k=15, skip=["special", "unused"])
    assert keys == expected["key"].tolist()
    # the same list given as repeated parameters; opposites leave them out too
    repeated = client.get(path, params={**asked, "skip": ["special", "unused"]}).json()
    assert [h["key"] for h in repeated["hits"]] == keys
    opposite = client.get(
        path, params={"query": "beauty", "opposite": True, "top_k": 20, "skip": "pieces"}
    ).json()
    assert [h["key"] for h in opposite["hits"]] == minilm.opposites(
        "beauty", top_k=20, skip=["pieces"]
    )["key"].tolist()
    # an unknown kind: refused, and the message names the kinds there are
    refused = client.get(path, params={**asked, "skip": "special,nonsense"})
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert "'special', 'unused', 'pieces' or 'bytes'" in error["msg"] and "\n" not in error["msg"]


def axes_points(client, source, **request):
    started = client.post(
        f"/api/sources/{source}/projections", json={"method": "axes", "n_components": 2, **request}
    )
    assert started.status_code == 202, started.json()
    state = wait_for(client, started.json()["id"])
    assert state["state"] == "done", state
    table = pa.ipc.open_stream(client.get(f"/api/jobs/{state['id']}/points").content).read_all()
    return state, table


def test_axes_projection_places_rows_as_the_library_does(client, minilm, glove):
    words = {"x_positive": "good", "x_negative": "bad", "y_positive": "man", "y_negative": "woman"}
    state, table = axes_points(client, "minilm", **words)
    assert "good − bad × man − woman" in state["description"] and state["rows"] == len(minilm)
    expected = minilm.project("axes", x=("good", "bad"), y=("man", "woman"))
    # the page names the axes as the figures title them
    assert state["axis_titles"] == axis_titles(expected)
    assert state["axis_titles"][0].startswith("good − bad")
    rows = [minilm.row(key) for key in table.column("key").to_pylist()]
    assert rows == expected.rows.tolist()
    got = np.stack([table.column("x").to_numpy(), table.column("y").to_numpy()], axis=1)
    assert np.allclose(got, expected.coordinates, atol=1e-6)
    # groups of words ("a+b"); a neighbourhood is placed on the whole space's axes
    grouped = {**words, "x_positive": "good+great", "x_negative": "bad+awful"}
    _, table = axes_points(client, "glove-6b-50d", neighborhood="terrible", **grouped)
    x = glove.direction(["good", "great"], ["bad", "awful"])
    y = glove.direction("man", "woman")
    around = glove.neighborhood("terrible", similar=30, opposite=30)
    keys = table.column("key").to_pylist()
    assert sorted(keys) == sorted(around.keys)
    assert np.allclose(
        table.column("x").to_numpy(), x.positions([glove.row(k) for k in keys]), atol=1e-5
    )
    assert np.allclose(
        table.column("y").to_numpy(), y.positions([glove.row(k) for k in keys]), atol=1e-5
    )


def test_axes_projection_refuses_unknown_words_and_missing_ends(client):
    path = "/api/sources/glove-6b-50d/projections"
    words = {"x_positive": "goodd", "x_negative": "bad", "y_positive": "man", "y_negative": "woman"}
    unknown = client.post(path, json={"method": "axes", "n_components": 2, **words})
    assert unknown.status_code == 404
    assert "good" in unknown.json()["suggestions"] and "goodd" in unknown.json()["detail"]
    missing = client.post(path, json={"method": "axes", "n_components": 2, "x_positive": "good"})
    assert missing.status_code == 400 and "y_negative" in missing.json()["detail"]
    words["x_positive"] = "good"
    three = client.post(path, json={"method": "axes", "n_components": 3, **words})
    assert three.status_code == 400 and "2-D" in three.json()["detail"]


def test_projection_scores_colour_every_row(client, glove):
    request = {"method": "pca", "n_components": 2, "neighborhood": "terrible"}
    started = client.post("/api/sources/glove-6b-50d/projections", json=request).json()
    job = wait_for(client, started["id"])
    path = f"/api/sources/glove-6b-50d/projections/{job['id']}/scores"
    answer = client.get(path, params={"query": "good", "metric": "euclidean"})
    assert answer.headers["content-type"] == "application/vnd.apache.arrow.stream"
    scores = pa.ipc.open_stream(answer.content).read_all().column("score")
    assert scores.type == pa.float32() and len(scores) == job["rows"] == 61
    points = pa.ipc.open_stream(client.get(f"/api/jobs/{job['id']}/points").content).read_all()
    rows = [glove.row(key) for key in points.column("key").to_pylist()]
    expected = glove.scores(glove["good"], metric="euclidean")[0][rows]
    assert np.allclose(scores.to_numpy(), expected, atol=1e-5)
    assert np.isclose(
        scores.to_numpy()[rows.index(glove.row("bad"))],
        glove.similarity("good", "bad", metric="euclidean"),
        atol=1e-4,
    )
    unknown = client.get(path, params={"query": "goodd"})
    assert unknown.status_code == 404 and "good" in unknown.json()["suggestions"]
    other = client.get(f"/api/sources/minilm/projections/{job['id']}/scores", params={"query": "a"})
    assert other.status_code == 409
