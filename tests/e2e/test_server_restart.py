"""The web server is SIGKILLed mid-run: the worker trains on, a new server re-attaches, serves the whole
loss history and can still stop the run. Real `python -m lora_studio serve` processes, driven with
gradio_client as a browser would call them (no Chromium needed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client

from lora_studio.metrics import read_all
from lora_studio.processes import process_start_time
from lora_studio.runs import RunPaths, create_run, new_run_dir, read_status, update_status
from tests.conftest import ROOT
from tests.e2e.conftest import _free_port
from tests.integration.helpers import tiny_config


def start_server(home: Path, name: str) -> tuple[subprocess.Popen, str]:
    """A dashboard on a free port with its own LORA_STUDIO_HOME, started as `make run` starts it."""
    port = _free_port()
    env = {**os.environ, "LORA_STUDIO_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    log = (home / f"{name}.log").open("w")  # the child holds it; closed when the test ends
    proc = subprocess.Popen(
        [sys.executable, "-m", "lora_studio", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail(f"server {name} did not start:\n" + (home / f"{name}.log").read_text()[-3000:])


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def loss_steps(chart: dict) -> list[int]:
    figure = json.loads(chart["plot"])
    return next(t["x"] for t in figure["data"] if t.get("name") == "loss")


def test_a_killed_server_leaves_the_worker_training_and_a_new_server_reattaches(studio_home, tiny_model_dir, chat_file):
    studio_home.mkdir(parents=True, exist_ok=True)
    # Queued the way the Train tab queues it; the first server's job manager starts the worker.
    cfg = tiny_config(
        tiny_model_dir,
        chat_file,
        "training.max_steps=3000",
        "training.save_steps=50",
        "training.sample_every_save=false",
    )
    paths: RunPaths = new_run_dir(studio_home / "runs", "restart")
    create_run(paths, cfg)
    update_status(paths, queued_at=time.time(), resume=False)
    servers: list[subprocess.Popen] = []
    try:
        first, _ = start_server(studio_home, "server-a")
        servers.append(first)
        wait_until(
            lambda: read_status(paths).state == "running" and read_status(paths).step >= 3,
            180,
            "the worker's first steps",
        )
        pid = read_status(paths).pid
        assert os.getpgid(pid) == pid != os.getpgid(first.pid)  # its own process group

        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        step_at_kill = read_status(paths).step
        wait_until(lambda: read_status(paths).step > step_at_kill + 2, 60, "training to go on without a server")
        assert process_start_time(pid) == read_status(paths).pid_start  # the very same worker process

        second, url = start_server(studio_home, "server-b")
        servers.append(second)
        client = Client(url, verbose=False)
        before = [r.step for r in read_all(paths.metrics) if r.event == "log"]
        # A page opened on the new server: its load event picks the run training now and draws its history.
        picker, status, _progress, queue, chart, _log, _samples, *_timer = client.predict(api_name="/on_load")
        assert picker["value"] == paths.run_id
        assert "running" in status and f"**Training now:** `{paths.run_id}`" in queue  # re-attached, not re-run
        assert read_status(paths).state == "running" and read_status(paths).pid == pid
        drawn = loss_steps(chart)
        written = [r.step for r in read_all(paths.metrics) if r.event == "log"]
        assert drawn[0] == 1 and len(drawn) >= len(before)  # the history from before the kill, every row of it
        assert drawn == written[: len(drawn)]

        assert "Stopping" in client.predict(api_name="/on_stop")
        wait_until(lambda: read_status(paths).state == "stopped", 120, "the run to stop")
        assert (paths.adapter / "adapter_config.json").is_file() and read_status(paths).step > step_at_kill
        wait_until(lambda: process_start_time(pid) is None, 30, "the worker to exit")
    finally:
        for proc in servers:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        pid = read_status(paths).pid
        if pid and process_start_time(pid) is not None and read_status(paths).pid_start == process_start_time(pid):
            os.killpg(pid, signal.SIGKILL)  # never leave a worker training behind a failed test
