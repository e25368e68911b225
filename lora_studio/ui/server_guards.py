"""Limits the web server enforces before Gradio sees a request, and the clean-up of what uploads leave behind.

- `UploadBudget`: Gradio's `max_file_size` is checked per file, so one request could carry several files
  just under the limit (three 150 MB files passed a 200 MB limit). The whole request is held to the
  upload limit, and an upload that does not say its size is refused.
- `LoginThrottle`: each failed login from one client makes that client's next attempt wait longer
  (1 s, 2 s, 4 s ... at most 30 s), one attempt at a time per client; a success clears it. Nobody is
  locked out: the operator's right password still gets in, at worst after the current wait.
- `sweep_upload_folder`: Gradio keeps every upload (and the temp file of a refused one) in its upload
  folder and never removes what an earlier server left; we remove only what Gradio itself names there
  (`tmp*` files, hash-named folders) once it is stale, at start and then periodically.

Plain ASGI middlewares (Starlette's protocol, which Gradio's FastAPI app runs), passed through
`launch(app_kwargs={"middleware": ...})`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path

from lora_studio import settings
from lora_studio.dataset_sources import remove_entry

log = logging.getLogger(__name__)

MULTIPART_SLACK = 64 * 2**10  # form boundaries and part headers around the files
# A top-level tmp file is an upload being written (its time moves with every chunk) or the remains of a refused
# one (Gradio leaves the temp file of an upload it refuses, e.g. a file named '..').
STALE_TEMP_S = 600
STALE_FOLDER_S = 24 * 3600  # uploads untouched for a day: handled long ago (datasets are copied to uploads/)
SWEEP_EVERY_S = 600
_GRADIO_FOLDER = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")  # Gradio names an upload's folder by its hash


async def _plain_answer(send, status: int, text: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class UploadBudget:
    """Refuses an upload request whose whole body is larger than the upload limit (413) or unsized (411)."""

    def __init__(self, app, limit_bytes: int) -> None:
        self.app = app
        self.limit = int(limit_bytes)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].rstrip("/").endswith("/upload"):
            length = _header(scope, b"content-length")
            megabytes = self.limit / 2**20
            if length is None or not length.strip().isdigit():
                await _plain_answer(send, 411, "Uploads must say their size (Content-Length).")
                return
            if int(length) > self.limit + MULTIPART_SLACK:
                await _plain_answer(
                    send,
                    413,
                    f"This upload is {int(length) / 2**20:.1f} MB in all, above the "
                    f"{megabytes:g} MB upload limit (for all its files together). "
                    "Upload fewer or smaller files, or ask the operator to raise "
                    "LORA_STUDIO_MAX_UPLOAD_MB.",
                )
                return
        await self.app(scope, receive, send)


def client_key(scope) -> str:
    """Who is logging in: the peer address, or the address a proxy on this machine or network forwarded."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    forwarded = _header(scope, b"x-forwarded-for")
    try:
        behind_proxy = ipaddress.ip_address(peer).is_private or ipaddress.ip_address(peer).is_loopback
    except ValueError:
        behind_proxy = False
    if forwarded and behind_proxy:
        return forwarded.split(",")[-1].strip()[:64] or peer  # the hop our proxy added, not one the client wrote
    return peer


class LoginThrottle:
    """Exponential delay per client after failed logins (Gradio answers a wrong password with 400)."""

    MAX_CLIENTS = 10_000

    def __init__(self, app, first_delay_s: float = 1.0, max_delay_s: float = 30.0) -> None:
        self.app = app
        self.first, self.cap = float(first_delay_s), float(max_delay_s)
        self.failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # client → (failures, next allowed)
        self.locks: dict[str, asyncio.Lock] = {}

    def delay_after(self, failures: int) -> float:
        return 0.0 if failures <= 0 else min(self.first * 2 ** (failures - 1), self.cap)

    async def __call__(self, scope, receive, send) -> None:
        if not (scope["type"] == "http" and scope["method"] == "POST" and scope["path"].rstrip("/") == "/login"):
            await self.app(scope, receive, send)
            return
        key = client_key(scope)
        lock = self.locks.setdefault(key, asyncio.Lock())
        async with lock:  # one attempt at a time per client: parallel guesses queue behind the delay
            _, allowed = self.failures.get(key, (0, 0.0))
            wait = allowed - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            status: dict[str, int] = {}

            async def watch(message) -> None:
                if message["type"] == "http.response.start":
                    status["code"] = message["status"]
                await send(message)

            await self.app(scope, receive, watch)
            self._record(key, status.get("code", 0))
        if not lock.locked() and key not in self.failures:
            self.locks.pop(key, None)

    def _record(self, key: str, code: int) -> None:
        if code == 200:
            self.failures.pop(key, None)
            return
        if code != 400:
            return
        count = self.failures.pop(key, (0, 0.0))[0] + 1
        self.failures[key] = (count, time.monotonic() + self.delay_after(count))
        log.warning(
            "Failed login from %s (%d in a row): the next attempt waits %.0f s", key, count, self.delay_after(count)
        )
        while len(self.failures) > self.MAX_CLIENTS:  # forget the oldest, so memory stays bounded
            old, _ = self.failures.popitem(last=False)
            self.locks.pop(old, None)


# ---- leftovers ---------------------------------------------------------------------------------
def _newest_change(path: Path) -> float:
    if path.is_dir():
        times = [p.lstat().st_mtime for p in path.rglob("*")]
        return max([path.lstat().st_mtime, *times])
    return path.lstat().st_mtime


def sweep_upload_folder(folder: str | Path, now: float | None = None) -> list[Path]:
    """Remove Gradio's stale leftovers from its upload folder; returns what was removed. Only entries Gradio names
    (top-level `tmp*` files, hash-named folders) are touched, never one that holds a folder of ours."""
    folder, now = Path(folder), time.time() if now is None else now
    if not folder.is_dir():
        return []
    ours = [p.expanduser().resolve() for p in settings.never_served()]
    removed = []
    for entry in folder.iterdir():
        try:
            if entry.is_symlink():
                continue
            if entry.is_file() and entry.name.startswith("tmp"):
                max_age = STALE_TEMP_S
            elif entry.is_dir() and _GRADIO_FOLDER.match(entry.name):
                max_age = STALE_FOLDER_S
            else:
                continue
            resolved = entry.resolve()
            if any(resolved == p or resolved in p.parents for p in ours):
                continue
            if now - _newest_change(entry) < max_age:
                continue
            remove_entry(entry)
            removed.append(entry)
        except OSError as exc:  # in use or gone meanwhile: the next sweep tries again
            log.info("Could not remove %s from the upload folder: %s", entry.name, exc)
    if removed:
        log.info("Removed %d stale upload(s) from %s", len(removed), folder)
    return removed


def start_sweeper(folder: str | Path, every_s: float = SWEEP_EVERY_S) -> threading.Thread:
    """Sweep now, then every `every_s` seconds in a daemon thread."""
    sweep_upload_folder(folder)

    def loop() -> None:
        while True:
            time.sleep(every_s)
            sweep_upload_folder(folder)

    thread = threading.Thread(target=loop, name="lora-studio-upload-sweeper", daemon=True)
    thread.start()
    return thread
