"""The Playground tab's handlers: load and unload models, import uploads, and stream chat and compare answers.

Module level, so tests call them without a browser; `playground_tab` lays out the tab and wires them.
Handlers reach the engine only through `engine("inference")` and leave that lock before streaming, so the
Data and Config tabs stay responsive while an answer is written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from lora_studio import adapter_uploads, adapters
from lora_studio.errors import StudioError
from lora_studio.generation_config import GenerationSettings
from lora_studio.messages import text
from lora_studio.ui import playground_view as view
from lora_studio.ui.engine_access import engine
from lora_studio.ui.formatting import error_md

log = logging.getLogger(__name__)

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
            return {
                **loaded_values(playground.snapshot()),
                "message": view.unexpected_md(text("playground.what.load_model"), exc),
            }
        for key in [k for k in playground.adapters if k not in keys]:
            playground.unload_adapter(key)
        for key in keys:
            try:
                playground.load_adapter(adapters.find_adapter(key))
            except StudioError as exc:
                problems.append(error_md(exc))
            except Exception as exc:  # said in words instead of Gradio's bare "Error"
                log.exception("Loading adapter %s failed", key)
                problems.append(view.unexpected_md(text("playground.what.load_adapter", key=key), exc))
        snapshot = playground.snapshot()
    loaded = len(snapshot["adapters"])
    message = "\n\n".join(problems) or (
        text("playground.loaded_with", base=snapshot["base"], count=loaded)
        if loaded
        else text("playground.loaded", base=snapshot["base"])
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
    return {**loaded_values(snapshot), "message": text("playground.unloaded")}


def on_upload(files: list[str] | str | None, selected: list[str] | None) -> dict[str, Any]:
    """Import an uploaded adapter (a zip, or the folder's files) and tick it for loading."""
    paths = [files] if isinstance(files, str) else list(files or [])
    if not paths:
        return {"message": gr.skip(), "adapters": gr.skip(), "upload": gr.skip()}
    try:
        info = adapter_uploads.import_upload(paths)
    except StudioError as exc:
        return {"message": error_md(exc), "adapters": gr.skip(), "upload": None}
    except Exception as exc:  # said in words, naming the user's file, instead of a bare "Error"
        log.exception("Importing an uploaded adapter failed")
        names = ", ".join(Path(p).name for p in paths)[:200]
        return {
            "message": view.unexpected_md(text("playground.what.import", names=names), exc),
            "adapters": gr.skip(),
            "upload": None,
        }
    chosen = [*(k for k in selected or [] if k != info.key), info.key]
    base = info.base_model if len(info.base_model) <= 80 else info.base_model[:80] + "…"
    return {
        "message": text("playground.imported_on", label=info.label, base=base)
        if base
        else text("playground.imported", label=info.label),
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
        "message": text("playground.selected", run_id=run_id, base=info.base_model),
    }


def _start(target: str, messages: list[dict], settings: GenerationSettings):
    """(generation, label) — the answer starts in the engine's thread; we only read it."""
    with engine("inference") as inference:
        playground = inference.playground()
        label = view.label_of(playground.snapshot(), target)
        return playground.stream(target, messages, settings), label


def _so_far(generation) -> Iterator[str]:
    """The answer so far, as it grows, at most every UPDATE_EVERY_S and once more at the end."""
    answer, shown = "", 0.0
    for piece in generation:
        answer += piece
        if time.monotonic() - shown >= UPDATE_EVERY_S:
            shown = time.monotonic()
            yield answer
    yield answer


def on_send(
    message: str | None, history: list[dict] | None, target: str | None, values: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Stream the answer of the chosen model into the chat, token by token."""
    message, (settings, problems) = (message or "").strip(), view.generation_settings(values)
    chat = view.chat_history(history)
    if not message:
        yield {"chat_note": text("playground.type_message")}
        return
    if settings is None:
        yield {"chat_note": problems}
        return
    messages = [*view.history_messages(chat), {"role": "user", "content": message}]
    try:
        generation, label = _start(view.engine_target(target), messages, settings)
    except StudioError as exc:
        yield {"chat_note": error_md(exc)}
        return
    chat += [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
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
            "compare_note": text("playground.load_first") if not snapshot["base"] else text("playground.type_prompt")
        }
        return
    targets, note = view.compare_targets(snapshot, chosen)
    answers = [""] * COLUMNS
    first: dict[str, Any] = {f"head{i}": view.column_header(snapshot, t) for i, t in enumerate(targets)}
    first.update(
        {f"answer{i}": "" for i in range(COLUMNS)},
        col2=gr.update(visible=len(targets) > 2),
        compare_note=" ".join(
            filter(None, [note, text("playground.settings_used", summary=view.settings_summary(settings))])
        ),
    )
    yield first
    for i, target in enumerate(targets):
        try:
            generation, label = _start(target, [{"role": "user", "content": prompt}], settings)
            for so_far in _so_far(generation):
                answers[i] = so_far
                yield {f"answer{i}": so_far}
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
