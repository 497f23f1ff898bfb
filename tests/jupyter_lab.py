"""A JupyterLab for the notebook tests and the notebook benchmark: a server on loopback with one
notebook of the given cells, its settings, data and runtime files in a folder of its own (no
user configuration is read), and helpers to run a cell and read its output in Chromium."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_answering(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    """Return once ``url`` answers; RuntimeError when ``server`` exits or time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url)
            return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer") from None
            time.sleep(0.3)


@contextmanager
def running_jupyter_lab(home: Path, cells: Sequence[str]) -> Iterator[str]:
    """Start JupyterLab with ``home/notebooks/explore.ipynb`` holding ``cells``; yields the
    notebook's URL (token included) and stops the server (and its kernels) afterwards."""
    root = home / "notebooks"
    root.mkdir(parents=True)
    notebook = {
        "cells": [
            {"cell_type": "code", "id": f"cell{i}", "metadata": {}, "execution_count": None,
             "outputs": [], "source": source}
            for i, source in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip
    (root / "explore.ipynb").write_text(json.dumps(notebook))
    # no "get Jupyter news?" prompt over the notebook (it would fetch from the network too)
    notification = home / "settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
    )
    port, token = free_port(), secrets.token_hex(16)
    log_path = home / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [
                sys.executable, "-m", "jupyterlab", "--no-browser",
                "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                "--ServerApp.allow_root=True", f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            try:
                wait_until_answering(f"http://127.0.0.1:{port}/api/status?token={token}", server)
            except RuntimeError:
                log.flush()
                raise RuntimeError(
                    "JupyterLab did not start:\n" + log_path.read_text()[-3000:]
                ) from None
            yield f"http://127.0.0.1:{port}/lab/tree/explore.ipynb?token={token}"
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


def run_cell(page, index: int) -> None:
    """Run the notebook's cell ``index`` as a user does: select it, press Shift+Enter."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".jp-InputArea-prompt").click()
    page.keyboard.press("Shift+Enter")


def output_of(page, index: int, marker: str, timeout: float = 60_000) -> str:
    """The text of cell ``index``'s output holding ``marker``, once it is there."""
    output = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea-output")
    output.filter(has_text=marker).first.wait_for(timeout=timeout)
    return output.filter(has_text=marker).first.inner_text().strip()
