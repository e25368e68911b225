"""Formatting every tab shares, once (plain text, no gradio, no torch)."""

from __future__ import annotations

import html

from lora_studio.errors import StudioError


def error_md(exc: StudioError) -> str:
    """A refusal in words: what happened, in bold, then what to do."""
    return f"❌ **{exc.message}**\n\n➡️ {exc.hint}" if exc.hint else f"❌ **{exc.message}**"


def progress_bar_html(label: str, parts: list[str], share: float, busy: bool) -> str:
    """The progress bar every worker-watching tab shows: the phase in bold, facts after it, a filled track."""
    return (
        '<div class="ls-progress">'
        f'<div class="ls-progress-label"><b>{html.escape(label)}{"…" if busy else ""}</b> · '
        f"{html.escape(' · '.join(parts))}</div>"
        f'<div class="ls-progress-track"><div class="ls-progress-fill{" ls-busy" if busy else ""}" '
        f'style="width:{100 * max(0.0, min(share, 1.0)):.1f}%"></div></div></div>'
    )
