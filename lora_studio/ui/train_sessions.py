"""Who watches what on the Train tab, and what all its pages share: each browser session's Viewer (kept on the
server, under the session's lock), the figures and line-up computed once for every page, and the one reader of the
runs folder (ui/train_feed.py). ui/train_tab.py draws and wires the tab from these.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from lora_studio import jobs, settings
from lora_studio.messages import current_language
from lora_studio.metrics import MetricRow
from lora_studio.ui import charts
from lora_studio.ui.train_feed import READ_S, Feed, Seen


def runs_root() -> Path:
    return settings.runs_dir()


@dataclass
class Viewer:
    """One page's view of the Train tab: the run it watches and what of it the page has drawn, apart for its two
    streams (`live`: chart, progress, log; `state`: the rest)."""

    run_id: str = ""
    live: Seen = field(default_factory=Seen)
    state: Seen = field(default_factory=Seen)
    queue_key: str = ""
    preference_shown: bool | None = None  # the preference chart's visibility as the page has it; None: not drawn
    cleared: set[str] = field(default_factory=set)  # the groups ("live", "state") drawn as watching no run
    deleted: str = ""  # the run it watched until it was deleted

    def forget(self, groups: tuple[str, ...]) -> None:
        """Count `groups` as never drawn (a page load or a pick draws them in full)."""
        if "live" in groups:
            self.live, self.preference_shown = Seen(), None
        if "state" in groups:
            self.state, self.queue_key = Seen(), ""
        self.cleared -= set(groups)


class Sessions:
    """Each browser session's Viewer, kept here rather than in gr.State: the stream runs concurrently with a
    pick or a start, and a slow draw returning an old gr.State would put the previous run back. Here
    every handler of one session works on the one current Viewer under that session's lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._viewers: dict[str, tuple[threading.Lock, Viewer]] = {}

    @contextmanager
    def use(self, request: gr.Request | None, run_id: str | None = None) -> Iterator[Viewer]:
        """The session's Viewer under its lock; `run_id` (not None) starts watching that run afresh. A session not
        known here (forgotten, or begun before a restart) gets a Viewer of nothing that is not kept: only a load or
        a pick makes a session known, so its stream begins again from the run the browser kept."""
        key = _key(request)
        with self._lock:
            if key not in self._viewers and run_id is None:
                kept = None
            else:
                kept = self._viewers.setdefault(key, (threading.Lock(), Viewer()))
        if kept is None:
            yield Viewer()
            return
        lock, viewer = kept
        with lock:
            if run_id is not None:
                viewer = Viewer(run_id=run_id)
                with self._lock:
                    self._viewers[key] = (lock, viewer)
            yield viewer

    @contextmanager
    def use_now(self, request: gr.Request | None) -> Iterator[Viewer | None]:
        """The known session's Viewer under its lock if that lock is free now, else None (a handler is drawing for
        it): for a stream's draw in the event loop, which must not wait."""
        with self._lock:
            kept = self._viewers.get(_key(request))
        if kept is None or not kept[0].acquire(blocking=False):
            yield None
            return
        try:
            yield kept[1]
        finally:
            kept[0].release()

    def known(self, request: gr.Request | None) -> bool:
        with self._lock:
            return _key(request) in self._viewers

    def watched(self) -> set[tuple[Path, str]]:
        """(runs folder, run id) of every run a page watches: what the reader keeps current."""
        root = runs_root()
        with self._lock:
            return {(root, viewer.run_id) for _, viewer in self._viewers.values() if viewer.run_id}

    def forget(self, request: gr.Request | None) -> None:
        with self._lock:
            self._viewers.pop(_key(request), None)


def _key(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "local"


SESSIONS = Sessions()


class Shared:
    """What every page's draw would compute alike, computed once for all of them (20 viewers measured:
    bench/chart_latency.py). A loss figure costs more to build than the rest of a draw, and pages drawing a run
    read to the same offset of its append-only metrics file hold the same rows; `queued()` reads the status of
    every run in the folder, so each page repeating it would grow with the run history."""

    def __init__(self, figures: int = 16) -> None:
        self._figure_lock, self._queue_lock, self._live_lock = threading.Lock(), threading.Lock(), threading.Lock()
        self._figures: dict[tuple[str, str, int, str], Any] = {}
        self._live: dict[tuple, dict[str, Any]] = {}
        self._size = figures
        self._line_up: tuple[float, Path | None, tuple[list[str], list[str]]] = (-1.0, None, ([], []))

    def figure(self, kind: str, run_id: str, offset: int, rows: list[MetricRow]) -> Any:
        """The loss ("loss") or preference ("preference") figure of a run's rows read up to `offset` (its metrics
        file only grows), in the current language: pages in other languages share it only with each other."""
        key = (kind, run_id, offset, current_language())
        with self._figure_lock:  # held while building: sessions arriving meanwhile take the one being built
            figure = self._figures.get(key)
            if figure is None:
                build = charts.loss_figure if kind == "loss" else charts.preference_figure
                figure = self._figures[key] = build(rows)
                if len(self._figures) > self._size:
                    self._figures.pop(next(iter(self._figures)))  # the oldest
            return figure

    def live(self, key: tuple, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """What the live stream sends for `key` (a run, the versions of its parts, the language), made once by
        `make` for every page: the same bytes for twenty viewers, postprocessed once (ui/train_tab.py)."""
        key = (*key, current_language())
        with self._live_lock:  # held while making: pages arriving meanwhile take the one being made
            made = self._live.get(key)
            if made is None:
                made = self._live[key] = make()
                if len(self._live) > self._size:
                    self._live.pop(next(iter(self._live)))  # the oldest
            return made

    def live_made(self, key: tuple) -> bool:
        """Whether `live(key, ...)` has it made already (in the current language); False while one is being made
        (asked from the event loop, which must not wait for that)."""
        if not self._live_lock.acquire(blocking=False):
            return False
        try:
            return (*key, current_language()) in self._live
        finally:
            self._live_lock.release()

    def line_up(self, fresh: bool = False) -> tuple[list[str], list[str]]:
        """(running, queued) as of at most half a reader's period ago; `fresh` reads it now."""
        manager = jobs.get_manager()
        with self._queue_lock:
            stamp, root, _ = self._line_up
            if fresh or root != manager.runs_root or time.monotonic() - stamp > READ_S / 2:
                self._line_up = (time.monotonic(), manager.runs_root, (manager.running(), manager.queued()))
            return self._line_up[2]


SHARED = Shared()
FEED = Feed(lambda: SHARED.line_up(fresh=True))
