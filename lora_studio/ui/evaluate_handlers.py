"""The Evaluate tab's handlers: module-level functions returning {component name: value}, so tests call them
without a browser (ui/handlers.by_component maps the names). The layout and wiring are in evaluate_tab.py."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gradio as gr

from lora_studio import adapter_uploads, adapters, evaluation, exports, settings
from lora_studio.config import ModelSettings, RunConfig
from lora_studio.dataset_rows import FormatUnknownError
from lora_studio.errors import StudioError
from lora_studio.eval_report import evaluations, read_rows, read_summary, rows_csv
from lora_studio.messages import text
from lora_studio.runs import RunPaths
from lora_studio.ui import evaluate_view as view
from lora_studio.ui import playground_view
from lora_studio.ui.export_tab import download_path
from lora_studio.ui.formatting import error_md
from lora_studio.ui.train_view import run_label

log = logging.getLogger(__name__)

GENERATION = list(playground_view.SETTINGS)  # the generation settings' names (no words: import time)
RESULT_VIEW = ("summary", "scores", "compare", "rows", "csv", "jsonl")
STATUS_VIEW = ("progress", "status", "start", "cancel", "log", "seen")


def _paths(run_id: str | None) -> RunPaths | None:
    if not run_id or "/" in run_id or run_id in (".", ".."):
        return None
    paths = RunPaths(settings.runs_dir() / run_id)
    return paths if paths.config.is_file() else None


def _root(run_id: str | None) -> Path:
    return evaluation.eval_root(_paths(run_id))


def run_choices() -> list[tuple[str, str]]:
    return [(run_label(p), p.run_id) for p in exports.exportable_runs(settings.runs_dir())]


def adapter_choices() -> list[tuple[str, str]]:
    return playground_view.adapter_choices(adapters.list_adapters())


# ---- showing ------------------------------------------------------------------------------------
def _status_values(root: Path) -> dict[str, Any]:
    status = evaluation.poll_evaluation(root)
    running = status.state == "running"
    return {
        "progress": view.progress_html(status),
        "status": view.status_md(status),
        "start": gr.update(interactive=not running),
        "cancel": gr.update(interactive=running),
        "log": evaluation.eval_log_tail(root, 30),
        "seen": f"{status.state}|{asdict(status)!r}",
    }


def _result_choices(root: Path) -> list[str]:
    return [p.name for p in evaluations(root)]


def show_result(run_id: str | None, result_id: str | None, which: str = "all", label: str | None = None) -> dict:
    """The scores, the verdict and the rows of one finished evaluation (empty when there is none)."""
    folder = _root(run_id) / result_id if result_id and "/" not in result_id else None
    summary = read_summary(folder) if folder is not None else None
    if folder is None or summary is None:
        return {
            "summary": text("evaluate.no_results") if _paths(run_id) else "",
            "scores": gr.update(value=None, visible=False),
            "compare": gr.update(choices=[], value=None, visible=False),
            "rows": "",
            # only switched off: an update to value None stalled other updates in the browser (see export_gguf)
            "csv": gr.update(interactive=False),
            "jsonl": gr.update(interactive=False),
        }
    rows = read_rows(folder)
    choices = view.adapters_of(summary)
    label = label if label in choices else (choices[0] if choices else None)
    headers, table = view.score_table(summary)
    csv_path = download_path(f"eval-{folder.name}.csv")
    csv_path.write_text(rows_csv(rows), encoding="utf-8")
    jsonl_path = download_path(f"eval-{folder.name}.jsonl")
    shutil.copyfile(folder / evaluation.ROWS_FILE, jsonl_path)
    return {
        "summary": view.summary_md(summary, str(folder)),
        "scores": gr.update(value={"headers": headers, "data": table}, visible=True),
        "compare": gr.update(choices=choices, value=label, visible=len(choices) > 1),
        "rows": _rows_view(rows, summary, which, label),
        "csv": gr.update(value=str(csv_path), interactive=True),
        "jsonl": gr.update(value=str(jsonl_path), interactive=True),
    }


def _rows_view(rows: list[dict], summary: dict, which: str, label: str | None) -> str:
    shown = view.filter_rows(rows, which or "all", label)
    return view.rows_html(shown, list(summary["models"]), label, len(shown))


def on_filter(run_id: str | None, result_id: str | None, which: str, label: str | None) -> dict:
    folder = _root(run_id) / (result_id or "")
    summary = read_summary(folder) if result_id and "/" not in result_id else None
    if summary is None:
        return {"rows": ""}
    return {"rows": _rows_view(read_rows(folder), summary, which, label)}


def select_run(run_id: str | None) -> dict:
    """Everything the tab shows for a run: its held-out rows, its adapter ticked, its latest results."""
    paths = _paths(run_id)
    root = _root(run_id)
    results = _result_choices(root)
    values: dict[str, Any] = {
        "run": gr.update(choices=run_choices(), value=run_id if paths else None),
        "adapters": gr.update(choices=adapter_choices()),
        "results": gr.update(choices=results, value=results[0] if results else None),
        **_status_values(root),
        **show_result(run_id, results[0] if results else None),
    }
    if paths is None:
        values["run_info"] = text("evaluate.no_run") if run_choices() else text("evaluate.no_runs")
        return values
    try:
        cfg = RunConfig.load(paths.config)
        held_out = evaluation.split_rows(paths) if cfg.data.eval_fraction > 0 else None
    except StudioError as exc:
        cfg, held_out, problem = None, None, error_md(exc)
    else:
        problem = ""
    count = text("evaluate.held_out", count=len(held_out.rows)) if held_out else text("evaluate.no_held_out")
    base = cfg.model.name_or_path if cfg else "?"
    values["run_info"] = text("evaluate.run_md", run_id=paths.run_id, base=base, held_out=count) + (
        f"\n\n{problem}" if problem else ""
    )
    values["source"] = "split" if held_out else "file"
    values["adapters"] = gr.update(choices=adapter_choices(), value=[f"run:{paths.run_id}"])
    return values


def on_refresh(run_id: str | None) -> dict:
    """Coming back to the tab (or Refresh): the lists are read again. On the same run, the rows to score and the
    adapters ticked stay as the person left them: a redraw that lands after a quick click must not undo it."""
    ids = [value for _, value in run_choices()]
    if run_id not in ids:
        return select_run(ids[0] if ids else None)
    values = select_run(run_id)
    values.pop("source", None)
    values["adapters"] = gr.update(choices=adapter_choices())
    return values


def on_tick(run_id: str | None, seen: str) -> dict:
    """Redraw when the status changed; when an evaluation just finished, show its results."""
    root = _root(run_id)
    values = _status_values(root)
    if values["seen"] == seen:
        status = evaluation.read_eval_status(root)
        return {"progress": view.progress_html(status)} if status.state == "running" else {}
    if seen.startswith("running|") and not values["seen"].startswith("running|"):
        results = _result_choices(root)
        values["results"] = gr.update(choices=results, value=results[0] if results else None)
        values["message"] = ""
        values.update(show_result(run_id, results[0] if results else None))
    return values


def evaluating(run_id: str | None) -> bool:
    return evaluation.read_eval_status(_root(run_id)).state == "running"


def _base_for(paths: RunPaths | None, chosen: list[adapters.AdapterInfo]) -> dict:
    if paths is not None:
        return dataclasses.asdict(RunConfig.load(paths.config).model)
    name = next((a.base_model for a in chosen if a.base_model), settings.EMBEDDED_MODEL_NAME)
    return dataclasses.asdict(ModelSettings(name_or_path=name))


def on_evaluate(
    run_id: str | None,
    source: str,
    upload: str | None,
    mapping: str,
    limit: float | None,
    include_base: bool,
    keys: list[str] | None,
    batch: float | None,
    *generation: Any,
) -> dict:
    """Check everything, write the spec and start the worker; every refusal is said in words."""
    paths = _paths(run_id)
    try:
        settings_, problem = playground_view.generation_settings(dict(zip(GENERATION, generation, strict=True)))
        if settings_ is None:
            return {"message": problem}
        count = int(limit or 0)
        if count < 0:
            return {
                "message": error_md(StudioError(text("evaluate.bad_limit", value=count), text("evaluate.limit_info")))
            }
        if source == "split":
            if paths is None:
                return {"message": text("evaluate.no_run")}
            rows = evaluation.split_rows(paths, count)
        else:
            if not upload:
                return {"message": text("evaluate.pick_file")}
            rows = evaluation.file_rows(upload, view.parse_mapping(mapping), count)
        chosen = [adapters.find_adapter(key) for key in keys or []]
        base = _base_for(paths, chosen)
        models = evaluation.models_for(base["name_or_path"], bool(include_base), chosen)
        folder = evaluation.write_spec(_root(run_id), base, models, rows, settings_, int(batch or 0))
        status = evaluation.start_evaluation(folder)
    except FormatUnknownError as exc:  # the Data tab's detection; here the fix is the mapping box
        return {
            "message": error_md(StudioError(exc.message, text("evaluate.map_hint", columns=", ".join(exc.columns))))
        }
    except StudioError as exc:
        return {"message": error_md(exc)}
    if status.state == "failed":
        return {"message": view.status_md(status)}
    message = text("evaluate.started", rows=len(rows.rows), models=", ".join(m.label for m in models))
    note = view.skipped_note(rows.skipped)
    return {"message": message + (f"\n\n{note}" if note else ""), **_status_values(_root(run_id))}


def on_cancel(run_id: str | None) -> dict:
    try:
        evaluation.cancel_evaluation(_root(run_id))
    except StudioError as exc:
        return {"message": error_md(exc)}
    return {"message": text("evaluate.cancelling")}


def on_upload(files: list[str] | str | None, selected: list[str] | None) -> dict:
    """Import an uploaded adapter (the Playground's checks) and tick it."""
    paths = [files] if isinstance(files, str) else list(files or [])
    if not paths:
        return {"message": gr.skip()}
    try:
        info = adapter_uploads.import_upload(paths)
    except StudioError as exc:
        return {"message": error_md(exc), "upload": None}
    return {
        "adapters": gr.update(
            choices=adapter_choices(), value=[*(k for k in selected or [] if k != info.key), info.key]
        ),
        "upload": None,
        "message": "",
    }
