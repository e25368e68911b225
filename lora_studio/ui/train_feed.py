"""One reader of the runs folder for every page that watches the Train tab (issue 19: watching costs almost nothing).

A thread reads each watched run's files, once for all pages (`train_view.refresh` over one `Watch` per run), and the
line-up of running and queued runs, and counts a new `round` whenever something changed. Each page's stream
(ui/train_tab.py, `on_stream` for the chart, progress and log, `on_stream_state` for the rest) waits in memory for the
next round, then draws from what the reader holds: twenty viewers cost one reader and one small answer each per
change, not twenty readers per tick. The reader reads only while a page streams. No gradio, no torch here.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lora_studio.metrics import MetricRow
from lora_studio.runs import ACTIVE_STATES, RunStatus
from lora_studio.ui.train_view import Watch, refresh

log = logging.getLogger(__name__)

READ_S = 0.25  # how often the reader looks while a run trains or waits: a new point shows within about this
IDLE_READ_S = 2.0  # while nothing trains or waits (a run queued elsewhere shows within two seconds)
STREAMS_MAX = 128  # streams at once (two per page: live and state); beyond it a page is drawn by its timer instead
PARTS = ("rows", "status", "log", "samples")
LIVE_PARTS = ("rows", "status", "log")  # what a page's live stream draws (the chart, the progress, the log)
STATE_PARTS = ("status", "samples")  # what its state stream draws (status, buttons, list, sample answers)


@dataclass
class RunView:
    """What the reader holds for one run. `versions` count the changes of each part: a page compares them with the
    ones it drew. Read and written under `lock`."""

    watch: Watch
    versions: dict[str, int] = field(default_factory=dict)  # numbers from the feed's one counter: never reused
    gone: bool = False  # its folder was deleted
    rows: list[MetricRow] = field(default_factory=list)  # latest per step
    log: str = ""
    samples: pd.DataFrame | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def status(self) -> RunStatus:
        return self.watch.status or RunStatus()


@dataclass
class Seen:
    """What one page drew of a run: the run's versions (see RunView) and the reader's line-up version."""

    versions: dict[str, int] = field(default_factory=dict)
    line_up: int = -1

    def changed(self, view: RunView, parts: tuple[str, ...] = PARTS) -> set[str]:
        """Which of `parts` of `view` this page has not drawn yet, now counted as drawn (call under view.lock)."""
        new = {part for part in parts if self.versions.get(part) != view.versions[part]}
        self.versions.update((part, view.versions[part]) for part in parts)
        return new


def _wake(woken: asyncio.Future) -> None:
    if not woken.done():
        woken.set_result(None)


class Feed:
    """The reader. `view()` gives a run's view, read now (a page load, a pick); the thread keeps the views of the runs
    `watched()` names current while `streams` > 0, and the line-up from `line_up()`."""

    def __init__(self, line_up: Callable[[], tuple[list[str], list[str]]]) -> None:
        self._line_up_now = line_up
        self._lock = threading.Lock()
        self._views: dict[Path, RunView] = {}
        self._thread: threading.Thread | None = None
        self._versions = itertools.count(1)  # one counter for every view: a view made again never repeats a number
        self.round = 0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []  # streams waiting for a round
        self.streams = 0
        self.line_up: tuple[list[str], list[str]] = ([], [])
        self.line_up_version = 0

    # ---- what pages call -----------------------------------------------------------------------
    def view(self, root: Path, run_id: str, read: bool = True) -> RunView:
        """The run's view; `read` (or a run not viewed yet) reads its files first."""
        key = root / run_id
        with self._lock:
            view = self._views.get(key)
            fresh = view is None
            if view is None:
                view = self._views[key] = RunView(Watch(run_id=run_id))
                view.versions = {part: next(self._versions) for part in PARTS}
        if (fresh or read) and self._read(root, view, full=fresh):
            self._next_round()  # read by a page (a load, a pick): the other pages on this run wake too
        return view

    def peek(self, root: Path, run_id: str) -> RunView | None:
        """The run's view as the reader last read it; None when no page has viewed it yet (nothing is read here)."""
        with self._lock:
            return self._views.get(root / run_id)

    async def wait(self, seen_round: int, timeout_s: float) -> int:
        """The round after `seen_round`, or the same one after `timeout_s`: a page's stream waits here, woken by the
        reader. Not a loop that looks every so often: forty streams doing so woke the server 400 times a second, and
        each wake-up takes a core from the training worker's threads for a moment."""
        loop = asyncio.get_running_loop()
        woken = loop.create_future()
        with self._lock:  # counted before the round is compared: a round that comes in between wakes it
            self._waiters.append((loop, woken))
            moved = self.round != seen_round
        try:
            if not moved:
                with contextlib.suppress(TimeoutError):  # no round in time: the stream says it is still there
                    await asyncio.wait_for(woken, timeout_s)
        finally:
            with self._lock:
                self._waiters.remove((loop, woken))
        return self.round

    def opened(self, watched: Callable[[], set[tuple[Path, str]]]) -> bool:
        """A page's stream would begin: count it and start the reader on first use. False when STREAMS_MAX pages
        stream already (each holds one of Gradio's queue slots): that page is then drawn by its timer."""
        with self._lock:
            if self.streams >= STREAMS_MAX:
                return False
            self.streams += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, args=(watched,), name="lora-studio-train-feed", daemon=True
                )
                self._thread.start()
        return True

    def closed(self) -> None:
        with self._lock:
            self.streams = max(self.streams - 1, 0)

    # ---- the reader ----------------------------------------------------------------------------
    def read_round(self, watched: set[tuple[Path, str]]) -> bool:
        """Read the line-up and every watched run once; a new round when anything changed. Views of runs no page
        watches any more are dropped."""
        changed = False
        line_up = self._line_up_now()
        if line_up != self.line_up:
            self.line_up, self.line_up_version, changed = line_up, self.line_up_version + 1, True
        keys = {root / run_id for root, run_id in watched}
        with self._lock:
            for key in [k for k in self._views if k not in keys]:
                del self._views[key]
            views = [(key.parent, view) for key, view in self._views.items()]
        for root, view in views:
            changed |= self._read(root, view)
        if changed:
            self._next_round()
        return changed

    def _next_round(self) -> None:
        with self._lock:
            self.round += 1
            waiters = list(self._waiters)
        for loop, woken in waiters:
            with contextlib.suppress(RuntimeError):  # its loop closed meanwhile (a server shutting down)
                loop.call_soon_threadsafe(_wake, woken)

    def busy(self) -> bool:
        """Something trains or waits: the reader looks more often."""
        running, queued = self.line_up
        with self._lock:
            views = list(self._views.values())
        return bool(running or queued) or any(v.status.state in ACTIVE_STATES for v in views)

    def _loop(self, watched: Callable[[], set[tuple[Path, str]]]) -> None:
        while True:
            if self.streams:
                try:
                    self.read_round(watched())
                except Exception:  # one damaged run folder must not stop every page's live view
                    log.exception("Reading the watched runs failed; trying again")
            time.sleep(READ_S if self.streams and self.busy() else IDLE_READ_S)

    def _read(self, root: Path, view: RunView, full: bool = False) -> bool:
        with view.lock:
            if not (root / view.watch.run_id).is_dir():  # deleted: its pages say so (they check first), once
                changed, view.gone = not view.gone, True
                return changed
            view.gone = False
            changes = refresh(view.watch, root, full)
            if changes.rows is not None:
                view.rows = changes.rows
            if changes.log is not None:
                view.log = changes.log
            if changes.samples is not None:
                view.samples = changes.samples
            moved = [part for part in PARTS if getattr(changes, part) is not None]
            for part in moved:
                view.versions[part] = next(self._versions)
            return bool(moved)
