"""Form widgets that never stop a form: Gradio's own Slider refuses an out-of-range value before any handler
runs, and since every later event of a form sends that value again, the whole form stopped taking changes
(seen: Alpha -5 then Rank 4 left 'r: 16' in the effective config).
"""

from __future__ import annotations

import gradio as gr


class FormSlider(gr.Slider):
    """A slider that takes a typed value beyond its ends as the nearest end, as the browser shows it: the
    browser clamps what it displays, so the server clamps what it receives, and both hold the same value.
    Its ends are the validation's bounds (config_view.widget_spec), so the value is always a valid one."""

    def get_block_name(self) -> str:
        return "slider"  # the same widget in the browser

    # Gradio's Slider says float, but a cleared box sends None and this slider hands None on.
    def preprocess(self, payload: float | None) -> float | None:  # type: ignore[override]
        if payload is None:
            return None
        value = float(payload)
        if self.minimum is not None:
            value = max(value, float(self.minimum))
        if self.maximum is not None:
            value = min(value, float(self.maximum))
        return value
