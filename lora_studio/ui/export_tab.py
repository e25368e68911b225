"""The Merge & Export tab: a finished run's adapter as a zip, a verified merged model, a push to the Hub.

Merging and pushing run in an export worker process (`exports.start_merge` / `start_push`); this tab
only starts them and polls runs/<id>/exports/status.json with a gr.Timer. Downloads are copied or
written into Gradio's own upload folder under a random name and served from there: LORA_STUDIO_HOME
is never added to `allowed_paths`, so the server hands out only the files this tab made for download.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from lora_studio import exports, settings
from lora_studio.errors import StudioError
from lora_studio.messages import text
from lora_studio.runs import RunPaths
from lora_studio.ui import export_gguf
from lora_studio.ui import export_view as view
from lora_studio.ui.formatting import error_md
from lora_studio.ui.train_view import run_label

log = logging.getLogger(__name__)

TICK_S = 1.0
DOWNLOADS = "lora-studio-downloads"
KEEP_DOWNLOADS_S = 6 * 3600  # a prepared download unused this long is deleted
OUTPUTS = (
    "picker",
    "run_info",
    "message",
    "adapter_dl",
    "merge_btn",
    "cancel_btn",
    "merged_btn",
    "merged_file",
    "progress",
    "status",
    "verification",
    "push_what",
    "log",
    "seen",
    "gguf_btn",
    "gguf_info",
    "gguf_dl",
    "gguf_message",
)
# Clicks the merged zip's link once it is there, so one press of the button downloads it.
CLICK_MERGED_JS = """() => { let n = 0; const t = setInterval(() => {
  const a = document.querySelector('#export-merged-file a[download]');
  if (a || ++n > 50) { clearInterval(t); if (a) a.click(); } }, 100); }"""


def _root() -> Path:
    return settings.runs_dir()


def _paths(run_id: str | None) -> RunPaths | None:
    if not run_id or "/" in run_id or run_id in (".", ".."):
        return None
    paths = RunPaths(_root() / run_id)
    return paths if paths.config.is_file() else None


def download_path(name: str) -> Path:
    """A fresh, unguessable path in Gradio's upload folder for a file to hand to the browser."""
    root = Path(get_upload_folder()) / DOWNLOADS
    for old in root.iterdir() if root.is_dir() else []:
        try:
            if time.time() - old.stat().st_mtime > KEEP_DOWNLOADS_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass  # another request removed it first
    folder = root / secrets.token_hex(12)
    folder.mkdir(parents=True)
    return folder / name


def run_choices() -> list[tuple[str, str]]:
    return [(run_label(p), p.run_id) for p in exports.exportable_runs(_root())]


def _status_key(paths: RunPaths, dtype: str) -> str:
    """What a redraw depends on; it starts with the state, so a tick can tell when a job just ended."""
    status = exports.poll_export(paths)
    return f"{status.state}|{(paths.run_id, dtype, asdict(status))!r}"


_ZIPS: dict[str, tuple[tuple, Path]] = {}  # run folder -> (what the zip was made from, the zip)


def _adapter_download(paths: RunPaths) -> str | None:
    """The adapter zip for the download button, made once per adapter (its card reads the whole data file)."""
    try:
        made_from = (paths.adapter.stat().st_mtime_ns, paths.status.stat().st_mtime_ns)
        cached = _ZIPS.get(str(paths.root))
        if cached and cached[0] == made_from and cached[1].is_file():
            os.utime(cached[1].parent)  # in use again: not pruned for another KEEP_DOWNLOADS_S
            return str(cached[1])
        out = exports.adapter_zip(paths, download_path(f"{paths.run_id}-adapter.zip"))
    except (StudioError, OSError) as exc:
        log.warning("Could not prepare the adapter zip of %s: %s", paths.run_id, exc)
        return None
    _ZIPS[str(paths.root)] = (made_from, out)
    return str(out)


def _status_values(paths: RunPaths, dtype: str) -> dict[str, Any]:
    status = exports.poll_export(paths)
    running = status.state == "running"
    available = view.merged_available(paths)
    log_text = exports.export_log_tail(paths, 30)
    return {
        "merge_btn": gr.update(interactive=not running),
        "cancel_btn": gr.update(interactive=running),
        "merged_btn": gr.update(interactive=available.get(dtype, False) and not running),
        "progress": view.progress_html(status),
        "status": view.status_md(status, log_text),
        "verification": view.verification_md(view.shown_report(paths, dtype, status)),
        "log": log_text,
        "seen": _status_key(paths, dtype),
        "gguf_btn": gr.update(interactive=not running),
        "gguf_info": export_gguf.gguf_md(paths),
        "gguf_dl": export_gguf.download(paths, download_path),
    }


def select_run(run_id: str | None, dtype: str = "float32") -> list[Any]:
    """Everything the tab shows for `run_id` (other tabs call this to preselect a run)."""
    choices = run_choices()
    paths = _paths(run_id)
    if paths is None:
        values: dict[str, Any] = dict.fromkeys(OUTPUTS, "")
        values.update(
            picker=gr.update(choices=choices, value=None),
            run_info=view.NO_RUN(),
            merged_file=gr.update(value=None, visible=False),
            adapter_dl=gr.update(value=None, interactive=False),
            merge_btn=gr.update(interactive=False),
            cancel_btn=gr.update(interactive=False),
            merged_btn=gr.update(interactive=False),
            push_what=gr.update(choices=[], value=None),
            gguf_btn=gr.update(interactive=False),
            gguf_dl=gr.update(value=None, interactive=False),
        )
        return [values[name] for name in OUTPUTS]
    refusal = None
    try:
        exports.check_exportable(paths)
        info, zip_path = view.run_md(paths), _adapter_download(paths)
    except StudioError as exc:
        refusal, info, zip_path = exc, error_md(exc), None
    values = {
        "picker": gr.update(choices=choices, value=paths.run_id),
        "run_info": info,
        "message": "",
        "merged_file": gr.update(value=None, visible=False),
        "adapter_dl": gr.update(value=zip_path, interactive=zip_path is not None),
        "push_what": gr.update(choices=view.push_choices(paths), value="adapter"),
        **_status_values(paths, dtype),
    }
    values["gguf_message"] = ""
    if refusal is not None:  # e.g. preselected from another tab while it still trains
        values["merge_btn"] = gr.update(interactive=False)
        values["gguf_btn"] = gr.update(interactive=False)
    return [values[name] for name in OUTPUTS]


# ---- handlers (module level: tests call them without a browser) ------------------------------------
def on_refresh(run_id: str | None, dtype: str = "float32") -> list[Any]:
    """On tab select: the run list again; the chosen run stays when it is still exportable, else the newest."""
    ids = [value for _, value in run_choices()]
    return select_run(run_id if run_id in ids else (ids[0] if ids else None), dtype)


def on_tick(run_id: str | None, dtype: str, seen: str) -> list[Any]:
    """Redraw when the export status changed; while it runs, at least the progress clock."""
    paths = _paths(run_id)
    values: dict[str, Any] = {name: gr.skip() for name in OUTPUTS}
    if paths is None:
        return [values[name] for name in OUTPUTS]
    key = _status_key(paths, dtype)
    status = exports.read_export_status(paths)
    if key != seen:
        values.update(_status_values(paths, dtype))
        if seen.startswith("running|") and status.state != "running":
            values["message"] = ""  # "Merging…" is over: the status below says how it ended
            values["gguf_message"] = ""
        if status.state == "completed" and status.action in ("merge", "gguf"):
            values.update(run_info=view.run_md(paths), push_what=gr.update(choices=view.push_choices(paths)))
    elif status.state == "running":
        values["progress"] = view.progress_html(status)
    return [values[name] for name in OUTPUTS]


def exporting(run_id: str | None) -> bool:
    """Whether a merge or push of this run is running now (the tab's timer ticks only then)."""
    paths = _paths(run_id)
    return paths is not None and exports.read_export_status(paths).state == "running"


def on_dtype(run_id: str | None, dtype: str) -> list[Any]:
    paths = _paths(run_id)
    values: dict[str, Any] = {name: gr.skip() for name in OUTPUTS}
    if paths is not None:
        values.update(_status_values(paths, dtype))
    return [values[name] for name in OUTPUTS]


def on_merge(run_id: str | None, dtype: str) -> str:
    paths = _paths(run_id)
    if paths is None:
        return text("gguf.pick_run")
    try:
        exports.start_merge(paths, dtype)
    except StudioError as exc:
        return error_md(exc)
    if dtype == "float32":
        return text("export.merge_started", run_id=paths.run_id)
    return text("export.merge_started_cast", run_id=paths.run_id, dtype=dtype)


def on_cancel(run_id: str | None) -> str:
    paths = _paths(run_id)
    if paths is None:
        return text("export.pick_run")
    try:
        exports.cancel_export(paths)
    except StudioError as exc:
        return error_md(exc)
    return text("export.cancelling")


def on_download_merged(run_id: str | None, dtype: str) -> tuple[Any, str]:
    """Zip a verified merged folder into a fresh download path (Gradio serves it from there)."""
    paths = _paths(run_id)
    hidden = gr.update(value=None, visible=False)
    if paths is None:
        return hidden, text("gguf.pick_run")
    try:
        out = exports.merged_zip(paths, dtype, download_path(f"{paths.run_id}-merged-{dtype}.zip"))
    except StudioError as exc:
        return hidden, error_md(exc)
    except OSError as exc:
        return hidden, error_md(StudioError(text("export.zip_failed", error=exc), text("export.zip_failed_hint")))
    return (
        gr.update(value=str(out), visible=True),
        text("export.zip_ready", name=out.name, size=view.size_text(out)),
    )


def on_push(run_id: str | None, what: str | None, repo_id: str, token: str, private: bool) -> tuple[str, str]:
    """Start the push; the token field is emptied either way (the token lives only in the worker's environment)."""
    paths = _paths(run_id)
    if paths is None:
        return text("gguf.pick_run"), ""
    try:
        exports.start_push(paths, what or "adapter", repo_id, token.strip() or None, private=bool(private))
    except StudioError as exc:
        return exports.scrub(error_md(exc), [token.strip()]), ""
    return text(
        "export.pushing_private" if private else "export.pushing_public", what=what, repo_id=repo_id.strip()
    ), ""


# ---- layout -------------------------------------------------------------------------------------
@dataclass
class ExportTab:
    components: dict[str, Any]

    def outputs(self) -> list[Any]:
        return [self.components[name] for name in OUTPUTS]


def _build_downloads(c: dict[str, Any]) -> None:
    with gr.Row(equal_height=False):
        with gr.Column():
            gr.Markdown(text("export.adapter_title"))
            c["adapter_dl"] = gr.DownloadButton(
                text("export.adapter_download"), interactive=False, elem_id="export-adapter-dl"
            )
        with gr.Column():
            gr.Markdown(text("export.merged_title"))
            c["dtype"] = gr.Radio(
                list(exports.EXPORT_DTYPES),
                value="float32",
                label=text("export.dtype_label"),
                info=text("export.dtype_info"),
                elem_id="export-dtype",
            )
            with gr.Row():
                c["merge_btn"] = gr.Button(
                    text("export.merge"), variant="primary", interactive=False, elem_id="export-merge"
                )
                c["cancel_btn"] = gr.Button(
                    text("evaluate.cancel"), variant="stop", interactive=False, elem_id="export-cancel"
                )
                c["merged_btn"] = gr.Button(
                    text("export.merged_download"), interactive=False, elem_id="export-merged-btn"
                )
            c["message"] = gr.Markdown(elem_id="export-message")
            c["merged_file"] = gr.File(
                label=text("export.merged_file"), interactive=False, visible=False, elem_id="export-merged-file"
            )


def _build_push(c: dict[str, Any]) -> None:
    with gr.Accordion(text("export.push_title"), open=False, elem_id="export-push-box"):
        gr.Markdown(text("export.push_intro"))
        with gr.Row():
            c["push_what"] = gr.Dropdown([], label=text("export.push_what"), scale=1, elem_id="export-push-what")
            c["repo_id"] = gr.Textbox(
                label=text("export.repo_label"), placeholder="your-name/your-lora", scale=2, elem_id="export-repo-id"
            )
            c["token"] = gr.Textbox(
                label=text("export.token_label"),
                type="password",
                scale=2,
                elem_id="export-token",
                placeholder=text("export.token_placeholder"),
            )
        with gr.Row():
            c["private"] = gr.Checkbox(True, label=text("export.private"), elem_id="export-private")
            c["push_btn"] = gr.Button(text("export.push"), elem_id="export-push")
        c["push_msg"] = gr.Markdown(elem_id="export-push-message")


def build_export_tab(tab: gr.Tab | None = None) -> ExportTab:
    """Build the tab inside the current context; `tab` re-reads the run list when it is selected."""
    c: dict[str, Any] = {}
    gr.Markdown(text("export.intro"))
    with gr.Row(equal_height=True):
        c["picker"] = gr.Dropdown([], label=text("export.picker"), scale=4, elem_id="export-picker")
        c["refresh_btn"] = gr.Button(text("export.refresh"), scale=1, elem_id="export-refresh")
    c["run_info"] = gr.Markdown(elem_id="export-run")
    _build_downloads(c)
    export_gguf.build(c)
    c["progress"] = gr.HTML(elem_id="export-progress")
    c["status"] = gr.Markdown(elem_id="export-status")
    c["verification"] = gr.Markdown(elem_id="export-verification")
    _build_push(c)
    with gr.Accordion("export.log", open=False):
        c["log"] = gr.Code(language=None, lines=10, max_lines=20, elem_id="export-log")
    c["seen"] = gr.State("")
    c["timer"] = gr.Timer(TICK_S, active=False)  # ticks only while a merge or push of the shown run runs
    export = ExportTab(c)
    outputs, run, dtype = export.outputs(), c["picker"], c["dtype"]
    triggers = [c["refresh_btn"].click] + ([tab.select] if tab is not None else [])

    def poll(run_id: str | None) -> Any:
        return gr.Timer(active=exporting(run_id))

    # An idle page does not poll: the timer starts with an export, or when a run with one running is shown.
    gr.on(triggers, on_refresh, [run, dtype], outputs, show_progress="hidden").then(
        poll, [run], c["timer"], show_progress="hidden"
    )
    run.input(select_run, [run, dtype], outputs).then(poll, [run], c["timer"], show_progress="hidden")
    dtype.input(on_dtype, [run, dtype], outputs, show_progress="hidden")

    def tick(run_id: str | None, kind: str, seen: str) -> list[Any]:
        return [*on_tick(run_id, kind, seen), gr.Timer(active=exporting(run_id))]

    c["timer"].tick(
        tick,
        [run, dtype, c["seen"]],
        [*outputs, c["timer"]],
        show_progress="hidden",
        concurrency_limit=None,
        trigger_mode="always_last",
    )
    c["merge_btn"].click(on_merge, [run, dtype], c["message"], concurrency_limit=1).then(
        poll, [run], c["timer"], show_progress="hidden"
    )
    c["cancel_btn"].click(on_cancel, [run], c["message"])
    c["gguf_btn"].click(
        lambda run_id, qtype: export_gguf.on_export(_paths(run_id), qtype),
        [run, c["gguf_type"]],
        c["gguf_message"],
        concurrency_limit=1,
    ).then(poll, [run], c["timer"], show_progress="hidden")
    c["merged_btn"].click(
        lambda: gr.update(value=None, visible=False), None, c["merged_file"], show_progress="hidden"
    ).then(on_download_merged, [run, dtype], [c["merged_file"], c["message"]]).then(None, js=CLICK_MERGED_JS)
    c["push_btn"].click(
        on_push,
        [run, c["push_what"], c["repo_id"], c["token"], c["private"]],
        [c["push_msg"], c["token"]],
        concurrency_limit=1,
    ).then(poll, [run], c["timer"], show_progress="hidden")
    return export
