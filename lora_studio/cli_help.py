"""The command line's settings help, derived from the declarations: every `--set` key with its label, help,
default and bounds (RunConfig for `train`, GenerationSettings for `chat`). Plain text, no gradio, no torch."""

from __future__ import annotations

import textwrap
from dataclasses import MISSING, fields
from typing import Any

from lora_studio.config import SECTIONS, field_metadata
from lora_studio.declarations import allowed_range
from lora_studio.generation_config import GenerationSettings, setting_metadata

WIDTH = 100
INDENT = " " * 6


def _entry(key: str, default: Any, meta: dict) -> str:
    words = f"{meta['label']}: {meta['help']}"
    if meta.get("min") is not None or meta.get("max") is not None:
        words += f" Allowed: {allowed_range(meta)}."
    if meta.get("choices"):
        words += f" One of: {', '.join(map(str, meta['choices']))}."
    shown = repr(default) if isinstance(default, str) else default
    return f"  {key} (default {shown})\n" + textwrap.fill(words, WIDTH, initial_indent=INDENT, subsequent_indent=INDENT)


def _default(f) -> Any:
    return f.default_factory() if f.default is MISSING else f.default


def run_settings_epilog() -> str:
    """For `train --help`: every RunConfig field as --set SECTION.KEY=VALUE (values are read as YAML)."""
    entries = [
        _entry(f"{section}.{f.name}", _default(f), field_metadata(f"{section}.{f.name}"))
        for section, cls in SECTIONS.items()
        for f in fields(cls)
    ]
    return (
        "settings for --set SECTION.KEY=VALUE (values read as YAML: 16, 0.1, true, [q_proj, v_proj]):\n\n"
        + "\n".join(entries)
    )


def generation_settings_epilog() -> str:
    """For `chat --help`: every GenerationSettings field as --set NAME=VALUE."""
    entries = [_entry(f.name, f.default, setting_metadata(f.name)) for f in fields(GenerationSettings)]
    return "settings for --set NAME=VALUE:\n\n" + "\n".join(entries)
