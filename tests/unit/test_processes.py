"""The one process module: every worker kind starts, stops and is found again through it."""

from __future__ import annotations

import ast
import os
import signal
import sys
import time
from pathlib import Path

import lora_studio
from lora_studio import processes

PACKAGE = Path(lora_studio.__file__).parent


def test_nothing_outside_the_process_module_starts_a_process():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "processes.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os":
                names = [f"os.{node.attr}"] if node.attr in ("system", "fork", "popen") or "spawn" in node.attr else []
            offenders += [
                f"{path.relative_to(PACKAGE)}:{node.lineno} {n}"
                for n in names
                if n in ("subprocess", "multiprocessing") or n.startswith("os.")
            ]
    assert offenders == []


def test_a_worker_runs_in_its_own_group_logs_under_a_banner_and_is_stopped_then_killed(tmp_path):
    # It ignores SIGTERM, so only the kill after the grace period ends it.
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    )
    log = tmp_path / "worker.log"
    worker = processes.start([sys.executable, "-c", code, str(tmp_path)], log, "test started", marker=tmp_path)
    assert worker.pid_start == processes.process_start_time(worker.pid)
    assert os.getpgid(worker.pid) == worker.pid != os.getpgid(0)  # its own group: a Ctrl-C here does not reach it
    deadline = time.time() + 10
    while "ready" not in log.read_text() and time.time() < deadline:
        time.sleep(0.05)
    assert log.read_text().startswith("\n=== test started ")
    again = processes.attach(worker.pid, worker.pid_start, tmp_path)  # as a restarted server finds it
    assert again is not None and again.running()
    worker.stop(grace_s=0.3)
    time.sleep(0.1)
    assert worker.running()  # SIGTERM ignored
    deadline = time.time() + 10
    while worker.running() and time.time() < deadline:
        time.sleep(0.05)
    assert worker.returncode == -signal.SIGKILL and worker.exit_code() == -signal.SIGKILL
    assert processes.attach(worker.pid, worker.pid_start, tmp_path) is None  # reaped: no zombie looks alive
    assert worker.death(-signal.SIGKILL)[1] == "killed"  # no OOM kill was counted meanwhile


def test_a_refused_start_says_what_to_do(tmp_path):
    try:
        processes.start([str(tmp_path / "no-such-python")], tmp_path / "w.log", "test")
    except processes.WorkerStartError as exc:
        assert "Could not start the worker" in exc.message and "make setup" in exc.hint
    else:
        raise AssertionError("a missing interpreter started")


def test_the_environment_imports_this_package_and_keeps_secrets_out_of_argv(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "server-secret")
    env = processes.worker_env({"EXTRA": "1"}, drop=("HF_TOKEN",))
    assert "HF_TOKEN" not in env and env["EXTRA"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(PACKAGE.parent)


def test_a_finished_worker_exits_with_its_code_its_exit_handlers_run_and_a_working_thread_is_awaited(tmp_path):
    """exit_worker skips the interpreter's teardown (seconds with torch loaded) but nothing a worker reports."""
    import subprocess
    import sys

    script = f"""
import atexit, threading, time
from lora_studio.processes import exit_worker
atexit.register(lambda: open({str(tmp_path / "atexit")!r}, "w").write("ran"))
print("said before the end", end="")
if __import__("sys").argv[1] == "thread":
    def work():
        time.sleep(0.5)
        open({str(tmp_path / "thread")!r}, "w").write("done")
    threading.Thread(target=work).start()
exit_worker(3)
"""
    plain = subprocess.run([sys.executable, "-c", script, "plain"], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 3 and plain.stdout == "said before the end"
    assert (tmp_path / "atexit").read_text() == "ran"
    waited = subprocess.run([sys.executable, "-c", script, "thread"], capture_output=True, text=True, timeout=60)
    assert waited.returncode == 3 and (tmp_path / "thread").read_text() == "done"
