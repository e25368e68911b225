"""The Playground tab: chat with the base model and adapters, or compare their answers side by side.

One model per server process: the engine's `Playground` holds the base and its adapters for every
browser. Load, unload and every generation share one gradio queue (`concurrency_id="playground"`,
one at a time), so a second user waits with a queue position instead of loading a model under a
running answer. Handlers reach the engine only through `engine("inference")` and leave that lock
before streaming, so the Data and Config tabs stay responsive while an answer is written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from lora_studio import adapters, settings
from lora_studio import messages as catalogue
from lora_studio.errors import StudioError
from lora_studio.generation_config import GenerationSettings
from lora_studio.ui import playground_view as view
from lora_studio.ui.engine_access import engine
from lora_studio.ui.formatting import error_md
from lora_studio.ui.widgets import FormSlider

log = logging.getLogger(__name__)

QUEUE = {"concurrency_limit": 1, "concurrency_id": "playground"}  # one model: one load or answer at a time
COLUMNS = 1 + view.MAX_COMPARED
UPDATE_EVERY_S = 0.1  # at most ~10 redraws a second: each one sends the whole answer to the browser


def _snapshot() -> dict[str, Any]:
    # engine.inference imports torch: reached lazily, never at the dashboard's import.
    with engine("inference") as inference:
        return inference.playground().snapshot()


def loaded_values(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Everything that shows what is loaded: status, the chat's answer-with radio, the compare choice."""
    targets = view.target_choices(snapshot)
    return {
        "status": view.status_md(snapshot),
        "target": gr.update(choices=targets, value=targets[-1][1]),
        "compare_with": gr.update(
            choices=view.compare_choices(snapshot),
            value=[key for _, key in view.compare_choices(snapshot)][: view.MAX_COMPARED],
        ),
    }


# ---- handlers (module level: tests call them without a browser) -------------------------------
def on_refresh() -> dict[str, Any]:
    """New runs, uploads and merged exports since the page was built, and what the engine holds now."""
    snapshot = _snapshot()
    values = {
        "base": gr.update(choices=adapters.base_choices()),
        "adapters": gr.update(choices=view.adapter_choices(adapters.list_adapters())),
        "status": view.status_md(snapshot),
    }
    targets = view.target_choices(snapshot)
    values["target"] = gr.update(choices=targets)
    values["compare_with"] = gr.update(choices=view.compare_choices(snapshot))
    return values


def on_load(base: str | None, keys: list[str] | None) -> dict[str, Any]:
    """Make the engine hold exactly this base and these adapters (the rest are unloaded, freeing memory)."""
    keys = list(keys or [])
    problems: list[str] = []
    with engine("inference") as inference:
        playground = inference.playground()
        try:
            playground.load_base(base or "")
        except StudioError as exc:
            return {**loaded_values(playground.snapshot()), "message": error_md(exc)}
        except Exception as exc:  # said in words instead of Gradio's bare "Error"
            log.exception("Loading base model %r failed", base)
            return {**loaded_values(playground.snapshot()), "message": view.unexpected_md("Loading the model", exc)}
        for key in [k for k in playground.adapters if k not in keys]:
            playground.unload_adapter(key)
        for key in keys:
            try:
                playground.load_adapter(adapters.find_adapter(key))
            except StudioError as exc:
                problems.append(error_md(exc))
            except Exception as exc:  # said in words instead of Gradio's bare "Error"
                log.exception("Loading adapter %s failed", key)
                problems.append(view.unexpected_md(f"Loading adapter {key}", exc))
        snapshot = playground.snapshot()
    loaded = len(snapshot["adapters"])
    message = "\n\n".join(problems) or (
        f"✅ Loaded `{snapshot['base']}`" + (f" with {loaded} adapter(s)." if loaded else ".")
    )
    return {**loaded_values(snapshot), "message": message}


def on_unload_all() -> dict[str, Any]:
    with engine("inference") as inference:
        playground = inference.playground()
        try:
            playground.unload_base()
        except StudioError as exc:
            return {**loaded_values(playground.snapshot()), "message": error_md(exc)}
        snapshot = playground.snapshot()
    return {**loaded_values(snapshot), "message": "Unloaded the base model and every adapter; the memory is free."}


def on_upload(files: list[str] | str | None, selected: list[str] | None) -> dict[str, Any]:
    """Import an uploaded adapter (a zip, or the folder's files) and tick it for loading."""
    paths = [files] if isinstance(files, str) else list(files or [])
    if not paths:
        return {"message": gr.skip(), "adapters": gr.skip(), "upload": gr.skip()}
    try:
        info = adapters.import_upload(paths)
    except StudioError as exc:
        return {"message": error_md(exc), "adapters": gr.skip(), "upload": None}
    except Exception as exc:  # said in words, naming the user's file, instead of a bare "Error"
        log.exception("Importing an uploaded adapter failed")
        names = ", ".join(Path(p).name for p in paths)[:200]
        return {"message": view.unexpected_md(f"Importing {names}", exc), "adapters": gr.skip(), "upload": None}
    chosen = [*(k for k in selected or [] if k != info.key), info.key]
    base = info.base_model if len(info.base_model) <= 80 else info.base_model[:80] + "…"
    return {
        "message": f"📦 Imported **{info.label}**"
        + (f" (trained on `{base}`)" if base else "")
        + ". Press **Load** to load it.",
        "adapters": gr.update(choices=view.adapter_choices(adapters.list_adapters()), value=chosen),
        "upload": None,
    }


def select_adapter(run_id: str) -> dict[str, Any]:
    """'Try in Playground': select a run's adapter and its base model (values by name; see PlaygroundTab)."""
    try:
        info = adapters.run_adapter(run_id)
    except StudioError as exc:
        return {"base": gr.skip(), "adapters": gr.skip(), "message": error_md(exc)}
    return {
        "base": gr.update(choices=adapters.base_choices(), value=info.base_model),
        "adapters": gr.update(choices=view.adapter_choices(adapters.list_adapters()), value=[info.key]),
        "message": f"Selected the adapter of `{run_id}` and its base `{info.base_model}`: press **Load**.",
    }


def _start(target: str, messages: list[dict], settings: GenerationSettings):
    """(generation, label) — the answer starts in the engine's thread; we only read it."""
    with engine("inference") as inference:
        playground = inference.playground()
        label = view.label_of(playground.snapshot(), target)
        return playground.stream(target, messages, settings), label


def _so_far(generation) -> Iterator[str]:
    """The answer so far, as it grows, at most every UPDATE_EVERY_S and once more at the end."""
    text, shown = "", 0.0
    for piece in generation:
        text += piece
        if time.monotonic() - shown >= UPDATE_EVERY_S:
            shown = time.monotonic()
            yield text
    yield text


def on_send(
    text: str | None, history: list[dict] | None, target: str | None, values: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Stream the answer of the chosen model into the chat, token by token."""
    text, (settings, problems) = (text or "").strip(), view.generation_settings(values)
    chat = view.chat_history(history)
    if not text:
        yield {"chat_note": "Type a message first."}
        return
    if settings is None:
        yield {"chat_note": problems}
        return
    messages = [*view.history_messages(chat), {"role": "user", "content": text}]
    try:
        generation, label = _start(view.engine_target(target), messages, settings)
    except StudioError as exc:
        yield {"chat_note": error_md(exc)}
        return
    chat += [{"role": "user", "content": text}, {"role": "assistant", "content": ""}]
    yield {"chat": chat, "chat_input": "", "chat_note": ""}
    answer, note = "", ""
    try:
        for answer in _so_far(generation):
            chat[-1] = {"role": "assistant", "content": answer}
            yield {"chat": chat}
    except StudioError as exc:
        note = error_md(exc)
    chat[-1] = {
        "role": "assistant",
        "content": answer + view.footer(label, generation.tokens, generation.tokens_per_s(), generation.stopped),
    }
    yield {"chat": chat, "chat_note": note}


def on_compare(prompt: str | None, chosen: list[str] | None, values: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The same prompt answered by the base and up to two adapters, one after another, same seed and settings."""
    prompt, (settings, problems) = (prompt or "").strip(), view.generation_settings(values)
    if settings is None:
        yield {"compare_note": problems}
        return
    snapshot = _snapshot()
    if not snapshot["base"] or not prompt:
        yield {
            "compare_note": "Load a base model first (and adapters to compare)."
            if not snapshot["base"]
            else "Type a prompt first."
        }
        return
    targets, note = view.compare_targets(snapshot, chosen)
    answers = [""] * COLUMNS
    first: dict[str, Any] = {f"head{i}": view.column_header(snapshot, t) for i, t in enumerate(targets)}
    first.update(
        {f"answer{i}": "" for i in range(COLUMNS)},
        col2=gr.update(visible=len(targets) > 2),
        compare_note=" ".join(filter(None, [note, f"Settings: {view.settings_summary(settings)}."])),
    )
    yield first
    for i, target in enumerate(targets):
        try:
            generation, label = _start(target, [{"role": "user", "content": prompt}], settings)
            for text in _so_far(generation):
                answers[i] = text
                yield {f"answer{i}": text}
        except StudioError as exc:
            yield {f"answer{i}": answers[i] + "\n\n" + error_md(exc)}
            return
        answers[i] += view.footer(label, generation.tokens, generation.tokens_per_s(), generation.stopped)
        yield {f"answer{i}": answers[i]}
        if generation.stopped:
            return  # Stop ends the whole comparison, not just one column


def on_stop() -> None:
    with engine("inference") as inference:
        inference.playground().stop()


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
        c["system_prompt"] = _setting(widgets.pop("system_prompt"))
        names = list(widgets)
        for row in (names[:3], names[3:]):
            with gr.Row():
                for name in row:
                    c[name] = _setting(widgets[name])


def _setting(w: view.SettingWidget) -> Any:
    common: dict[str, Any] = {"label": w.label, "info": w.info, "elem_id": "pg-" + w.name.replace("_", "-")}
    if w.kind == "slider":  # a typed value beyond an end becomes that end, as the browser shows it
        assert w.minimum is not None and w.maximum is not None  # setting_widgets gives a slider its ends
        return FormSlider(w.minimum, w.maximum, w.value, step=w.step, precision=w.precision, **common)
    if w.kind == "number":  # no bounds in the browser: on_send says what is wrong in words
        return gr.Number(w.value, precision=w.precision, **common)
    return gr.Textbox(w.value, lines=2, placeholder="optional", **common)


def _model_panel(c: dict[str, Any]) -> None:
    with gr.Row(equal_height=True):
        c["base"] = gr.Dropdown(
            adapters.base_choices(),
            value=settings.EMBEDDED_MODEL_NAME,
            allow_custom_value=True,
            label="Base model",
            scale=3,
            elem_id="pg-base",
            info="The embedded model, a run's base, a merged export, a hub id or a local folder",
        )
        c["adapters"] = gr.Dropdown(
            view.adapter_choices(adapters.list_adapters()),
            value=[],
            multiselect=True,
            label="Adapters",
            scale=4,
            elem_id="pg-adapters",
            info="Finished runs and uploaded adapters; the unticked ones are unloaded",
        )
    with gr.Row():
        c["load"] = gr.Button("Load", variant="primary", scale=0, min_width=160, elem_id="pg-load")
        c["unload"] = gr.Button("Unload everything", variant="stop", scale=0, min_width=200, elem_id="pg-unload")
        c["refresh"] = gr.Button("🔄 Refresh lists", size="sm", scale=0, min_width=150, elem_id="pg-refresh")
    with gr.Accordion("Upload an adapter", open=False):
        c["upload"] = gr.File(
            label="A .zip of an adapter folder, or its files (adapter_config.json, "
            "adapter_model.safetensors, tokenizer files)",
            file_count="multiple",
            file_types=[".zip", ".json", ".safetensors", ".txt", ".jinja", ".model", ".bin"],
            elem_id="pg-upload",
        )
    c["message"] = gr.Markdown(elem_id="pg-message")
    c["status"] = gr.Markdown(view.status_md({}), elem_id="pg-status")


def _chat_panel(c: dict[str, Any]) -> None:
    c["target"] = gr.Radio(view.target_choices({}), value=view.BASE_CHOICE, label="Answer with", elem_id="pg-target")
    c["chat"] = gr.Chatbot(label="Chat", height=420, elem_id="pg-chat", buttons=["copy", "copy_all"])
    with gr.Row(equal_height=True):
        c["chat_input"] = gr.Textbox(
            placeholder="Type a message and press Enter", show_label=False, scale=6, elem_id="pg-chat-input"
        )
        c["send"] = gr.Button("Send", variant="primary", scale=1, elem_id="pg-send")
        c["chat_stop"] = gr.Button("Stop", scale=0, min_width=90, elem_id="pg-chat-stop")
        c["clear"] = gr.Button("Clear", scale=0, min_width=90, elem_id="pg-clear")
    c["chat_note"] = gr.Markdown(elem_id="pg-chat-note")


def _compare_panel(c: dict[str, Any]) -> None:
    c["compare_with"] = gr.CheckboxGroup(
        [], label=f"Compare the base with (up to {view.MAX_COMPARED})", elem_id="pg-compare-with"
    )
    with gr.Row(equal_height=True):
        c["compare_prompt"] = gr.Textbox(
            placeholder="One prompt, answered by each model in turn",
            show_label=False,
            scale=6,
            elem_id="pg-compare-prompt",
        )
        c["compare"] = gr.Button("Compare", variant="primary", scale=1, elem_id="pg-compare")
        c["compare_stop"] = gr.Button("Stop", scale=0, min_width=90, elem_id="pg-compare-stop")
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
    gr.Markdown("Talk to the base model and your adapters. Adapters switch instantly: the base stays loaded.")
    _model_panel(c)
    _settings_panel(c)
    with gr.Tabs():
        with gr.Tab("Chat", id="pg-chat-tab"):
            _chat_panel(c)
        with gr.Tab("Compare side by side", id="pg-compare-tab"):
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
