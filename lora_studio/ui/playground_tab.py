"""The Playground tab: chat with the base model and adapters, or compare their answers side by side.

One model per server process: the engine's `Playground` holds the base and its adapters for every
browser. Load, unload and every generation share one gradio queue (`concurrency_id="playground"`,
one at a time), so a second user waits with a queue position instead of loading a model under a
running answer. The handlers (`playground_handlers`) reach the engine only through `engine("inference")`
and leave that lock before streaming, so the Data and Config tabs stay responsive while an answer is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from lora_studio import adapters, settings
from lora_studio import messages as catalogue
from lora_studio.ui import playground_view as view
from lora_studio.ui.playground_handlers import (
    COLUMNS,
    on_compare,
    on_load,
    on_refresh,
    on_send,
    on_stop,
    on_unload_all,
    on_upload,
)
from lora_studio.ui.playground_handlers import select_adapter as select_adapter  # app.py wires it from here
from lora_studio.ui.widgets import setting_widget

QUEUE = {"concurrency_limit": 1, "concurrency_id": "playground"}  # one model: one load or answer at a time


# ---- layout -----------------------------------------------------------------------------------
@dataclass
class PlaygroundTab:
    components: dict[str, Any]

    def out(self, values: dict[str, Any]) -> dict[Any, Any]:
        return {self.components[name]: value for name, value in values.items()}

    def select_outputs(self) -> list[Any]:
        """The components `select_adapter` updates (wire: `lambda r: tab.out(select_adapter(r))`)."""
        return [self.components[name] for name in ("base", "adapters", "message")]


def _settings_panel(c: dict[str, Any]) -> None:
    """Every widget from the settings' declaration: label, help with the allowed range, bounds, step, default."""
    widgets = {w.name: w for w in view.setting_widgets()}
    with gr.Accordion(catalogue.text("playground.settings_title"), open=False):
        c["system_prompt"] = setting_widget(widgets.pop("system_prompt"), "pg-")
        names = list(widgets)
        for row in (names[:3], names[3:]):
            with gr.Row():
                for name in row:
                    c[name] = setting_widget(widgets[name], "pg-")


def _model_panel(c: dict[str, Any]) -> None:
    with gr.Row(equal_height=True):
        c["base"] = gr.Dropdown(
            adapters.base_choices(),
            value=settings.EMBEDDED_MODEL_NAME,
            allow_custom_value=True,
            label=catalogue.field_label("model.name_or_path"),
            scale=3,
            elem_id="pg-base",
            info=catalogue.text("playground.base_info"),
        )
        c["adapters"] = gr.Dropdown(
            view.adapter_choices(adapters.list_adapters()),
            value=[],
            multiselect=True,
            label=catalogue.text("evaluate.adapters_label"),
            scale=4,
            elem_id="pg-adapters",
            info=catalogue.text("playground.adapters_info"),
        )
    with gr.Row():
        c["load"] = gr.Button(
            catalogue.text("playground.load"), variant="primary", scale=0, min_width=160, elem_id="pg-load"
        )
        c["unload"] = gr.Button(
            catalogue.text("playground.unload"), variant="stop", scale=0, min_width=200, elem_id="pg-unload"
        )
        c["refresh"] = gr.Button(
            catalogue.text("playground.refresh"), size="sm", scale=0, min_width=150, elem_id="pg-refresh"
        )
    with gr.Accordion(catalogue.text("playground.upload_title"), open=False):
        c["upload"] = gr.File(
            label=catalogue.text("playground.upload_label"),
            file_count="multiple",
            file_types=[".zip", ".json", ".safetensors", ".txt", ".jinja", ".model", ".bin"],
            elem_id="pg-upload",
        )
    c["message"] = gr.Markdown(elem_id="pg-message")
    c["status"] = gr.Markdown(view.status_md({}), elem_id="pg-status")


def _chat_panel(c: dict[str, Any]) -> None:
    # (label, value) choices: the label is in the page's language, the value (view.BASE_CHOICE) is the same in all.
    c["target"] = gr.Radio(
        view.target_choices({}),
        value=view.BASE_CHOICE,
        label=catalogue.text("playground.target_label"),
        elem_id="pg-target",
    )
    c["chat"] = gr.Chatbot(
        label=catalogue.text("playground.chat"), height=420, elem_id="pg-chat", buttons=["copy", "copy_all"]
    )
    with gr.Row(equal_height=True):
        c["chat_input"] = gr.Textbox(
            placeholder=catalogue.text("playground.chat_placeholder"),
            show_label=False,
            scale=6,
            elem_id="pg-chat-input",
        )
        c["send"] = gr.Button(catalogue.text("playground.send"), variant="primary", scale=1, elem_id="pg-send")
        c["chat_stop"] = gr.Button(catalogue.text("playground.stop"), scale=0, min_width=90, elem_id="pg-chat-stop")
        c["clear"] = gr.Button(catalogue.text("playground.clear"), scale=0, min_width=90, elem_id="pg-clear")
    c["chat_note"] = gr.Markdown(elem_id="pg-chat-note")


def _compare_panel(c: dict[str, Any]) -> None:
    c["compare_with"] = gr.CheckboxGroup(
        [], label=catalogue.text("playground.compare_with", count=view.MAX_COMPARED), elem_id="pg-compare-with"
    )
    with gr.Row(equal_height=True):
        c["compare_prompt"] = gr.Textbox(
            placeholder=catalogue.text("playground.compare_placeholder"),
            show_label=False,
            scale=6,
            elem_id="pg-compare-prompt",
        )
        c["compare"] = gr.Button(catalogue.text("playground.compare"), variant="primary", scale=1, elem_id="pg-compare")
        c["compare_stop"] = gr.Button(
            catalogue.text("playground.stop"), scale=0, min_width=90, elem_id="pg-compare-stop"
        )
    c["compare_note"] = gr.Markdown(elem_id="pg-compare-note")
    with gr.Row(equal_height=True):
        for i in range(COLUMNS):
            with gr.Column(variant="panel", visible=i < 2, elem_id=f"pg-col-{i}") as column:
                c[f"head{i}"] = gr.Markdown(elem_id=f"pg-head-{i}")
                c[f"answer{i}"] = gr.Markdown(elem_id=f"pg-answer-{i}", min_height=120)
            c[f"col{i}"] = column


def build_playground_tab(tab: gr.Tab | None = None) -> PlaygroundTab:
    """Build the tab inside the current context; `tab` refreshes the lists when it is selected."""
    c: dict[str, Any] = {}
    gr.Markdown(catalogue.text("playground.intro"))
    _model_panel(c)
    _settings_panel(c)
    with gr.Tabs():
        with gr.Tab(catalogue.text("playground.chat"), id="pg-chat-tab"):
            _chat_panel(c)
        with gr.Tab(catalogue.text("playground.compare_tab"), id="pg-compare-tab"):
            _compare_panel(c)
    playground = PlaygroundTab(c)
    _wire(playground, tab)
    return playground


def _wire(playground: PlaygroundTab, tab: gr.Tab | None) -> None:
    c, out = playground.components, playground.out
    loaded = [c["status"], c["target"], c["compare_with"], c["message"]]
    refresh_outputs = [c["base"], c["adapters"], c["status"], c["target"], c["compare_with"]]
    triggers = [c["refresh"].click] + ([tab.select] if tab is not None else [])
    gr.on(triggers, lambda: out(on_refresh()), None, refresh_outputs, show_progress="hidden")
    c["load"].click(lambda v: out(on_load(v[c["base"]], v[c["adapters"]])), {c["base"], c["adapters"]}, loaded, **QUEUE)
    c["unload"].click(lambda: out(on_unload_all()), None, loaded, **QUEUE)
    c["upload"].upload(
        lambda v: out(on_upload(v[c["upload"]], v[c["adapters"]])),
        {c["upload"], c["adapters"]},
        [c["message"], c["adapters"], c["upload"]],
    )
    setting_names = {c[name]: name for name in view.SETTINGS}

    def send(v: dict) -> Iterator[dict]:
        values = {name: v[comp] for comp, name in setting_names.items()}
        for result in on_send(v[c["chat_input"]], v[c["chat"]], v[c["target"]], values):
            yield out(result)

    def compare(v: dict) -> Iterator[dict]:
        values = {name: v[comp] for comp, name in setting_names.items()}
        for result in on_compare(v[c["compare_prompt"]], v[c["compare_with"]], values):
            yield out(result)

    chat_outputs = [c["chat"], c["chat_input"], c["chat_note"]]
    chat_inputs = {c["chat_input"], c["chat"], c["target"], *setting_names}
    gr.on([c["send"].click, c["chat_input"].submit], send, chat_inputs, chat_outputs, **QUEUE)
    compare_outputs = [
        c["compare_note"],
        *(c[f"{kind}{i}"] for kind in ("head", "answer", "col") for i in range(COLUMNS)),
    ]
    gr.on(
        [c["compare"].click, c["compare_prompt"].submit],
        compare,
        {c["compare_prompt"], c["compare_with"], *setting_names},
        compare_outputs,
        **QUEUE,
    )
    # Stop must not wait in the playground queue behind the answer it stops.
    gr.on(
        [c["chat_stop"].click, c["compare_stop"].click],
        on_stop,
        None,
        None,
        concurrency_limit=None,
        show_progress="hidden",
    )
    c["clear"].click(lambda: ([], ""), None, [c["chat"], c["chat_note"]])
