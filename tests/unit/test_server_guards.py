"""The web server's own limits (issue 11, findings 6 and 8): the upload budget per request, slowed-down failed
logins, and the sweep of what uploads leave in Gradio's folder. Driven through Starlette's ASGI test client."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from lora_studio.ui import server_guards
from lora_studio.ui.server_guards import LoginThrottle, UploadBudget, sweep_upload_folder

LIMIT = 100_000


def _app(*middleware: Middleware) -> tuple[Starlette, list[str]]:
    seen: list[str] = []

    async def upload(request: Request):
        form = await request.form()
        seen.append("upload")
        return JSONResponse([f.filename for f in form.getlist("files")])

    async def login(request: Request):
        form = await request.form()
        seen.append(form["password"])
        ok = form["password"] == "right"
        return JSONResponse({"success": ok}, status_code=200 if ok else 400)

    routes = [Route("/gradio_api/upload", upload, methods=["POST"]), Route("/login", login, methods=["POST"])]
    return Starlette(routes=routes, middleware=list(middleware)), seen


def test_several_files_under_the_limit_each_are_refused_together():
    """Three 150 MB files in one POST passed a 200 MB per-file limit."""
    app, seen = _app(Middleware(UploadBudget, limit_bytes=LIMIT))
    client = TestClient(app)
    part = b"x" * int(LIMIT * 0.6)
    three = client.post("/gradio_api/upload", files=[("files", (f"{i}.jsonl", part)) for i in range(3)])
    assert three.status_code == 413 and "for all its files together" in three.text
    assert "LORA_STUDIO_MAX_UPLOAD_MB" in three.text
    one = client.post("/gradio_api/upload", files=[("files", ("a.jsonl", part))])
    assert one.status_code == 200 and one.json() == ["a.jsonl"]
    assert seen == ["upload"]  # the refused request never reached the app


def test_an_upload_that_does_not_say_its_size_is_refused():
    app, seen = _app(Middleware(UploadBudget, limit_bytes=LIMIT))

    def chunks():
        yield b'--b\r\nContent-Disposition: form-data; name="files"; filename="a"\r\n\r\nhi\r\n--b--\r\n'

    answer = TestClient(app).post(
        "/gradio_api/upload", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert answer.status_code == 411 and seen == []


def test_each_failed_login_doubles_the_wait_and_a_success_clears_it():
    app, seen = _app(Middleware(LoginThrottle, first_delay_s=0.2, max_delay_s=0.8))
    client = TestClient(app)
    waits = []
    for _ in range(5):
        started = time.monotonic()
        assert client.post("/login", data={"password": "wrong"}).status_code == 400
        waits.append(time.monotonic() - started)
    # attempt n waits for the delay the n-1 failures before it earned: 0, 0.2, 0.4, 0.8, 0.8 (capped)
    assert waits[0] < 0.15 and 0.18 < waits[1] < 0.5 and 0.38 < waits[2] < 0.7 and waits[3] > 0.75
    assert waits[4] < 1.3
    started = time.monotonic()
    assert client.post("/login", data={"password": "right"}).status_code == 200  # never locked out
    assert time.monotonic() - started > 0.75
    started = time.monotonic()
    assert client.post("/login", data={"password": "wrong"}).status_code == 400  # cleared by the success
    assert time.monotonic() - started < 0.15
    assert len(seen) == 7


def test_parallel_guesses_from_one_client_wait_in_line():
    app, _ = _app(Middleware(LoginThrottle, first_delay_s=0.2, max_delay_s=5))
    with TestClient(app) as client:  # one event loop for every request, as in the real server
        started = time.monotonic()
        threads = [
            threading.Thread(target=client.post, args=("/login",), kwargs={"data": {"password": "w"}}) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
    assert time.monotonic() - started > 0.2 + 0.4 + 0.8 - 0.1  # not four answers at once


def test_a_proxy_on_this_machine_forwards_the_client_address():
    scope = {"client": ("127.0.0.1", 1), "headers": [(b"x-forwarded-for", b"1.2.3.4, 10.0.0.9")]}
    assert server_guards.client_key(scope) == "10.0.0.9"  # the hop the proxy added
    outside = {"client": ("8.8.8.8", 1), "headers": [(b"x-forwarded-for", b"1.2.3.4")]}
    assert server_guards.client_key(outside) == "8.8.8.8"  # a header a remote client wrote is not believed


def _age(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (then, then), follow_symlinks=False)
    return path


def test_the_sweep_removes_only_gradios_stale_leftovers(tmp_path, monkeypatch):
    folder = tmp_path
    ours = folder / ("a" * 40)  # LORA_STUDIO_HOME inside Gradio's folder, under a hash-like name
    monkeypatch.setenv("LORA_STUDIO_HOME", str(ours))
    (ours / "runs").mkdir(parents=True)
    _age(ours, 10 * 86400)
    refused = folder / "tmpab12cd"
    refused.write_bytes(b"hi")
    _age(refused, server_guards.STALE_TEMP_S + 60)
    writing = folder / "tmpnow"
    writing.write_bytes(b"in flight")
    old_upload = folder / ("b" * 64)
    (old_upload).mkdir()
    (old_upload / "data.jsonl").write_text("{}")
    _age(old_upload, server_guards.STALE_FOLDER_S + 60)
    new_upload = folder / ("c" * 40)
    new_upload.mkdir()
    (new_upload / "data.jsonl").write_text("{}")
    other = folder / "notes.txt"
    other.write_text("not Gradio's")
    _age(other, 10 * 86400)
    removed = sweep_upload_folder(folder)
    assert sorted(p.name for p in removed) == sorted([refused.name, old_upload.name])
    assert writing.exists() and new_upload.exists() and other.exists() and (ours / "runs").is_dir()


def test_stale_half_copies_in_uploads_are_removed(studio_home):
    from lora_studio import dataset_sources as uploads

    staging = studio_home / "uploads" / "adapters" / ".0123abcd.tmp-999"
    staging.mkdir(parents=True)
    (staging / "adapter_config.json").write_text("{}")
    half = studio_home / "uploads" / "ff00" / ".data.jsonl.tmp"
    half.parent.mkdir(parents=True)
    half.write_text("{")
    kept = studio_home / "uploads" / "ff00" / "data.jsonl"
    kept.write_text("{}")
    fresh = studio_home / "uploads" / "adapters" / ".fresh.tmp-1"
    fresh.mkdir()
    _age(staging, uploads.STALE_STAGING_S + 60)
    _age(half, uploads.STALE_STAGING_S + 60)
    _age(kept, uploads.STALE_STAGING_S + 60)
    assert sorted(uploads.sweep_staging()) == sorted([staging, half])
    assert kept.exists() and fresh.exists()


@pytest.mark.parametrize("failures", [1, 2, 3, 10])
def test_the_delay_doubles_up_to_its_cap(failures):
    throttle = LoginThrottle(None, first_delay_s=1, max_delay_s=30)
    assert throttle.delay_after(failures) == min(2 ** (failures - 1), 30)
