"""The one handler convention of the dashboard: a handler returns a dict keyed by component name, and the tab
maps the names onto its components here. Formatting the tabs share is in ui/formatting.py."""

from __future__ import annotations

from typing import Any

import gradio as gr


def by_component(components: dict[str, Any], values: dict[str, Any]) -> dict[Any, Any]:
    """{component: value} for a handler's {name: value}. Nothing to change is said with a skip: Gradio would take
    an empty dict as one value for its first output."""
    if not values:
        return {next(iter(components.values())): gr.skip()}
    return {components[name]: value for name, value in values.items()}
