"""Form widgets that never stop a form: Gradio's own Slider refuses an out-of-range value before any handler
runs, and since every later event of a form sends that value again, the whole form stopped taking changes
(seen: Alpha -5 then Rank 4 left 'r: 16' in the effective config).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

from lora_studio.messages import text

if TYPE_CHECKING:
    from lora_studio.ui.playground_view import SettingWidget


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


def setting_widget(w: SettingWidget, prefix: str) -> Any:
    """A generation setting's widget from its declaration (ui/playground_view.setting_widgets); `prefix` makes
    its elem_id unique per tab."""
    common: dict[str, Any] = {"label": w.label, "info": w.info, "elem_id": prefix + w.name.replace("_", "-")}
    if w.kind == "slider":  # a typed value beyond an end becomes that end, as the browser shows it
        assert w.minimum is not None and w.maximum is not None  # setting_widgets gives a slider its ends
        return FormSlider(w.minimum, w.maximum, w.value, step=w.step, precision=w.precision, **common)
    if w.kind == "number":  # no bounds in the browser: the handler says what is wrong in words
        return gr.Number(w.value, precision=w.precision, **common)
    return gr.Textbox(w.value, lines=2, placeholder=text("ui.optional"), **common)
