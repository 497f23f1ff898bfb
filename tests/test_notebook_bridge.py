"""The notebook explorer's in-process app: the page's requests, answered by the FastAPI app of
``embscope serve`` inside the kernel, get the same answers as over HTTP (a real server would
be the same app), and requests the page never sends are refused."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from embscope.errors import InvalidParameterError
from embscope.notebook.bridge import MAX_REQUEST_BYTES, InProcessApp
from embscope.server.app import create_app

LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def apps(glove_1000):
    app = create_app([glove_1000])
    bridge = InProcessApp(app)
    with TestClient(app, base_url=LOCAL) as client:
        yield bridge, client
    bridge.close()


def test_answers_equal_the_served_apps(apps):
    bridge, client = apps
    for url in (
        "/api/sources",
        "/api/sources/glove-6b-50d/neighbors?query=good&top_k=5",
        "/api/sources/glove-6b-50d/neighbors?query=good&top_k=5&opposite=true&restrict_vocab=500",
        "/api/sources/glove-6b-50d/similarity?a=president&b=government",
    ):
        answer, served = bridge.request("GET", url), client.get(url)
        assert answer.status == served.status_code == 200, url
        assert json.loads(answer.body) == served.json(), url
        assert answer.content_type == served.headers["content-type"]
    unknown = bridge.request("GET", "/api/sources/glove-6b-50d/neighbors?query=goood")
    assert unknown.status == 404 and "good" in json.loads(unknown.body)["suggestions"]


def test_a_projection_job_runs_and_its_points_come_back_as_arrow(apps, glove_1000):
    bridge, _ = apps
    started = bridge.request(
        "POST",
        "/api/sources/glove-6b-50d/projections",
        body=json.dumps({"method": "pca", "n_components": 2}).encode(),
        content_type="application/json",
    )
    assert started.status == 202
    job = json.loads(started.body)["id"]
    deadline = time.monotonic() + 60
    while json.loads(bridge.request("GET", f"/api/jobs/{job}").body)["state"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    points = bridge.request("GET", f"/api/jobs/{job}/points")
    assert points.content_type == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(io.BytesIO(points.body)).read_all()
    expected = glove_1000.project("pca")
    assert table.column("key").to_pylist() == glove_1000.keys
    np.testing.assert_allclose(table.column("x").to_numpy(), expected.coordinates[:, 0], atol=1e-5)


def test_requests_the_page_never_sends_are_refused(apps):
    bridge, _ = apps
    for method, url, message in (
        ("GET", "/etc/passwd", "/api/ paths only"),
        ("GET", "http://example.org/api/sources", "/api/ paths only"),
        ("PUT", "/api/sources", "no PUT requests"),
        ("GET", "/api/sources/ké", "ASCII"),
    ):
        with pytest.raises(InvalidParameterError, match=message):
            bridge.request(method, url)
    with pytest.raises(InvalidParameterError, match="over"):
        bridge.request("POST", "/api/compare", body=b"x" * (MAX_REQUEST_BYTES + 1))
    # the app's own guard still stands: a POST must say it is JSON
    plain = bridge.request("POST", "/api/compare", body=b"{}", content_type="text/plain")
    assert plain.status == 415
