"""What the Playground shows, as plain values: status markdown, choices, chat history (no gradio, no torch).

The engine describes itself with `Playground.snapshot()`-like plain dicts; these functions turn them
into words. Chat history comes from gradio's Chatbot (messages format, where a message's content is a
string or a list of parts) and goes back to the engine as plain role/content pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lora_studio.adapters import AdapterInfo
from lora_studio.generation_config import GenerationSettings, range_words, setting_metadata, setting_names
from lora_studio.messages import text

BASE_CHOICE = "base"  # the value that means "the base model, adapters disabled" in radios and columns
BASE_LABEL = "Base model (no adapter)"
MAX_COMPARED = 2  # adapters beside the base in Compare (three columns in all)
SETTINGS = tuple(setting_names())  # the Playground's generation settings, in declaration order
FOOTER = "\n\n<sub>— "  # starts the line under an answer saying who wrote it; never sent back to the model


def human_bytes(count: int) -> str:
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"


def unexpected_md(what: str, exc: BaseException) -> str:
    """An error nobody put words to yet, still said in words: what failed, the exception, and what to do."""
    detail = (str(exc).splitlines() or [""])[0][:200]
    return (
        f"❌ **{what} failed ({type(exc).__name__}{': ' + detail if detail else ''})**\n\n"
        "➡️ Check the file (or the model) and try again; the server log has the details."
    )


def status_md(snapshot: dict[str, Any]) -> str:
    """The loaded base, its device and memory, and each loaded adapter with its size and any warning."""
    if not snapshot.get("base"):
        return (
            "Nothing is loaded. Choose a base model (and adapters), then press **Load**. "
            "The first load of the embedded model converts it once (about 30 s)."
        )
    memory = snapshot["memory"]
    base = (
        f"**Base:** `{snapshot['base']}` on **{memory['device']}** — {human_bytes(memory['base_bytes'])} of parameters"
    )
    if memory.get("cuda_allocated") is not None:
        base += f" ({human_bytes(memory['cuda_allocated'])} allocated on the GPU)"
    adapters = snapshot.get("adapters", [])
    if not adapters:
        return base + "\n\n**Adapters:** none loaded — the chat answers with the base model."
    bullets = []
    for adapter in adapters:
        line = f"- 🧩 `{adapter['label']}` — {human_bytes(adapter['bytes'])}"
        if adapter.get("warning"):
            line += f" — ⚠️ {adapter['warning']}"
        bullets.append(line)
    total = human_bytes(sum(a["bytes"] for a in adapters))
    return f"{base}\n\n**Adapters loaded:** {len(adapters)} ({total})\n\n" + "\n".join(bullets)


def adapter_choices(adapters: list[AdapterInfo]) -> list[tuple[str, str]]:
    """Every adapter found; one that cannot be loaded says so (and why, when it is picked and loaded)."""
    return [(f"{info.label} — ⚠️ cannot be used" if info.problem else info.label, info.key) for info in adapters]


def target_choices(snapshot: dict[str, Any]) -> list[tuple[str, str]]:
    """What can answer in the Chat: the base, then every loaded adapter."""
    return [(BASE_LABEL, BASE_CHOICE), *[(a["label"], a["key"]) for a in snapshot.get("adapters", [])]]


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


def strip_footer(text: str) -> str:
    cut = text.rfind(FOOTER)
    return text[:cut] if cut >= 0 else text


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
        text = message_text(message.get("content"))
        messages.append({"role": role, "content": strip_footer(text) if role == "assistant" else text})
    return messages


def footer(who: str, tokens: int, tokens_per_s: float, stopped: bool = False) -> str:
    note = " · stopped" if stopped else ""
    return f"{FOOTER}{who} · {tokens} tokens · {tokens_per_s:.1f} tokens/s{note}</sub>"


def label_of(snapshot: dict[str, Any], target: str) -> str:
    if not target:
        return BASE_LABEL
    for adapter in snapshot.get("adapters", []):
        if adapter["key"] == target:
            return adapter["label"]
    return target


def compare_targets(snapshot: dict[str, Any], chosen: list[str] | None) -> tuple[list[str], str]:
    """('' for the base, then up to two loaded adapters) and a note when some of the choice was left out."""
    loaded = [a["key"] for a in snapshot.get("adapters", [])]
    if not loaded:
        return [""], "No adapter is loaded, so only the base answers: load adapters above to compare."
    picked = [key for key in chosen or [] if key in loaded]
    note = ""
    if not picked:
        picked = loaded[:1]
        note = f"No adapter was ticked: comparing the base with {label_of(snapshot, picked[0])}."
    if len(picked) > MAX_COMPARED:
        note = f"Compare shows the base and {MAX_COMPARED} adapters; left out: " + ", ".join(
            label_of(snapshot, key) for key in picked[MAX_COMPARED:]
        )
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
        info = f"{meta['help']} Allowed: {range_words(name)}."
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
        "greedy"
        if settings.temperature <= 0
        else f"temperature {settings.temperature:g}, top-p {settings.top_p:g}, top-k {settings.top_k}"
    )
    return (
        f"{how}, repetition penalty {settings.repetition_penalty:g}, seed {settings.seed}, "
        f"up to {settings.max_new_tokens} new tokens"
    )
