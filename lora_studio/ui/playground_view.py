"""What the Playground shows, as plain values: status markdown, choices, chat history (no gradio, no torch).

The engine describes itself with `Playground.snapshot()`-like plain dicts; these functions turn them
into words. Chat history comes from gradio's Chatbot (messages format, where a message's content is a
string or a list of parts) and goes back to the engine as plain role/content pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lora_studio.adapters import AdapterInfo
from lora_studio.generation_config import GenerationSettings, setting_metadata, setting_names
from lora_studio.messages import text
from lora_studio.ui.config_view import with_range

# The value that means "the base model, adapters disabled" in radios and columns. Only a value: the radio shows
# base_label() beside it, in the page's language, so a Japanese page compares the same "base".
BASE_CHOICE = "base"
MAX_COMPARED = 2  # adapters beside the base in Compare (three columns in all)
SETTINGS = tuple(setting_names())  # the Playground's generation settings, in declaration order
FOOTER = "\n\n<sub>— "  # starts the line under an answer saying who wrote it; never sent back to the model


def human_bytes(count: int) -> str:
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"


def base_label() -> str:
    """How the base model (no adapter) is named in the radio, the columns and the footers."""
    return text("playground.base_label")


def unexpected_md(what: str, exc: BaseException) -> str:
    """An error nobody put words to yet, still said in words: what failed, the exception, and what to do."""
    detail = (str(exc).splitlines() or [""])[0][:200]
    return text("playground.unexpected", what=what, error=f"{type(exc).__name__}{': ' + detail if detail else ''}")


def status_md(snapshot: dict[str, Any]) -> str:
    """The loaded base, its device and memory, and each loaded adapter with its size and any warning."""
    if not snapshot.get("base"):
        return text("playground.nothing_loaded")
    memory = snapshot["memory"]
    base = text(
        "playground.status_base",
        base=snapshot["base"],
        device=memory["device"],
        size=human_bytes(memory["base_bytes"]),
    )
    if memory.get("cuda_allocated") is not None:
        base += text("playground.status_cuda", size=human_bytes(memory["cuda_allocated"]))
    adapters = snapshot.get("adapters", [])
    if not adapters:
        return base + "\n\n" + text("playground.status_no_adapters")
    bullets = []
    for adapter in adapters:
        line = f"- 🧩 `{adapter['label']}` — {human_bytes(adapter['bytes'])}"
        if adapter.get("warning"):
            line += f" — ⚠️ {adapter['warning']}"
        bullets.append(line)
    total = human_bytes(sum(a["bytes"] for a in adapters))
    return (
        f"{base}\n\n"
        + text("playground.status_adapters", count=len(adapters), size=total)
        + "\n\n"
        + "\n".join(bullets)
    )


def adapter_choices(adapters: list[AdapterInfo]) -> list[tuple[str, str]]:
    """Every adapter found; one that cannot be loaded says so (and why, when it is picked and loaded)."""
    return [
        (text("playground.adapter_unusable", label=info.label) if info.problem else info.label, info.key)
        for info in adapters
    ]


def target_choices(snapshot: dict[str, Any]) -> list[tuple[str, str]]:
    """What can answer in the Chat: the base, then every loaded adapter."""
    return [(base_label(), BASE_CHOICE), *[(a["label"], a["key"]) for a in snapshot.get("adapters", [])]]


def compare_choices(snapshot: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["label"], a["key"]) for a in snapshot.get("adapters", [])]


def engine_target(choice: str | None) -> str:
    """The engine's name for a radio choice: '' is the base."""
    return "" if not choice or choice == BASE_CHOICE else choice


def message_text(content: Any) -> str:
    """A Chatbot message's text: a string, or the text parts of a list of parts (files are left out)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, (list, tuple)):
        return "".join(message_text(part) for part in content if not isinstance(part, dict) or "file" not in part)
    return ""


def strip_footer(answer: str) -> str:
    cut = answer.rfind(FOOTER)
    return answer[:cut] if cut >= 0 else answer


def chat_history(history: list[dict] | None) -> list[dict[str, str]]:
    """The Chatbot's value as plain role/content strings (what goes back to it), footers kept for display."""
    return [
        {"role": m["role"], "content": message_text(m.get("content"))}
        for m in history or []
        if m.get("role") in ("user", "assistant")
    ]


def history_messages(history: list[dict] | None) -> list[dict[str, str]]:
    """The conversation for the model: user and assistant turns only, without the footers we added."""
    messages = []
    for message in history or []:
        role = message.get("role")
        if role not in ("user", "assistant"):
            continue
        content = message_text(message.get("content"))
        messages.append({"role": role, "content": strip_footer(content) if role == "assistant" else content})
    return messages


def footer(who: str, tokens: int, tokens_per_s: float, stopped: bool = False) -> str:
    note = text("playground.footer_stopped") if stopped else ""
    return f"{FOOTER}" + text("playground.footer", who=who, tokens=tokens, rate=tokens_per_s, note=note) + "</sub>"


def label_of(snapshot: dict[str, Any], target: str) -> str:
    if not target:
        return base_label()
    for adapter in snapshot.get("adapters", []):
        if adapter["key"] == target:
            return adapter["label"]
    return target


def compare_targets(snapshot: dict[str, Any], chosen: list[str] | None) -> tuple[list[str], str]:
    """('' for the base, then up to two loaded adapters) and a note when some of the choice was left out."""
    loaded = [a["key"] for a in snapshot.get("adapters", [])]
    if not loaded:
        return [""], text("playground.compare_no_adapter")
    picked = [key for key in chosen or [] if key in loaded]
    note = ""
    if not picked:
        picked = loaded[:1]
        note = text("playground.compare_none_ticked", label=label_of(snapshot, picked[0]))
    if len(picked) > MAX_COMPARED:
        left_out = ", ".join(label_of(snapshot, key) for key in picked[MAX_COMPARED:])
        note = text("playground.compare_left_out", count=MAX_COMPARED, labels=left_out)
        picked = picked[:MAX_COMPARED]
    return ["", *picked], note


def column_header(snapshot: dict[str, Any], target: str) -> str:
    return f"### {'🧱' if not target else '🧩'} {label_of(snapshot, target)}"


@dataclass(frozen=True)
class SettingWidget:
    """How one generation setting is shown, all from its declaration (lora_studio.generation_config): a slider
    where a step is declared (its ends are the validation's bounds), a number box otherwise (no bounds in the
    browser: a value out of range is said in words instead), a text box for text."""

    name: str
    kind: str  # "slider", "number" or "text"
    label: str
    info: str
    value: Any
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    precision: int | None = None  # 0 for whole numbers


def setting_widgets() -> list[SettingWidget]:
    widgets = []
    for name in SETTINGS:
        meta = setting_metadata(name)
        common = {"name": name, "label": meta["label"], "value": meta["default"]}
        if meta["type"] == "int":
            common["precision"] = 0
        if meta["type"] == "str":
            widgets.append(SettingWidget(kind="text", info=meta["help"], **common))
            continue
        info = with_range(meta["help"], meta)
        if "step" in meta:
            widgets.append(
                SettingWidget(
                    kind="slider", info=info, minimum=meta["min"], maximum=meta["max"], step=meta["step"], **common
                )
            )
        else:
            widgets.append(SettingWidget(kind="number", info=info, **common))
    return widgets


def generation_settings(values: dict[str, Any]) -> tuple[GenerationSettings | None, str]:
    """(settings, '') for the engine, or (None, what is wrong in words) when a value is outside its declaration."""
    settings = GenerationSettings.from_values(values)
    problems = [
        text(
            "playground.setting_problem",
            label=setting_metadata(issue.field.partition(".")[2])["label"],
            problem=issue.message,
        )
        for issue in settings.validate()
    ]
    return (None, "\n\n".join(problems)) if problems else (settings, "")


def settings_summary(settings: GenerationSettings) -> str:
    """The generation settings in one line, so a compared answer says how it was made."""
    how = (
        text("evaluate.greedy")
        if settings.temperature <= 0
        else text("playground.sampling", temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k)
    )
    return text(
        "playground.settings_summary",
        how=how,
        penalty=settings.repetition_penalty,
        seed=settings.seed,
        tokens=settings.max_new_tokens,
    )
