"""Formatting every tab shares, once (plain text, no gradio, no torch)."""

from __future__ import annotations

from lora_studio.errors import StudioError


def error_md(exc: StudioError) -> str:
    """A refusal in words: what happened, in bold, then what to do."""
    return f"❌ **{exc.message}**\n\n➡️ {exc.hint}" if exc.hint else f"❌ **{exc.message}**"
