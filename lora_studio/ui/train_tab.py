"""The Train tab: start a run, watch its loss fall live, stop, cancel or resume it.

Training never runs here: `jobs.JobManager` starts a worker process and this tab only reads the
run directory. A `gr.Timer` polls it and reads only the new metrics lines, so a refreshed page or
a restarted server redraws the full history from disk and goes on live.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from lora_studio import jobs, settings
from lora_studio.errors import StudioError
from lora_studio.messages import current_language, text
from lora_studio.metrics import MetricRow
from lora_studio.runs import ACTIVE_STATES, ADAPTER_STATES, RESUMABLE_STATES, RunPaths, list_runs, read_status
from lora_studio.ui import charts, run_state
from lora_studio.ui.formatting import error_md
from lora_studio.ui.train_view import (
    Watch,
    describe,
    log_tail,
    progress_html,
    queue_markdown,
    refresh,
    reports_line,
    run_label,
)

TICK_S = 0.5  # polling period: a new loss point shows within about a second of being written
# Order of the values every redraw returns (see TrainTab.outputs()).
OUTPUTS = (
    "picker",
    "status",
    "progress",
    "queue",
    "chart",
    "preference",
    "log",
    "samples",
    "stop",
    "cancel",
    "resume",
    "try",
    "timer",
)


def _root() -> Path:
    return settings.runs_dir()


class Sessions:
    """Each browser session's Watch, kept here rather than in gr.State: ticks run concurrently with a
    pick or a start, and a slow tick returning an old gr.State would put the previous run back. Here
    every handler of one session works on the one current Watch under that session's lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watches: dict[str, tuple[threading.Lock, Watch]] = {}

    @contextmanager
    def use(self, request: gr.Request | None, run_id: str | None = None) -> Iterator[Watch]:
        """The session's Watch under its lock; `run_id` (not None) starts watching that run afresh."""
        key = getattr(request, "session_hash", None) or "local"
        with self._lock:
            lock, watch = self._watches.setdefault(key, (threading.Lock(), Watch()))
        with lock:
            if run_id is not None:
                watch = Watch(run_id=run_id)
                with self._lock:
                    self._watches[key] = (lock, watch)
            yield watch

    def forget(self, request: gr.Request | None) -> None:
        with self._lock:
            self._watches.pop(getattr(request, "session_hash", None) or "local", None)


SESSIONS = Sessions()


class Shared:
    """What every session's tick would compute alike, computed once for all of them (20 pollers measured:
    bench/chart_latency.py). A loss figure costs more to build than the rest of a tick, and sessions that read
    a run's append-only metrics file to the same offset hold the same rows; `queued()` reads the status of
    every run in the folder, so each session repeating it on every tick grows with the run history."""

    def __init__(self, figures: int = 16) -> None:
        self._figure_lock, self._queue_lock = threading.Lock(), threading.Lock()
        self._figures: dict[tuple[str, int, str], Any] = {}
        self._size = figures
        self._line_up: tuple[float, Path | None, tuple[list[str], list[str]]] = (-1.0, None, ([], []))

    def loss_figure(self, run_id: str, offset: int, rows: list[MetricRow]) -> Any:
        """The figure in the current language: pages in other languages share it only with each other."""
        key = (run_id, offset, current_language())
        with self._figure_lock:  # held while building: sessions arriving meanwhile take the one being built
            figure = self._figures.get(key)
            if figure is None:
                figure = self._figures[key] = charts.loss_figure(rows)
                if len(self._figures) > self._size:
                    self._figures.pop(next(iter(self._figures)))  # the oldest
            return figure

    def line_up(self, fresh: bool = False) -> tuple[list[str], list[str]]:
        """(running, queued) as of at most half a tick ago; `fresh` reads it now."""
        manager = jobs.get_manager()
        with self._queue_lock:
            stamp, root, _ = self._line_up
            if fresh or root != manager.runs_root or time.monotonic() - stamp > TICK_S / 2:
                self._line_up = (time.monotonic(), manager.runs_root, (manager.running(), manager.queued()))
            return self._line_up[2]


SHARED = Shared()


def redraw(watch: Watch, full: bool = False) -> list[Any]:
    """Every output for the watched run; unchanged ones are skipped so the page does not flicker."""
    values = _redraw(watch, full)
    running, queued = SHARED.line_up()
    state = read_status(RunPaths(_root() / watch.run_id)).state if watch.run_id else ""
    # The page polls only while something trains or waits: an idle dashboard costs (almost) nothing.
    polling = bool(running or queued) or state in ACTIVE_STATES
    if full or polling != watch.polling:
        watch.polling = polling
        values["timer"] = gr.Timer(active=polling)
    return [values[name] for name in OUTPUTS]


def _redraw(watch: Watch, full: bool) -> dict[str, Any]:
    manager = jobs.get_manager()
    values: dict[str, Any] = {name: gr.skip() for name in OUTPUTS}
    running, queued = SHARED.line_up(fresh=full)
    queue_key = repr((running, queued))
    queue_moved = queue_key != watch.queue_key
    if queue_moved or full:
        watch.queue_key = queue_key
        values["queue"] = queue_markdown(running, queued)
    if not watch.run_id:
        if full:
            values.update(
                status=text("train.no_run"),
                progress="",
                chart=charts.loss_figure([]),
                preference=gr.update(visible=False),
                log="",
                samples=None,
                stop=gr.update(interactive=False),
                cancel=gr.update(interactive=False),
                resume=gr.update(interactive=False),
                picker=gr.update(choices=run_choices(), value=None),
                **{"try": gr.update(interactive=False)},
            )
        return values
    paths = RunPaths(_root() / watch.run_id)
    if not paths.root.is_dir():  # deleted (Runs tab, or by hand): say so once, then watch nothing
        gone, watch.run_id = watch.run_id, ""
        values.update(
            status=text("train.deleted", run_id=gone),
            progress="",
            chart=charts.loss_figure([]),
            log="",
            samples=None,
            stop=gr.update(interactive=False),
            cancel=gr.update(interactive=False),
            resume=gr.update(interactive=False),
            picker=gr.update(choices=run_choices(), value=None),
            **{"try": gr.update(interactive=False)},
        )
        return values
    changes = refresh(watch, _root(), full)
    status = changes.status or read_status(paths)
    rows = watch.metric_rows()
    if changes.rows is not None:
        values["chart"] = SHARED.loss_figure(watch.run_id, watch.offset, rows)
        shown = charts.has_preference_points(rows)
        values["preference"] = (
            gr.update(value=charts.preference_figure(rows), visible=True) if shown else gr.update(visible=False)
        )
    if changes.status is not None or changes.rows is not None or status.state == "running":
        values["progress"] = progress_html(status, rows)  # the elapsed clock ticks between metric rows too
    if changes.log is not None:
        values["log"] = changes.log
    if changes.status is not None or (queue_moved and status.state == "queued"):
        # The log as it is now: a crash's traceback may have landed on an earlier tick than the status.
        log = changes.log if changes.log is not None else log_tail(paths.log)
        values["status"] = describe(status, watch.run_id, manager.position(watch.run_id), log, reports_line(paths))
        values["stop"] = gr.update(interactive=status.state in ACTIVE_STATES)
        values["cancel"] = gr.update(interactive=status.state in ACTIVE_STATES)
        values["resume"] = gr.update(interactive=status.state in RESUMABLE_STATES)
        values["try"] = gr.update(interactive=status.state in ADAPTER_STATES and paths.adapter.is_dir())
        values["picker"] = gr.update(choices=run_choices(), value=watch.run_id)  # labels carry the state
    if changes.samples is not None:
        values["samples"] = changes.samples
    return values


def run_choices() -> list[tuple[str, str]]:
    return [(run_label(p), p.run_id) for p in list_runs(_root())]


def default_run() -> str:
    """On page load: the run training now, else the next queued, else the newest."""
    manager = jobs.get_manager()
    active = manager.running() or manager.queued()
    if active:
        return active[0]
    runs = list_runs(_root())
    return runs[0].run_id if runs else ""


# ---- handlers (module level: tests call them without a browser; gradio passes the request) ------
def on_load(kept: str | None = None, request: gr.Request | None = None) -> list[Any]:
    """A page (re)loads: the run this browser watched before, if it is still there, else the default one."""
    run_id = kept if isinstance(kept, str) and kept and (_root() / kept).is_dir() else default_run()
    with SESSIONS.use(request, run_id) as watch:
        return redraw(watch, full=True)


def on_tick(request: gr.Request | None = None) -> list[Any]:
    with SESSIONS.use(request) as watch:
        return redraw(watch)


def on_pick(run_id: str | None, request: gr.Request | None = None) -> list[Any]:
    with SESSIONS.use(request, run_id or "") as watch:
        return redraw(watch, full=True)


def on_start(state: dict | None, name: str, request: gr.Request | None = None) -> list[Any]:
    try:
        cfg = run_state.from_state(state)
        # The manager refuses, with every reason, what could not start (launch.check_startable).
        paths = jobs.get_manager().submit(cfg, name.strip() or Path(cfg.data.path or "run").stem)
    except StudioError as exc:
        return [error_md(exc), *[gr.skip()] * len(OUTPUTS)]
    position = jobs.get_manager().position(paths.run_id)
    message = (
        text("train.queued_at", run_id=paths.run_id, position=position)
        if position
        else text("train.started", run_id=paths.run_id)
    )
    with SESSIONS.use(request, paths.run_id) as watch:
        return [message, *redraw(watch, full=True)]


def _act(action: str, request: gr.Request | None) -> str:
    with SESSIONS.use(request) as watch:
        run_id = watch.run_id
    if not run_id:
        return text("train.pick_run")
    manager = jobs.get_manager()
    try:
        if action == "stop":
            result = manager.stop(run_id)
            return text("train.stopping") if result == "stopping" else text("train.dequeued", run_id=run_id)
        if action == "cancel":
            result = manager.cancel(run_id)
            if result == "cancelling":
                return text("train.cancelling", run_id=run_id)
            return text("train.dequeued", run_id=run_id)
        manager.resume(run_id)
        return text("train.resuming", run_id=run_id)
    except StudioError as exc:
        return error_md(exc)


def on_stop(request: gr.Request | None = None) -> str:
    return _act("stop", request)


def on_cancel(request: gr.Request | None = None) -> str:
    return _act("cancel", request)


def on_resume(request: gr.Request | None = None) -> tuple[str, Any]:
    """Resume, and poll again: an idle page's timer was stopped."""
    return _act("resume", request), gr.Timer(active=True)


def current_run(request: gr.Request | None = None) -> str:
    """The run this session is watching (for cross-tab actions such as Try in Playground)."""
    with SESSIONS.use(request) as watch:
        return watch.run_id


def on_unload(request: gr.Request | None = None) -> None:
    SESSIONS.forget(request)


# ---- layout -----------------------------------------------------------------------------------
@dataclass
class TrainTab:
    components: dict[str, Any]

    def outputs(self) -> list[Any]:
        return [self.components[name] for name in OUTPUTS]

    def attach(self, app: gr.Blocks) -> None:
        """On every page load, re-attach to the run this browser watched (else the one training now) and redraw
        its full history; the browser keeps which run that is."""
        kept = gr.BrowserState(None, storage_key=run_state.RUN_KEY, secret=run_state.secret())
        app.load(on_load, [kept], self.outputs())
        self.components["picker"].change(
            lambda run_id: run_id or None, [self.components["picker"]], [kept], show_progress="hidden"
        )
        app.unload(on_unload)


def build_train_tab(run_config: gr.State, page_tab: gr.Tab | None = None) -> TrainTab:
    """Build the tab inside the current context; `page_tab` redraws it when it is opened (an idle page does not poll,
    so a run deleted or started meanwhile shows then)."""
    c: dict[str, Any] = {}
    with gr.Row(equal_height=True):
        c["name"] = gr.Textbox(
            label=text("train.name_label"),
            placeholder=text("train.name_placeholder"),
            scale=3,
            elem_id="train-name",
        )
        c["start"] = gr.Button(text("train.start"), variant="primary", scale=1, elem_id="train-start")
    c["message"] = gr.Markdown(elem_id="train-message")
    c["queue"] = gr.Markdown(elem_id="train-queue")
    with gr.Row(equal_height=True):
        c["picker"] = gr.Dropdown([], label=text("train.picker_label"), scale=4, elem_id="train-picker")
        c["stop"] = gr.Button(text("train.stop"), scale=1, interactive=False, elem_id="train-stop")
        c["cancel"] = gr.Button(
            text("evaluate.cancel"), variant="stop", scale=1, interactive=False, elem_id="train-cancel"
        )
        c["resume"] = gr.Button(text("train.resume"), scale=1, interactive=False, elem_id="train-resume")
        c["try"] = gr.Button(text("train.try"), scale=1, interactive=False, elem_id="train-try")
    c["status"] = gr.Markdown(elem_id="train-status")
    c["progress"] = gr.HTML(elem_id="train-progress")
    c["chart"] = gr.Plot(label=text("train.chart_label"), elem_id="train-chart")
    # DPO and ORPO runs: what they learn, as TRL logs it (shown once the run logs its rewards).
    c["preference"] = gr.Plot(label=text("train.preference_label"), visible=False, elem_id="train-preference")
    with gr.Accordion(text("train.samples_title"), open=True):
        gr.Markdown(text("train.samples_intro"))
        c["samples"] = gr.Dataframe(interactive=False, wrap=True, max_height=320, elem_id="train-samples")
    with gr.Accordion("train.log", open=False):
        c["log"] = gr.Code(language=None, lines=12, max_lines=24, elem_id="train-log")
    c["timer"] = gr.Timer(TICK_S, active=False)  # started by the page load or a start when a job is active
    tab = TrainTab(c)
    outputs = tab.outputs()
    c["start"].click(on_start, [run_config, c["name"]], [c["message"], *outputs], concurrency_limit=1)
    c["picker"].input(on_pick, [c["picker"]], outputs)
    # Many browsers may watch at once: ticks never wait in the queue behind each other.
    c["timer"].tick(on_tick, None, outputs, show_progress="hidden", concurrency_limit=None, trigger_mode="always_last")
    if page_tab is not None:
        page_tab.select(on_tick, None, outputs, show_progress="hidden", api_visibility="private")
    c["stop"].click(on_stop, None, [c["message"]])
    c["cancel"].click(on_cancel, None, [c["message"]])
    c["resume"].click(on_resume, None, [c["message"], c["timer"]])
    return tab
