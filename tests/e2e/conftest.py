"""A real LoRA Studio server and a headless Chromium driving it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from lora_studio import processes
from lora_studio.runs import list_runs, read_status
from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "e2e" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_home(tmp_path_factory) -> Path:
    """The LORA_STUDIO_HOME of this module's server: a test may put runs into its runs/ folder."""
    return tmp_path_factory.mktemp("e2e-home")


@pytest.fixture(scope="module")
def server(server_home):
    home = server_home
    port = _free_port()
    log = (home / "server.log").open("w")  # closed below
    env = {**os.environ, "LORA_STUDIO_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lora_studio", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    else:
        proc.kill()
    if proc.poll() is not None:
        log.close()
        pytest.fail("the server did not start:\n" + (home / "server.log").read_text()[-3000:])
    yield url
    proc.terminate()
    proc.wait(timeout=20)
    log.close()
    _end_workers(home)


def _end_workers(home: Path) -> None:
    """Workers outlive their server by design; a test that failed mid-run must not leave one training (it
    would slow every later test down)."""
    for paths in list_runs(home / "runs"):
        status = read_status(paths)
        if status.state == "running" and processes.attach(status.pid, status.pid_start, paths.root):
            processes.signal_group(int(status.pid), signal.SIGKILL)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs it (apt package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    # English pages: a browser set to another language with a page of its own is sent there (ui/languages.py)
    context = browser.new_context(locale="en-US", viewport={"width": 1300, "height": 1800})
    yield context.new_page()
    context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
