"""What the Train tab draws of the run a page watches, apart from when and how it is sent (ui/train_tab.py): every
output, or one group of them (what moves with every step, and the rest), counted against what that page has drawn
(ui/train_sessions.Viewer). What every page watching a run is sent alike is made once for all of them.
"""

from __future__ import annotations

import time
from typing import Any

import gradio as gr

from lora_studio import jobs
from lora_studio.messages import text
from lora_studio.metrics import MetricRow
from lora_studio.runs import ACTIVE_STATES, ADAPTER_STATES, RESUMABLE_STATES, RunPaths, RunStatus, list_runs
from lora_studio.ui import charts
from lora_studio.ui.train_feed import LIVE_PARTS, STATE_PARTS
from lora_studio.ui.train_sessions import FEED, SHARED, Viewer, runs_root
from lora_studio.ui.train_view import describe, progress_html, queue_markdown, reports_line, run_label

# What moves with every step (ui/train_tab.py's live stream, `on_stream`) and the rest (its state stream). Apart
# because Gradio makes a new component for each output a message skips (~0.4 ms each, measured): a message of every
# output for one new point cost ~6 ms of server time per page.
LIVE = ("chart", "preference", "progress", "log")
STATE = ("picker", "status", "queue", "samples", "stop", "cancel", "resume", "try")
GROUPS = {"live": LIVE, "state": STATE}
FRESH_S = 1.0  # a page sent the progress made longer ago gets it drawn anew: its elapsed clock starts from it
# Order of the values every full redraw returns (see TrainTab.outputs()).
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
)


def redraw(viewer: Viewer, full: bool = False, read: bool = True) -> list[Any]:
    """Every output for the watched run; unchanged ones are skipped so the page does not flicker. `full` draws
    everything (a page load, a pick); `read` reads the run's files now, else the reader's last read is drawn."""
    values = draw(viewer, full, read, ("live", "state"), wire=False)
    return [values[name] for name in OUTPUTS]


def cleared(status: str) -> dict[str, Any]:
    return {
        "status": status,
        "progress": "",
        "chart": None,
        "preference": gr.update(visible=False),
        "log": "",
        "samples": None,
        "stop": gr.update(interactive=False),
        "cancel": gr.update(interactive=False),
        "resume": gr.update(interactive=False),
        "picker": gr.update(choices=run_choices(), value=None),
        "try": gr.update(interactive=False),
    }


def draw(viewer: Viewer, full: bool, read: bool, groups: tuple[str, ...], wire: bool) -> dict[str, Any]:
    """The outputs of `groups` that changed since this page drew them, the others skipped. `wire`: the values as
    the page is sent them (the live stream's event has postprocess=False), else as the components take them."""
    values: dict[str, Any] = {name: gr.skip() for group in groups for name in GROUPS[group]}
    if full:
        viewer.forget(groups)
    # A stream's draw takes the line-up the reader keeps current while pages stream: no file read in the event loop.
    running, queued = FEED.line_up if not read and FEED.streams else SHARED.line_up(fresh=full)
    queue_moved = False
    if "state" in groups:
        queue_key = repr((running, queued))
        queue_moved = queue_key != viewer.queue_key
        if queue_moved:
            viewer.queue_key = queue_key
            values["queue"] = queue_markdown(running, queued)
    if viewer.run_id and not (runs_root() / viewer.run_id).is_dir():  # deleted (Runs tab, or by hand)
        viewer.deleted, viewer.run_id = viewer.run_id, ""
    if not viewer.run_id:  # watching nothing: each group says so once, then stays as it is
        words = text("train.deleted", run_id=viewer.deleted) if viewer.deleted else text("train.no_run")
        for group in groups:
            if group not in viewer.cleared:
                viewer.cleared.add(group)
                values.update({k: v for k, v in cleared(words).items() if k in GROUPS[group]})
        if "live" in groups and values["chart"] is None:
            viewer.preference_shown = False
            values["chart"] = _plot(charts.loss_figure([]))[int(wire)]  # the empty "waiting" chart
        return values
    paths = RunPaths(runs_root() / viewer.run_id)
    view = FEED.view(runs_root(), viewer.run_id, read=read)
    with view.lock:
        live = viewer.live.changed(view, LIVE_PARTS) if "live" in groups else set()
        state = viewer.state.changed(view, STATE_PARTS) if "state" in groups else set()
        status, rows, log, samples = view.status, view.rows, view.log, view.samples
        offset = view.watch.offset
        key = (viewer.run_id, offset, *(view.versions[part] for part in LIVE_PARTS))
    if live:
        run_id = viewer.run_id
        made = SHARED.live(key, lambda: live_values(run_id, offset, status, rows, log))
        values.update({name: made[name][int(wire)] for name in LIVE})
        if time.time() - made["time"] > FRESH_S:  # made a while ago (nothing moved since): its clock would lag
            values["progress"] = _WIRE["html"].postprocess(progress_html(status, rows))
        shown = made["preference"][0] is not None
        if shown != viewer.preference_shown:  # only when it appears or goes: an update costs a new component
            viewer.preference_shown = shown
            values["preference"] = gr.update(value=made["preference"][int(wire)], visible=shown)
    if "status" in state or (queue_moved and status.state == "queued"):
        position = queued.index(viewer.run_id) + 1 if viewer.run_id in queued else None
        # The log as the reader holds it: a crash's traceback may have landed on an earlier read than the status.
        values["status"] = describe(status, viewer.run_id, position, log, reports_line(paths))
        values["stop"] = gr.update(interactive=status.state in ACTIVE_STATES)
        values["cancel"] = gr.update(interactive=status.state in ACTIVE_STATES)
        values["resume"] = gr.update(interactive=status.state in RESUMABLE_STATES)
        values["try"] = gr.update(interactive=status.state in ADAPTER_STATES and paths.adapter.is_dir())
        values["picker"] = gr.update(choices=run_choices(), value=viewer.run_id)  # labels carry the state
    if "samples" in state:
        values["samples"] = samples
    return values


# Components that only postprocess: the Train tab's own do it alike (their settings only change how the page shows).
_WIRE = {"plot": gr.Plot(render=False), "html": gr.HTML(render=False), "code": gr.Code(render=False)}


def _plot(figure: Any) -> tuple[Any, Any]:
    """(PlotData, which a Plot takes as it is; the same as the page is sent it)."""
    plot = _WIRE["plot"].postprocess(figure)
    return plot, plot.model_dump() if plot is not None else None


def live_values(run_id: str, offset: int, status: RunStatus, rows: list[MetricRow], log: str) -> dict[str, Any]:
    """The live outputs of a run as (what the component takes, what the page is sent): every page watching the
    run is sent the same, so the components' postprocessing runs once here, not once per page (ui/train_sessions)."""
    figures: dict[str, Any] = {"chart": SHARED.figure("loss", run_id, offset, rows), "preference": None}
    if charts.has_preference_points(rows):
        figures["preference"] = SHARED.figure("preference", run_id, offset, rows)
    made: dict[str, Any] = {name: _plot(figure) for name, figure in figures.items()}
    progress = _WIRE["html"].postprocess(progress_html(status, rows))  # the page moves the elapsed clock itself
    made["progress"] = (progress, progress)
    code = _WIRE["code"].postprocess(log)
    made["log"] = (code, code)
    made["time"] = time.time()
    return made


def run_choices() -> list[tuple[str, str]]:
    return [(run_label(p), p.run_id) for p in list_runs(runs_root())]


def default_run() -> str:
    """On page load: the run training now, else the next queued, else the newest."""
    manager = jobs.get_manager()
    active = manager.running() or manager.queued()
    if active:
        return active[0]
    runs = list_runs(runs_root())
    return runs[0].run_id if runs else ""
