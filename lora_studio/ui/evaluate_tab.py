"""The Evaluate tab: score the base and adapters on held-out rows or a file, then see row by row where the
adapter got better or worse.

The evaluation runs in a worker process (`evaluation.start_evaluation`); this tab writes its spec, starts it,
and polls eval/status.json with a gr.Timer that ticks only while one runs. This module holds the layout and
the wiring; the handlers are in ui/evaluate_handlers.py; the words are in the message catalogue.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import gradio as gr

from lora_studio import evaluation
from lora_studio.messages import text
from lora_studio.ui import evaluate_view as view
from lora_studio.ui import playground_view
from lora_studio.ui.evaluate_handlers import (
    GENERATION,
    RESULT_VIEW,
    STATUS_VIEW,
    evaluating,
    on_cancel,
    on_evaluate,
    on_filter,
    on_refresh,
    on_tick,
    on_upload,
    select_run,
    show_result,
)
from lora_studio.ui.handlers import by_component
from lora_studio.ui.widgets import setting_widget

__all__ = ["GENERATION", "build_evaluate_tab", "on_evaluate", "select_run"]  # tests and other tabs use these

log = logging.getLogger(__name__)

TICK_S = 1.0


# ---- layout -------------------------------------------------------------------------------------
def _inputs_panel(c: dict[str, Any]) -> None:
    with gr.Row(equal_height=True):
        c["run"] = gr.Dropdown(
            [], label=text("evaluate.run_label"), info=text("evaluate.run_info"), scale=4, elem_id="eval-run"
        )
        c["refresh"] = gr.Button(text("evaluate.refresh"), scale=1, elem_id="eval-refresh")
    c["run_info"] = gr.Markdown(elem_id="eval-run-info")
    with gr.Row(equal_height=False):
        with gr.Column():
            c["source"] = gr.Radio(
                [(text("evaluate.source.split"), "split"), (text("evaluate.source.file"), "file")],
                value="split",
                label=text("evaluate.source_label"),
                info=text("evaluate.source_info"),
                elem_id="eval-source",
            )
            c["file"] = gr.File(
                label=text("evaluate.file_label"), type="filepath", height=120, visible=False, elem_id="eval-file"
            )
            c["mapping"] = gr.Textbox(
                label=text("evaluate.map_label"), info=text("evaluate.map_info"), visible=False, elem_id="eval-map"
            )
            c["limit"] = gr.Number(
                0,
                precision=0,
                label=text("evaluate.limit_label"),
                info=text("evaluate.limit_info"),
                elem_id="eval-limit",
            )
        with gr.Column():
            c["base"] = gr.Checkbox(True, label=text("evaluate.base_label"), elem_id="eval-base")
            c["adapters"] = gr.CheckboxGroup(
                [], label=text("evaluate.adapters_label"), info=text("evaluate.adapters_info"), elem_id="eval-adapters"
            )
            c["upload"] = gr.File(
                label=text("evaluate.upload_label"),
                file_count="multiple",
                type="filepath",
                height=120,
                elem_id="eval-upload",
            )
    with gr.Accordion(text("evaluate.settings_title"), open=False):
        c["batch"] = gr.Number(
            evaluation.DEFAULT_BATCH,
            precision=0,
            label=text("evaluate.batch_label"),
            info=text("evaluate.batch_info"),
            elem_id="eval-batch",
        )
        for w in playground_view.setting_widgets():
            if w.name == "temperature":  # greedy: the same answer every time, so models are compared, not draws
                w = replace(w, value=0.0)
            c[w.name] = setting_widget(w, "eval-")


def _results_panel(c: dict[str, Any]) -> None:
    c["results"] = gr.Dropdown(
        [], label=text("evaluate.results_label"), info=text("evaluate.results_info"), elem_id="eval-results"
    )
    gr.Markdown(text("evaluate.scores_title"))
    c["summary"] = gr.Markdown(elem_id="eval-summary")
    c["scores"] = gr.Dataframe(interactive=False, visible=False, wrap=True, elem_id="eval-scores")
    gr.Markdown(text("evaluate.rows_title"))
    with gr.Row():
        c["filter"] = gr.Radio(
            [(text(f"evaluate.filter.{f}"), f) for f in view.FILTERS],
            value="all",
            label=text("evaluate.filter_label"),
            elem_id="eval-filter",
        )
        c["compare"] = gr.Dropdown([], label=text("evaluate.compare_label"), visible=False, elem_id="eval-compare")
        c["csv"] = gr.DownloadButton(text("evaluate.download_csv"), interactive=False, elem_id="eval-csv")
        c["jsonl"] = gr.DownloadButton(text("evaluate.download_jsonl"), interactive=False, elem_id="eval-jsonl")
    c["rows"] = gr.HTML(elem_id="eval-rows")


def build_evaluate_tab(tab: gr.Tab | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {}
    gr.Markdown(text("evaluate.intro"))
    _inputs_panel(c)
    with gr.Row():
        c["start"] = gr.Button(text("evaluate.start"), variant="primary", elem_id="eval-start")
        c["cancel"] = gr.Button(text("evaluate.cancel"), variant="stop", interactive=False, elem_id="eval-cancel")
    c["message"] = gr.Markdown(elem_id="eval-message")
    c["progress"] = gr.HTML(elem_id="eval-progress")
    c["status"] = gr.Markdown(elem_id="eval-status")
    _results_panel(c)
    with gr.Accordion(text("evaluate.log_title"), open=False):
        c["log"] = gr.Code(language=None, lines=8, max_lines=20, elem_id="eval-log")
    c["seen"] = gr.State("")
    c["timer"] = gr.Timer(TICK_S, active=False)
    _wire(c, tab)
    return c


def _wire(c: dict[str, Any], tab: gr.Tab | None) -> None:
    select_out = [c[n] for n in ("run", "run_info", "source", "adapters", "results", *STATUS_VIEW, *RESULT_VIEW)]
    run = c["run"]

    def dicts(fn):
        return lambda *args: by_component(c, fn(*args))

    def poll(run_id: str | None) -> Any:
        return gr.Timer(active=evaluating(run_id))

    triggers = [c["refresh"].click] + ([tab.select] if tab is not None else [])
    gr.on(triggers, dicts(on_refresh), [run], select_out, show_progress="hidden").then(
        poll, [run], c["timer"], show_progress="hidden"
    )
    run.input(dicts(select_run), [run], select_out).then(poll, [run], c["timer"], show_progress="hidden")
    inputs = [run, c["source"], c["file"], c["mapping"], c["limit"], c["base"], c["adapters"], c["batch"]]
    c["start"].click(
        dicts(on_evaluate),
        [*inputs, *(c[n] for n in GENERATION)],
        [c["message"], *(c[n] for n in STATUS_VIEW)],
        concurrency_limit=1,
    ).then(poll, [run], c["timer"], show_progress="hidden")
    c["cancel"].click(dicts(on_cancel), [run], [c["message"]])
    c["source"].change(
        lambda source: [gr.update(visible=source == "file")] * 2,
        [c["source"]],
        [c["file"], c["mapping"]],
        show_progress="hidden",
    )
    c["upload"].upload(dicts(on_upload), [c["upload"], c["adapters"]], [c["adapters"], c["upload"], c["message"]])
    c["timer"].tick(
        lambda run_id, seen: {
            **{c[name]: value for name, value in on_tick(run_id, seen).items()},
            c["timer"]: gr.Timer(active=evaluating(run_id)),
        },
        [run, c["seen"]],
        [c["results"], c["message"], *(c[n] for n in STATUS_VIEW), *(c[n] for n in RESULT_VIEW), c["timer"]],
        show_progress="hidden",
        concurrency_limit=None,
        trigger_mode="always_last",
    )
    result_in = [run, c["results"], c["filter"], c["compare"]]
    c["results"].input(dicts(show_result), result_in, [c[n] for n in RESULT_VIEW])
    c["filter"].input(dicts(on_filter), result_in, [c["rows"]], show_progress="hidden")
    c["compare"].input(dicts(on_filter), result_in, [c["rows"]], show_progress="hidden")
