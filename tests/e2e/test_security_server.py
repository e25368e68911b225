"""Security defaults against a real server: a login, only the app's own downloads served, the upload
limit enforced by the server, and a Hub token that never lands in a run folder.

The server is started in the hardest layout: LORA_STUDIO_HOME and HF_HOME inside Gradio's own folder
(GRADIO_TEMP_DIR), where Gradio would serve every file as "created by the app" unless blocked.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from lora_studio import settings
from lora_studio.runs import RunPaths, create_run
from tests.conftest import ROOT, SAMPLE_CHAT
from tests.e2e.conftest import _free_port
from tests.integration.helpers import tiny_config
from tests.unit.test_adapters import adapter_folder

USER, PASSWORD = "tester", "pw-e2e-Zq81"
TRAIN_SECRET = "hf_e2eTrainEnvSecret0123456789abcdef"
PUSH_SECRET = "hf_e2ePushFieldSecret9876543210fedcba"
SAVED_SECRET = "hf_e2eSavedLoginToken5555555555"
UPLOAD_LIMIT_MB = 1
LOGIN_DELAY_S = 0.4


class FakeHub(BaseHTTPRequestHandler):
    """A Hub that refuses everything and quotes the caller's Authorization header back (as error pages may)."""

    seen: ClassVar[list[str]] = []  # every request gets a new handler: the list is the class's

    def _refuse(self) -> None:
        auth = self.headers.get("Authorization", "")
        FakeHub.seen.append(auth)
        body = json.dumps({"error": f"Bad request: repository refused for credentials {auth}"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _refuse

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass


@pytest.fixture(scope="module")
def fake_hub():
    hub = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    thread = threading.Thread(target=hub.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{hub.server_address[1]}"
    hub.shutdown()


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> dict[str, Path]:
    gradio_dir = tmp_path_factory.mktemp("gradio-folder")
    hf_home = gradio_dir / "hf-home"
    hf_home.mkdir()
    (hf_home / "token").write_text(SAVED_SECRET)  # where `hf auth login` keeps a token
    home = gradio_dir / "home"
    (home / "uploads").mkdir(parents=True)
    (home / "uploads" / "private.jsonl").write_text('{"text": "private upload"}\n')
    # Already on disk when the server starts: a crafted adapter (issue 11: serve exited 1 on it) ...
    crafted = adapter_folder(home / "uploads" / "adapters" / "crafted", base="/" + "x" * 300)
    (crafted / "lora_studio_upload.json").write_text(json.dumps({"name": "crafted"}))
    huge = adapter_folder(home / "uploads" / "adapters" / "huge", base="/" + "y" * 300)
    config = json.loads((huge / "adapter_config.json").read_text())
    (huge / "adapter_config.json").write_text(json.dumps({**config, "target_modules": [f"m{i}" for i in range(5000)]}))
    (huge / "lora_studio_upload.json").write_text(json.dumps({"name": "huge"}))
    # ... and what refused or old uploads left in Gradio's folder (a refused upload named '..' leaves its temp file).
    stale = [gradio_dir / "tmpleftover", gradio_dir / ("d" * 64)]
    stale[0].write_bytes(b"refused upload")
    stale[1].mkdir()
    (stale[1] / "old.jsonl").write_text("{}")
    fresh = gradio_dir / ("e" * 64)
    fresh.mkdir()
    (fresh / "new.jsonl").write_text("{}")
    day_ago = time.time() - 2 * 86400
    for path in (*stale, stale[1] / "old.jsonl"):
        os.utime(path, (day_ago, day_ago))
    return {"gradio": gradio_dir, "home": home, "hf_home": hf_home, "stale": stale, "fresh": fresh}


@pytest.fixture(scope="module")
def worker_run(layout, tiny_model_dir, tmp_path_factory) -> RunPaths:
    """A run in the server's runs folder, trained by the worker exactly as the dashboard starts it (output
    into train.log) with HF_TOKEN in its environment."""
    work = tmp_path_factory.mktemp("worker-run")
    data = work / "chat.jsonl"
    data.write_text("\n".join(SAMPLE_CHAT.read_text(encoding="utf-8").splitlines()[:40]) + "\n", encoding="utf-8")
    paths = RunPaths(layout["home"] / "runs" / "20990101-000000-security")
    create_run(paths, tiny_config(tiny_model_dir, data, "training.max_steps=2"))
    env = {**os.environ, "LORA_STUDIO_HOME": str(layout["home"]), "HF_TOKEN": TRAIN_SECRET, "HF_HUB_OFFLINE": "1"}
    with (paths.root / "train.log").open("wb") as log:
        argv = [sys.executable, "-m", "lora_studio.engine.worker", "--run-dir", str(paths.root)]
        done = subprocess.run(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=300)
    assert done.returncode == 0, (paths.root / "train.log").read_text()[-2000:]
    return paths


@pytest.fixture(scope="module")
def secure_server(layout, fake_hub):
    port = _free_port()
    log_path = layout["gradio"].parent / "secure-server.log"
    env = {
        **os.environ,
        "LORA_STUDIO_HOME": str(layout["home"]),
        "GRADIO_TEMP_DIR": str(layout["gradio"]),
        "HF_HOME": str(layout["hf_home"]),
        settings.AUTH_ENV: f"{USER}:{PASSWORD}",
        "LORA_STUDIO_MAX_UPLOAD_MB": str(UPLOAD_LIMIT_MB),
        "HF_HUB_OFFLINE": "0",
        "HF_ENDPOINT": fake_hub,
        "LORA_STUDIO_LOGIN_DELAY_S": str(LOGIN_DELAY_S),
    }
    env.pop("HF_TOKEN", None)
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lora_studio", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url, deadline = f"http://127.0.0.1:{port}/", time.time() + 90
        while time.time() < deadline and proc.poll() is None:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        if proc.poll() is not None or time.time() >= deadline:
            proc.kill()
            pytest.fail("the server did not start:\n" + log_path.read_text()[-3000:])
        yield url, log_path
        proc.terminate()
        proc.wait(timeout=20)


def logged_in(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    assert client.post("login", data={"username": USER, "password": PASSWORD}).status_code == 200
    return client


def api_client(url: str):
    from gradio_client import Client

    return Client(url, auth=(USER, PASSWORD), download_files=False, verbose=False, analytics_enabled=False)


def adapter_download(outputs: tuple) -> str:
    """The adapter zip the Merge & Export tab prepared, from its outputs as the API returns them."""
    for value in outputs:
        file = value.get("value") if isinstance(value, dict) else None
        if isinstance(file, dict) and str(file.get("path", "")).endswith("-adapter.zip"):
            return file["path"]
    raise AssertionError(f"no adapter download among {outputs!r}"[:2000])


def file_url(path: Path | str) -> str:
    return f"gradio_api/file={path}"


def test_nothing_is_served_without_the_login(secure_server, layout):
    url, _ = secure_server
    anonymous = httpx.Client(base_url=url, timeout=30)
    assert anonymous.get("config").status_code == 401
    assert anonymous.post("login", data={"username": USER, "password": "wrong"}).status_code == 400
    upload = anonymous.post("gradio_api/upload", files={"files": ("a.jsonl", b'{"text": "hi"}\n')})
    assert upload.status_code == 401
    assert anonymous.get(file_url(layout["home"] / "uploads" / "private.jsonl")).status_code == 401
    assert logged_in(url).get("config").status_code == 200


def test_only_the_downloads_the_app_made_are_served(secure_server, layout, worker_run):
    url, _ = secure_server
    made = adapter_download(api_client(url).predict(None, "float32", api_name="/on_refresh"))
    assert Path(made).name == f"{worker_run.run_id}-adapter.zip" and Path(made).is_relative_to(layout["gradio"])
    client = logged_in(url)
    got = client.get(file_url(made))
    assert got.status_code == 200
    assert httpx.get(url + file_url(made), timeout=30).status_code == 401  # and only behind the login
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        assert f"{worker_run.run_id}-adapter/adapter_config.json" in archive.namelist()

    cache_file = next(p for p in settings.model_cache_dir().rglob("*.json") if p.is_file())
    refused = {
        "/etc/passwd": "/etc/passwd",
        # up to / from wherever the temporary folders are (pytest-xdist puts them a level deeper)
        "traversal": f"{Path(made).parent}/{'../' * (len(Path(made).parent.parts) - 1)}etc/passwd",
        "config": worker_run.config,
        "status": worker_run.status,
        "train.log": worker_run.root / "train.log",
        "metrics": worker_run.root / "metrics.jsonl",
        "adapter": worker_run.adapter / "adapter_model.safetensors",
        "upload": layout["home"] / "uploads" / "private.jsonl",
        "model cache": cache_file,
        "hf token": layout["hf_home"] / "token",
    }
    for name, path in refused.items():
        assert Path(path).exists(), name
        answer = client.get(file_url(path))
        assert answer.status_code == 403, f"{name}: {path} was served ({answer.status_code})"
    # The hard case: these files sit inside Gradio's own folder, so only blocked_paths refuses them.
    assert worker_run.config.is_relative_to(layout["gradio"]) and (layout["hf_home"] / "token").is_relative_to(
        layout["gradio"]
    )


def test_uploads_above_the_limit_are_refused_by_the_server(secure_server, layout):
    url, _ = secure_server
    client = logged_in(url)
    too_big = b'{"text": "x"}\n' * (UPLOAD_LIMIT_MB * 2**20 // 14 + 1000)
    assert client.post("gradio_api/upload", files={"files": ("big.jsonl", too_big)}).status_code == 413
    small = client.post("gradio_api/upload", files={"files": ("small.jsonl", b'{"text": "hi"}\n')})
    assert small.status_code == 200
    assert Path(small.json()[0]).is_relative_to(layout["gradio"])


def test_a_hub_token_is_never_written_by_training_or_a_push(secure_server, worker_run):
    url, log_path = secure_server
    api = api_client(url)
    api.predict(None, "float32", api_name="/on_refresh")  # the browser's first step: the run is picked
    message, token_box = api.predict(
        worker_run.run_id, "adapter", "me/lora-e2e", PUSH_SECRET, True, api_name="/on_push"
    )
    assert "Pushing" in message and PUSH_SECRET not in message and token_box == ""
    status_file, deadline = worker_run.root / "exports" / "status.json", time.time() + 180
    while time.time() < deadline:
        status = json.loads(status_file.read_text()) if status_file.is_file() else {}
        if status.get("state") not in (None, "running"):
            break
        time.sleep(0.5)
    assert status.get("state") == "failed", status
    assert f"Bearer {PUSH_SECRET}" in FakeHub.seen  # the token really reached the worker and the Hub
    assert "answered with an error" in status["error"]  # in words; the Hub's answer quoted the token back

    files = [p for p in worker_run.root.rglob("*") if p.is_file()]
    assert worker_run.root / "train.log" in files and worker_run.root / "exports" / "export.log" in files
    for path in [*files, log_path]:
        content = path.read_bytes()
        for secret in (TRAIN_SECRET, PUSH_SECRET):
            assert secret.encode() not in content, f"{secret[:8]}… written to {path}"


# ---- issue 11: what an attacker tried that used to get through ---------------------------------------------
def test_the_server_starts_with_a_crafted_adapter_on_disk_and_lists_it_as_unusable(secure_server):
    """A 300-character base_model_name_or_path made `serve` exit 1 with 'File name too long' at every start."""
    url, _ = secure_server
    config = logged_in(url).get("config")
    assert config.status_code == 200
    listed = json.dumps(config.json(), ensure_ascii=False)  # the Playground's adapter list, as the page is built
    assert '"crafted (uploaded)"' in listed  # loadable; its base, which no machine can have, is not offered
    assert '"huge (uploaded) — ⚠️ cannot be used"' in listed
    assert "x" * 300 not in listed


def test_stale_leftovers_in_gradios_folder_are_removed_at_start(secure_server, layout):
    for path in layout["stale"]:
        assert not path.exists(), path
    assert layout["fresh"].is_dir() and (layout["home"] / "uploads" / "private.jsonl").is_file()


def test_several_files_under_the_limit_each_are_refused_as_one_upload(secure_server):
    """Three files of 0.6 MB each passed a 1 MB limit: it was checked per file, not per request."""
    url, _ = secure_server
    client = logged_in(url)
    part = b'{"text": "x"}\n' * (int(UPLOAD_LIMIT_MB * 2**20 * 0.6) // 14)
    three = client.post("gradio_api/upload", files=[("files", (f"{i}.jsonl", part)) for i in range(3)])
    assert three.status_code == 413 and "all its files together" in three.text
    assert client.post("gradio_api/upload", files={"files": ("one.jsonl", part)}).status_code == 200


def test_failed_logins_are_slowed_down_and_the_right_password_still_gets_in(secure_server):
    url, log_path = secure_server
    client = httpx.Client(base_url=url, timeout=60)
    waits = []
    for _ in range(4):
        started = time.monotonic()
        assert client.post("login", data={"username": USER, "password": "guess"}).status_code == 400
        waits.append(time.monotonic() - started)
    for attempt in (1, 2, 3):  # each failure doubles the wait before the next attempt is answered
        assert waits[attempt] >= 2 ** (attempt - 1) * LOGIN_DELAY_S * 0.9, waits
    assert client.post("login", data={"username": USER, "password": PASSWORD}).status_code == 200
    started = time.monotonic()
    assert client.post("login", data={"username": USER, "password": "guess"}).status_code == 400
    assert time.monotonic() - started < LOGIN_DELAY_S  # the success cleared the delay
    assert "Failed login from 127.0.0.1" in log_path.read_text()
    assert client.post("login", data={"username": USER, "password": PASSWORD}).status_code == 200


def test_the_hub_token_is_in_no_browser_storage_after_a_push(secure_server, tmp_path):
    """Gradio's run history kept every event's inputs, the token typed into Push to Hub included, in the
    browser's storage. The token is looked for in localStorage, sessionStorage, IndexedDB and, after the
    browser closed, in every file of its profile."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

    url, _ = secure_server
    token = "hf_e2eBrowserStorageToken0123456789"
    profile = tmp_path / "profile"
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, viewport={"width": 1300, "height": 1400}
        )
        page = context.new_page()
        page.goto(url, wait_until="load")
        page.locator("input[type=text], input:not([type])").first.fill(USER)
        page.locator("input[type=password]").first.fill(PASSWORD)
        page.get_by_role("button", name="Login").click()
        page.get_by_role("tab", name="Merge & Export").click(timeout=60_000)
        page.locator("#export-push-box").get_by_text("Push to the Hugging Face Hub").click()
        page.locator("#export-repo-id textarea, #export-repo-id input").first.fill("me/lora-storage")
        page.locator("#export-token input").fill(token)
        page.locator("#export-push").click()
        page.wait_for_function(
            "document.querySelector('#export-push-message').innerText.trim().length > 0", timeout=60_000
        )  # pushing to the fake Hub, or refused: the event ran either way
        page.wait_for_function("document.querySelector('#export-token input').value === ''", timeout=60_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "push-token-storage.png"))
        stored = page.evaluate("""async () => {
            const out = [JSON.stringify(localStorage), JSON.stringify(sessionStorage), document.cookie];
            for (const info of await indexedDB.databases()) {
                const db = await new Promise((ok, no) => { const r = indexedDB.open(info.name);
                                                           r.onsuccess = () => ok(r.result); r.onerror = no; });
                for (const name of db.objectStoreNames) {
                    const all = await new Promise((ok, no) => {
                        const r = db.transaction(name).objectStore(name).getAll();
                        r.onsuccess = () => ok(r.result); r.onerror = no; });
                    out.push(info.name + "/" + name + ":" + JSON.stringify(all));
                }
                db.close();
            }
            return out.join("\\n");
        }""")
        assert token not in stored
        context.close()
    leaked = [p for p in profile.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]
    assert leaked == []
