"""Load tests of the explorer's API on loopback, with the server run as a user starts it
(``embscope serve glove-6b-50d --port 0``) in its own process; each client is a thread with its
own keep-alive connection.

- neighbours: 20 clients ask for the neighbours of random GloVe words;
- mixed: 5 clients hammer the most expensive profile (``top_k=1000&sample=5000``, a random word
  each time) while 5 others ask for neighbours: how long the neighbour queries take then.
  ``--baseline REV`` runs the mixed case against the server of git revision REV as well, in
  the same run, for a before/after comparison on the same machine and load.

Bounded: each case runs ``--seconds`` (30) of load, at most 100,000 requests.

Run: .venv/bin/python benchmarks/bench_serve.py [--clients 20] [--seconds 30] [--baseline REV]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np

MAX_REQUESTS = 100_000
SOURCE = "/api/sources/glove-6b-50d"
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Kind:
    """One kind of request: how a client builds it and what a good answer holds."""

    name: str
    path: Callable[[random.Random], str]
    good: Callable[[dict], bool]
    latencies: list[float] = field(default_factory=list)
    refused: int = 0  # 429: the server said "come back later", as it may under load
    errors: list[str] = field(default_factory=list)


@contextlib.contextmanager
def _server(package_root: Path | None = None) -> Iterator[int]:
    """``embscope serve glove-6b-50d --port 0``, from this checkout or from ``package_root``
    (a revision's ``src``); yields its port and stops it with Ctrl-C."""
    env = dict(os.environ)
    if package_root is not None:
        env["PYTHONPATH"] = str(package_root)
    process = subprocess.Popen(
        [sys.executable, "-m", "embscope", "serve", "glove-6b-50d", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not found:
            raise RuntimeError(f"the server did not start: {line}{process.stderr.read()}")
        port = int(found.group(1))
        # the server loads a space on its first request: make that one before the clock starts
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", "/api/sources")
        connection.getresponse().read()
        yield port
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)


@contextlib.contextmanager
def _revision(revision: str) -> Iterator[Path]:
    """The ``src`` folder of git revision ``revision``, exported to a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="embscope-baseline-") as folder:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", revision, "src/embscope"],
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        yield Path(folder) / "src"


def _load(port: int, clients: list[Kind], seconds: float) -> float:
    """Each entry of ``clients`` is one client thread sending its kind's requests until the
    time is up; returns the wall time."""
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    done = [0]

    def client(kind: Kind, seed: int) -> None:
        rng = random.Random(seed)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < stop:
            with lock:
                if done[0] >= MAX_REQUESTS:
                    return
                done[0] += 1
            started = time.perf_counter()
            try:
                connection.request("GET", kind.path(rng))
                response = connection.getresponse()
                body = response.read()
                if response.status == 429:
                    outcome = "refused"
                else:
                    good = response.status == 200 and kind.good(json.loads(body))
                    outcome = None if good else f"status {response.status}"
            except (OSError, http.client.HTTPException, ValueError) as error:
                outcome = repr(error)
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = time.perf_counter() - started
            with lock:
                if outcome is None:
                    kind.latencies.append(elapsed)
                elif outcome == "refused":
                    kind.refused += 1
                else:
                    kind.errors.append(outcome)

    threads = [threading.Thread(target=client, args=(kind, n)) for n, kind in enumerate(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - began


def _neighbours(words: list[str]) -> Kind:
    return Kind(
        "neighbours",
        lambda rng: f"{SOURCE}/neighbors?query={quote(rng.choice(words))}&top_k=10",
        lambda answer: len(answer["hits"]) == 10,
    )


def _profiles(words: list[str]) -> Kind:
    return Kind(
        "profiles",
        lambda rng: f"{SOURCE}/profile?query={quote(rng.choice(words))}&top_k=1000&sample=5000",
        lambda answer: len(answer["rows"]) == 1000 and len(answer["sample"]) == 5000,
    )


def _row(label: str, kind: Kind, wall: float) -> str:
    values = np.array(kind.latencies) * 1000
    if not len(values):
        return f"| {label} | {kind.name} | 0 | {kind.refused} | {len(kind.errors)} | | | | |"
    return (
        f"| {label} | {kind.name} | {len(values):,} | {kind.refused} | {len(kind.errors)} | "
        f"{len(values) / wall:,.1f} | {np.percentile(values, 50):.1f} | "
        f"{np.percentile(values, 99):.1f} | {values.max():.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20, help="neighbour clients, alone")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--profile-clients", type=int, default=5)
    parser.add_argument("--neighbour-clients", type=int, default=5)
    parser.add_argument("--baseline", metavar="REV", help="also run the mixed case on REV")
    parser.add_argument("--only-mixed", action="store_true")
    arguments = parser.parse_args()
    import embscope

    # the clients ask for the 5,000 most frequent words, as users type them
    words = embscope.load("glove-6b-50d").keys[:5000]
    rows = []

    def mixed(label: str, package_root: Path | None) -> None:
        with _server(package_root) as port:
            neighbours, profiles = _neighbours(words), _profiles(words)
            clients = [profiles] * arguments.profile_clients
            clients += [neighbours] * arguments.neighbour_clients
            wall = _load(port, clients, arguments.seconds)
        rows.extend([_row(label, neighbours, wall), _row(label, profiles, wall)])
        for kind in (neighbours, profiles):
            if kind.errors:
                print(f"{label} {kind.name}: first errors {kind.errors[:3]}", file=sys.stderr)

    if not arguments.only_mixed:
        with _server() as port:
            alone = _neighbours(words)
            wall = _load(port, [alone] * arguments.clients, arguments.seconds)
        rows.append(_row(f"{arguments.clients} neighbour clients", alone, wall))
    if arguments.baseline:
        with _revision(arguments.baseline) as package_root:
            mixed(f"mixed, {arguments.baseline}", package_root)
    mixed("mixed, this checkout", None)
    print(
        f"{arguments.seconds:.0f} s per case on loopback, GloVe 6B 50d (400,000 rows); mixed: "
        f"{arguments.profile_clients} clients on profile?top_k=1000&sample=5000 and "
        f"{arguments.neighbour_clients} on neighbors?top_k=10, random words"
    )
    print("| case | requests of | answered | refused (429) | errors | per s | p50 ms | p99 ms "
          "| max ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
