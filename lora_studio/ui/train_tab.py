"""The Train tab: start a run, watch its loss fall live, stop, cancel or resume it.

Training never runs here: `jobs.JobManager` starts a worker process and this tab only reads the
run directory. The live view is pushed: one reader of the runs folder (ui/train_feed.py) reads each
watched run once for every page, and each page's two streams (`on_stream` for what moves each step,
`on_stream_state` for the rest; generators Gradio sends over its event stream) draw what changed when the
reader says so. A page's timer only starts those streams, and starts one again when it ended; a refreshed
page (Gradio reloads the page after a server restart) redraws the full history from disk and goes on live.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import gradio as gr

from lora_studio import jobs
from lora_studio.errors import StudioError
from lora_studio.messages import text
from lora_studio.ui import run_state
from lora_studio.ui.formatting import error_md
from lora_studio.ui.train_draw import GROUPS, OUTPUTS, default_run, draw, redraw
from lora_studio.ui.train_feed import LIVE_PARTS, STATE_PARTS
from lora_studio.ui.train_sessions import FEED, SESSIONS, SHARED, runs_root

RESTART_S = 1.0  # the page's timer: starts the live streams, and again within a second if one ended
HEARTBEAT_S = 10.0  # with nothing new, a stream says so this often, so a closed page's stream ends


# ---- handlers (module level: tests call them without a browser; gradio passes the request) ------
def on_load(kept: str | None = None, request: gr.Request | None = None) -> list[Any]:
    """A page (re)loads: the run this browser watched before, if it is still there, else the default one."""
    with SESSIONS.use(request, _kept_or_default(kept)) as viewer:
        return redraw(viewer, full=True)


def _kept_or_default(kept: str | None) -> str:
    return kept if isinstance(kept, str) and kept and (runs_root() / kept).is_dir() else default_run()


def on_tick(request: gr.Request | None = None) -> list[Any]:
    """What changed since this page last drew, read now (the tab opened)."""
    with SESSIONS.use(request) as viewer:
        return redraw(viewer)


async def on_stream(kept: str | None = None, request: gr.Request | None = None) -> AsyncIterator[list[Any]]:
    """The page's live view, pushed: waits (in memory) for the reader's next round, then sends the chart, progress
    and log when they changed, as every page watching the run is sent them (its event has postprocess=False).
    Started by the page's timer, which starts it again if it ends; it ends when the page goes (unload forgets the
    session). A session this server does not know (forgotten while the page stayed open, or its first tick came
    before its load) watches the run this browser `kept`, as a page load does. Beyond STREAMS_MAX streams, a page
    is drawn once and the stream ends: its timer draws it again a second later."""
    async for values in _stream("live", kept, request):
        yield values


async def on_stream_state(kept: str | None = None, request: gr.Request | None = None) -> AsyncIterator[list[Any]]:
    """The rest of the page, pushed as `on_stream` is: the status, the buttons, the run list, the line-up and the
    sample answers, which change a few times a run."""
    async for values in _stream("state", kept, request):
        yield values


async def _stream(group: str, kept: str | None, request: gr.Request | None) -> AsyncIterator[list[Any]]:
    wire = group == "live"
    if not SESSIONS.known(request):
        yield await anyio.to_thread.run_sync(_rejoined, group, kept, request)
    if not FEED.opened(SESSIONS.watched):
        values = await anyio.to_thread.run_sync(_pushed, group, request, wire)
        if not all(_skipped(value) for value in values):
            yield values
        return
    try:
        seen_round, said = -1, time.monotonic()
        while SESSIONS.known(request):
            now = _pushed_now(group, request, wire)
            values = now if now is not None else await anyio.to_thread.run_sync(_pushed, group, request, wire)
            if not all(_skipped(value) for value in values) or time.monotonic() - said > HEARTBEAT_S:
                said = time.monotonic()
                yield values
            seen_round = await FEED.wait(seen_round, HEARTBEAT_S)
    finally:
        FEED.closed()


def _pushed_now(group: str, request: gr.Request | None, wire: bool) -> list[Any] | None:
    """This page's draw of `group` when it needs nothing but memory: the reader has read the run, this round's live
    values are made, or the state part has not changed. Else None, and it is drawn in a worker thread (`_pushed`).
    Streams call this in the event loop: twenty pages watching then cost no thread hand-off each per step (measured:
    40 hand-offs a step took training's two cores from it for a moment each)."""
    with SESSIONS.use_now(request) as viewer:
        if viewer is None or not viewer.run_id or not FEED.streams:
            return None
        view = FEED.peek(runs_root(), viewer.run_id)
        if view is None or view.gone or not view.lock.acquire(blocking=False):  # the reader is reading it
            return None
        try:
            versions, offset = dict(view.versions), view.watch.offset
        finally:
            view.lock.release()
        if group == "live":
            moved = any(viewer.live.versions.get(part) != versions[part] for part in LIVE_PARTS)
            if moved and not SHARED.live_made((viewer.run_id, offset, *(versions[part] for part in LIVE_PARTS))):
                return None  # the first page of this round makes them, in a thread
        else:
            moved = any(viewer.state.versions.get(part) != versions[part] for part in STATE_PARTS)
            if moved or viewer.queue_key != repr(FEED.line_up):
                return None  # the status words read files (the run's settings, the run list)
        values = draw(viewer, False, False, (group,), wire)
    return [values[name] for name in GROUPS[group]]


def _rejoined(group: str, kept: str | None, request: gr.Request | None) -> list[Any]:
    """As on_load, for one group: the other one counts as not drawn, so its stream draws it in full."""
    with SESSIONS.use(request, _kept_or_default(kept)) as viewer:
        values = draw(viewer, True, True, (group,), wire=group == "live")
    return [values[name] for name in GROUPS[group]]


def _skipped(value: Any) -> bool:
    return type(value) is dict and value == gr.skip()  # a figure or a table is never compared by value


def _pushed(group: str, request: gr.Request | None, wire: bool) -> list[Any]:
    with SESSIONS.use(request) as viewer:
        values = draw(viewer, False, False, (group,), wire)
    return [values[name] for name in GROUPS[group]]


def on_pick(run_id: str | None, request: gr.Request | None = None) -> list[Any]:
    with SESSIONS.use(request, run_id or "") as viewer:
        return redraw(viewer, full=True)


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
    with SESSIONS.use(request, paths.run_id) as viewer:
        return [message, *redraw(viewer, full=True)]


def _act(action: str, request: gr.Request | None) -> str:
    with SESSIONS.use(request) as viewer:
        run_id = viewer.run_id
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


def on_resume(request: gr.Request | None = None) -> str:
    return _act("resume", request)


def current_run(request: gr.Request | None = None) -> str:
    """The run this session is watching (for cross-tab actions such as Try in Playground)."""
    with SESSIONS.use(request) as viewer:
        return viewer.run_id


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
        # The live stream's values are sent as they are: made once for every page (`_live_values`).
        timer = self.components["timer"]
        live, state = ([self.components[name] for name in GROUPS[group]] for group in ("live", "state"))
        timer.tick(on_stream, [kept], live, **STREAMED, postprocess=False)
        timer.tick(on_stream_state, [kept], state, **STREAMED)
        self.components["picker"].change(
            lambda run_id: run_id or None, [self.components["picker"]], [kept], show_progress="hidden"
        )
        app.unload(on_unload)


# Many browsers may watch at once: streams never wait in the queue behind each other (each holds one of the queue's
# slots: ui/app.py's launch makes room for STREAMS_MAX). "once": while a page's stream runs, the timer's ticks are
# ignored in the browser (no request) for it; when it ended, the next tick starts it again.
STREAMED: dict[str, Any] = {"show_progress": "hidden", "concurrency_limit": None, "trigger_mode": "once"}


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
    c["timer"] = gr.Timer(RESTART_S)  # starts the page's two streams; ignored for one while it runs
    tab = TrainTab(c)
    outputs = tab.outputs()
    c["start"].click(on_start, [run_config, c["name"]], [c["message"], *outputs], concurrency_limit=1)
    c["picker"].input(on_pick, [c["picker"]], outputs)
    if page_tab is not None:
        page_tab.select(on_tick, None, outputs, show_progress="hidden", api_visibility="private")
    c["stop"].click(on_stop, None, [c["message"]])
    c["cancel"].click(on_cancel, None, [c["message"]])
    c["resume"].click(on_resume, None, [c["message"]])
    return tab
