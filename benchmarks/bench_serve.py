"""Load test of the explorer's API on loopback: 20 concurrent clients ask for neighbours of
random GloVe words for 30 seconds; latency percentiles, throughput and errors are reported.

The server runs as a user starts it (``embscope serve glove-6b-50d --port 0``) in its own
process; each client is a thread with its own keep-alive connection. Bounded: 30 s of load,
at most 100,000 requests.

Run: .venv/bin/python benchmarks/bench_serve.py [--clients 20] [--seconds 30]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import quote

import numpy as np

MAX_REQUESTS = 100_000


def _start_server() -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "embscope", "serve", "glove-6b-50d", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not found:
        process.kill()
        raise RuntimeError(f"the server did not start: {line}{process.stderr.read()}")
    return process, int(found.group(1))


def _warm_up_and_words(port: int) -> list[str]:
    """The server loads a space on its first request: make that one before the clock starts.
    The clients ask for the 5,000 most frequent words, as users type them."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/api/sources")
    connection.getresponse().read()
    import embscope

    return embscope.load("glove-6b-50d").keys[:5000]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    arguments = parser.parse_args()
    process, port = _start_server()
    try:
        words = _warm_up_and_words(port)
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        stop = time.monotonic() + arguments.seconds

        def client(seed: int) -> None:
            rng = random.Random(seed)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while time.monotonic() < stop:
                with lock:
                    if len(latencies) + len(errors) >= MAX_REQUESTS:
                        return
                word = rng.choice(words)
                started = time.perf_counter()
                try:
                    connection.request(
                        "GET",
                        f"/api/sources/glove-6b-50d/neighbors?query={quote(word)}&top_k=10",
                    )
                    response = connection.getresponse()
                    body = response.read()
                    ok = response.status == 200 and len(json.loads(body)["hits"]) == 10
                    outcome = None if ok else f"status {response.status}"
                except (OSError, http.client.HTTPException, ValueError) as error:
                    outcome = repr(error)
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                elapsed = time.perf_counter() - started
                with lock:
                    (latencies.append(elapsed) if outcome is None else errors.append(outcome))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(arguments.clients)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - began
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    values = np.array(latencies) * 1000
    print(f"{arguments.clients} clients, {wall:.0f} s, neighbours of random GloVe words (top 10)")
    print("| requests | errors | requests/s | p50 ms | p90 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {len(values):,} | {len(errors)} | {len(values) / wall:,.0f} | "
        f"{np.percentile(values, 50):.1f} | {np.percentile(values, 90):.1f} | "
        f"{np.percentile(values, 99):.1f} | {values.max():.1f} |"
    )
    if errors:
        print("first errors:", errors[:3])


if __name__ == "__main__":
    main()
