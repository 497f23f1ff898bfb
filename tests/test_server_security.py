"""The web explorer's server against hostile clients and the pages a browser has open: the
Host, origin, content-type and body-size rules, the bounded and cancellable job queue, text
that no word holds, and Ctrl-C with jobs queued (a real ``embscope serve`` process)."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from fastapi.testclient import TestClient

from embscope.server import create_app

LOCAL = "http://127.0.0.1:8000"
TOKENS = "/api/sources/glove-6b-50d/tokens"
PROJECTIONS = "/api/sources/glove-6b-50d/projections"
JSON = {"Content-Type": "application/json"}
# a whole-space t-SNE (a 50,000-row sample of GloVe) runs for minutes here: a job that is
# still running when the test acts on it; each seed is a distinct job
LONG_TSNE = {"method": "tsne", "n_components": 2}


@pytest.fixture(scope="module")
def client(glove):
    with TestClient(create_app([glove], max_queued=2), base_url=LOCAL) as test_client:
        yield test_client


def wait_for(client, job_id, condition, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/api/jobs/{job_id}").json()
        if condition(state):
            return state
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not get there in {timeout} s: {state}")


# Host: against DNS rebinding


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST"])
def test_loopback_names_are_answered(client, host):
    answer = client.get("/api/sources", headers={"Host": host})
    assert answer.status_code == 200 and answer.json()[0]["id"] == "glove-6b-50d"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example",
                                  "10.0.0.7:8000", "localhost@evil.example", ""])  # fmt: skip
def test_a_foreign_host_gets_nothing(client, host):
    answer = client.get(
        "/api/sources/glove-6b-50d/neighbors", params={"query": "good"}, headers={"Host": host}
    )
    assert answer.status_code == 400
    assert "good" not in answer.text and "hits" not in answer.json()
    assert "Host" in answer.json()["detail"] or "--allow-host" in answer.json()["detail"]


def test_the_listening_address_and_allowed_names_are_answered(glove):
    app = create_app([glove], host="192.168.1.20", allowed_hosts=["explorer.lan"])
    with TestClient(app, base_url="http://192.168.1.20:8000") as client:
        assert client.get("/api/sources").status_code == 200
        assert client.get("/api/sources", headers={"Host": "explorer.lan:8000"}).status_code == 200
        assert client.get("/api/sources", headers={"Host": "192.168.1.21"}).status_code == 400


def test_every_address_answers_ip_addresses_but_not_names(glove):
    with TestClient(create_app([glove], host="0.0.0.0"), base_url="http://10.1.2.3") as client:
        assert client.get("/api/sources").status_code == 200
        assert client.get("/api/sources", headers={"Host": "[fe80::1]:80"}).status_code == 200
        refused = client.get("/api/sources", headers={"Host": "evil.example"})
        assert refused.status_code == 400 and "--allow-host" in refused.json()["detail"]


# state-changing requests: against CSRF


def test_a_cross_site_text_post_starts_nothing(client):
    forged = client.post(
        TOKENS,
        content='{"x": 1}',
        headers={"Content-Type": "text/plain", "Origin": "http://evil.example"},
    )
    assert forged.status_code == 403 and "evil.example" in forged.json()["detail"]
    plain = client.post(TOKENS, content="{}", headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415 and "application/json" in plain.json()["detail"]
    fetched = client.post(TOKENS, json={}, headers={"Sec-Fetch-Site": "cross-site"})
    assert fetched.status_code == 403
    sandboxed = client.post(TOKENS, json={}, headers={"Origin": "null"})
    assert sandboxed.status_code == 403
    other_port = client.post(TOKENS, json={}, headers={"Origin": "http://127.0.0.1:9999"})
    assert other_port.status_code == 403


def test_the_page_itself_may_post(client):
    same = client.post(
        PROJECTIONS,
        json={"method": "pca", "neighborhood": "good"},
        headers={"Origin": LOCAL, "Sec-Fetch-Site": "same-origin"},
    )
    assert same.status_code == 202
    assert wait_for(client, same.json()["id"], lambda s: s["state"] == "done")["rows"] == 61
    # a client that is not a browser sends no Origin at all
    assert (
        client.post(PROJECTIONS, json={"method": "pca", "neighborhood": "good"}).status_code == 202
    )
    assert client.delete("/api/jobs/no-such-job", headers=JSON).status_code == 404
    assert client.delete("/api/jobs/no-such-job").status_code == 415


def test_a_proxy_name_the_user_allowed_is_an_origin_of_the_page(glove):
    app = create_app([glove], allowed_hosts=["explorer.example.org"])
    with TestClient(app, base_url=LOCAL) as client:
        origin = {"Origin": "https://explorer.example.org"}
        started = client.post(PROJECTIONS, json={"neighborhood": "good"}, headers=origin)
        assert started.status_code == 202
        other = client.post(PROJECTIONS, json={}, headers={"Origin": "https://example.org"})
        assert other.status_code == 403


# bodies


def test_a_large_body_is_refused(client):
    padded = b'{"method": "pca"' + b" " * 70_000 + b"}"
    answer = client.post(PROJECTIONS, content=padded, headers=JSON)
    assert answer.status_code == 413 and "65,536 bytes" in answer.json()["detail"]

    def chunks():  # no Content-Length: counted while it is read
        yield b'{"method": "pca"'
        for _ in range(100):
            yield b" " * 1000
        yield b"}"

    assert client.post(PROJECTIONS, content=chunks(), headers=JSON).status_code == 413
    fitting = b'{"neighborhood": "bad"' + b" " * 1000 + b"}"
    fitting = client.post(PROJECTIONS, content=fitting, headers=JSON)
    assert fitting.status_code == 202


# text that no word holds, on every route that takes text


def _finished_projection(client) -> str:
    job = client.post(PROJECTIONS, json={"neighborhood": "bad"}).json()
    return wait_for(client, job["id"], lambda s: s["state"] == "done")["id"]


@pytest.mark.parametrize(
    "raw",
    ["%ED%A0%80", "%ED%B0%80x", "%FF", "a%00b", "%1B%5B31m", "x" * 300, "%F4%90%80%80"],
    ids=[
        "lone-high-surrogate",
        "lone-low-surrogate",
        "bad-byte",
        "nul",
        "escape",
        "too-long",
        "beyond-unicode",
    ],
)
def test_odd_text_in_a_query_string_is_a_4xx_with_a_message(client, raw):
    job = _finished_projection(client)
    source = "/api/sources/glove-6b-50d"
    for path in (
        f"{source}/neighbors?query={raw}",
        f"{source}/similarity?a=good&b={raw}",
        f"{source}/complete?prefix={raw}",
        f"{source}/profile?query={raw}",
        f"{source}/classes?label={raw}",
        f"/api/jobs/{job}/figure.html?color={raw}",
        f"/api/jobs/{job}/figure.html?color=similarity:{raw}",
    ):
        answer = client.get(path)
        assert 400 <= answer.status_code < 500, (path, answer.status_code)
        detail = answer.json()["detail"]
        assert detail and (isinstance(detail, str) or detail[0]["msg"]), path


ODD_BODIES = {
    "lone-high-surrogate": '{"neighborhood": "\\ud800"}',
    "lone-low-surrogate": '{"neighborhood": "good\\udfff"}',
    "nul": '{"neighborhood": "a\\u0000"}',
    "surrogate-for-a-choice": '{"method": "\\ud800"}',
    "surrogate-alone": '"\\ud800"',
    "too-long": '{"neighborhood": "' + "x" * 5000 + '"}',
    "too-deep": '{"neighborhood": ' + "[" * 5000 + "]" * 5000 + "}",
    "cut-off": '{"neighborhood": "\\ud800',
}


@pytest.mark.parametrize("body", ODD_BODIES.values(), ids=ODD_BODIES.keys())
def test_odd_text_in_a_projection_request_is_a_4xx_with_a_message(client, body):
    answer = client.post(PROJECTIONS, content=body, headers=JSON)
    assert 400 <= answer.status_code < 500, answer.text
    detail = answer.json()["detail"]
    assert detail and (isinstance(detail, str) or detail[0]["msg"])


def test_refused_control_characters_are_named(client):
    answer = client.get("/api/sources/glove-6b-50d/neighbors", params={"query": "go\x00od"})
    assert answer.status_code == 422 and "U+0000" in answer.json()["detail"][0]["msg"]
    # what a word or a typed sentence holds is still fine: accents, CJK, emoji, a tab
    for query in ("café", "日本", "good\tbad", "🙂"):
        answer = client.get("/api/sources/glove-6b-50d/neighbors", params={"query": query})
        assert answer.status_code in (200, 404), (query, answer.text)


# the job queue


def test_the_queue_is_bounded_shared_and_cancellable(client):
    def start(seed):
        return client.post(PROJECTIONS, json={**LONG_TSNE, "random_state": seed})

    def cancel(job_id):
        return client.delete(f"/api/jobs/{job_id}", headers=JSON)

    running = start(101).json()["id"]
    wait_for(client, running, lambda s: s["state"] == "running")
    first, second = start(102), start(103)
    assert first.status_code == second.status_code == 202
    assert first.json()["state"] == second.json()["state"] == "queued"
    full = start(104)
    assert full.status_code == 429 and "at most 2" in full.json()["detail"]
    assert int(full.headers["Retry-After"]) > 0
    # asking again for a waiting job joins it: no room needed
    again = start(102)
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]

    dropped = cancel(first.json()["id"])
    assert dropped.status_code == 200 and dropped.json()["state"] == "cancelled"
    assert client.get(f"/api/jobs/{first.json()['id']}").json()["state"] == "cancelled"
    third = start(104)
    assert third.status_code == 202
    # a cancelled job is not joined: asking for it again needs room for a new one
    assert start(102).status_code == 429
    cancel(second.json()["id"])
    restarted = start(102)
    assert restarted.status_code == 202 and restarted.json()["id"] != first.json()["id"]
    for job in (restarted.json()["id"], third.json()["id"], running):
        assert cancel(job).json()["state"] in ("cancelled", "running")


@pytest.mark.slow  # about 10 s
def test_a_running_job_stops_at_its_next_progress_step(client):
    job = client.post(PROJECTIONS, json={**LONG_TSNE, "random_state": 201}).json()
    # past the neighbour search: its optimisation reports every ten iterations
    wait_for(client, job["id"], lambda s: s["state"] == "running" and (s["progress"] or 0) > 0)
    answer = client.delete(f"/api/jobs/{job['id']}", headers=JSON).json()
    assert answer["state"] in ("running", "cancelled")
    stopped = wait_for(client, job["id"], lambda s: s["state"] != "running")
    assert stopped["state"] == "cancelled" and "cancelled" in stopped["error"]
    assert stopped["progress"] < 1
    assert client.get(f"/api/jobs/{job['id']}/points").status_code == 409
    # a finished job is left as it is
    done = _finished_projection(client)
    assert client.delete(f"/api/jobs/{done}", headers=JSON).json()["state"] == "done"
    assert client.get(f"/api/jobs/{done}/points").status_code == 200


# a real server: bodies on the wire, the slow lane, Ctrl-C


@contextlib.contextmanager
def serving(*sources):
    """``embscope serve SOURCES --port 0`` in its own process: yields it and its address."""
    command = [sys.executable, "-m", "embscope", "serve", *sources, "--port", "0"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            line = process.stdout.readline()
            found = re.search(r"http://(127\.0\.0\.1):(\d+)/", line)
            assert found, line + process.stderr.read()
            yield process, found.group(1), int(found.group(2))
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.communicate(timeout=60)


def _call(host, port, method, path, body=None, timeout=60):
    request = urllib.request.Request(
        f"http://{host}:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers=JSON if method in ("POST", "DELETE") else {},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.fixture(scope="module")
def server():
    with serving("glove-6b-50d") as (_, host, port):
        assert _call(host, port, "GET", "/api/sources")[0] == 200
        yield host, port


def _response_while_sending(host, port, head, chunks):
    """Send ``head`` and then ``chunks`` until the server answers; the answer's status line
    and how many bytes of body went out before it."""
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(head)
        sent = 0
        for chunk in chunks:
            connection.setblocking(False)
            try:
                answer = connection.recv(200)
            except BlockingIOError:
                answer = b""
            connection.setblocking(True)
            if answer:
                return answer.split(b"\r\n")[0], sent
            try:
                connection.sendall(chunk)
            except OSError:  # the server closed the connection after answering
                break
            sent += len(chunk)
        connection.settimeout(30)
        return connection.recv(200).split(b"\r\n")[0], sent


def test_a_body_is_cut_off_at_the_limit_not_buffered(server):
    host, port = server
    head = (
        f"POST {PROJECTIONS} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    piece = b" " * 16_384
    chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
    status, sent = _response_while_sending(host, port, head, [b'4\r\n{"a"\r\n'] + [chunk] * 6400)
    assert status.startswith(b"HTTP/1.1 413"), status
    assert sent < 4 * 1024 * 1024  # answered long before the 100 MB were sent
    # a Content-Length of 100 MB is refused before a byte of it is read
    lying = (
        f"POST {PROJECTIONS} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
    ).encode()
    status, sent = _response_while_sending(host, port, lying, [b""])
    assert status.startswith(b"HTTP/1.1 413") and sent == 0


def test_slow_requests_wait_in_their_own_lane(server):
    host, port = server
    clients = 16
    start = threading.Barrier(clients + 1)
    statuses: list[int] = []

    def profile(word):
        start.wait()
        path = f"/api/sources/glove-6b-50d/profile?query={word}&top_k=1000&sample=5000"
        statuses.append(_call(host, port, "GET", path, timeout=120)[0])

    words = ["good", "bad", "day", "night", "king", "queen", "water", "fire"] * 2
    threads = [threading.Thread(target=profile, args=(word,)) for word in words]
    for thread in threads:
        thread.start()
    start.wait()
    # the quick routes are answered while the profiles queue
    status, answer = _call(host, port, "GET", "/api/sources/glove-6b-50d/neighbors?query=beauty")
    assert status == 200 and answer["hits"][0]["key"] == "beautiful"
    for thread in threads:
        thread.join(timeout=300)
    # one computing and eight waiting: the rest are told to come back
    assert sorted(set(statuses)) == [200, 429] and statuses.count(200) >= 9


def test_ctrl_c_stops_a_server_with_jobs_queued():
    with serving("glove-6b-50d") as (process, host, port):
        jobs = []
        for seed in range(6):
            status, job = _call(
                host, port, "POST", PROJECTIONS, {**LONG_TSNE, "random_state": seed}
            )
            assert status == 202
            jobs.append(job["id"])
        deadline = time.monotonic() + 120
        while _call(host, port, "GET", f"/api/jobs/{jobs[0]}")[1]["state"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert _call(host, port, "GET", f"/api/jobs/{jobs[1]}")[1]["state"] == "queued"
        process.send_signal(signal.SIGINT)
        try:
            _, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise AssertionError("embscope serve still running 30 s after Ctrl-C") from None
        assert process.returncode == 0
        assert "Traceback" not in stderr, stderr
        with pytest.raises(OSError):
            socket.create_connection((host, port), timeout=5).close()


def test_an_unexpected_failure_tells_clients_its_kind_not_its_text(caplog):
    from embscope.errors import InvalidParameterError
    from embscope.server.jobs import JobRunner

    def leaky(report):
        raise RuntimeError("cannot open /home/alice/secret-model/config.json")

    def user_error(report):
        raise InvalidParameterError("perplexity must be less than the number of rows (11)")

    runner = JobRunner()
    try:
        with caplog.at_level("ERROR", logger="embscope.server.jobs"):
            failed = runner.submit("leaky", "a job", leaky)
            assert failed.finished.wait(30)
        assert failed.state == "failed" and "RuntimeError" in failed.error
        assert "/home/alice" not in failed.error and "/home/alice" in caplog.text
        mistake = runner.submit("mistake", "another job", user_error)
        assert mistake.finished.wait(30)
        assert mistake.error == "perplexity must be less than the number of rows (11)"
    finally:
        runner.shutdown()
