"""The Data tab: bring a dataset, see exactly what the model will learn from, fix it before training.

This module builds the tab and wires its components; what each event does is in ui/data_handlers.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from lora_studio.config import COLUMN_ROLES, DATA_FORMATS, RunConfig, field_metadata
from lora_studio.dataset_files import SUPPORTED_SUFFIXES
from lora_studio.dataset_sources import list_samples
from lora_studio.messages import text
from lora_studio.ui import token_view
from lora_studio.ui.config_view import with_range
from lora_studio.ui.data_handlers import (
    CONTROLS,
    NONE,
    OUTPUTS,
    UNTIL_DRAWN,
    first_draw,
    mapping_from,
    not_used,
    on_change,
    on_hub,
    on_row,
    on_sample,
    on_settings,
    on_settle,
    on_upload,
    usable,
)
from lora_studio.ui.handlers import by_component
from lora_studio.ui.widgets import FormSlider


@dataclass
class DataTab:
    components: dict[str, Any]

    def outputs(self) -> list[Any]:
        return [self.components[name] for name in OUTPUTS]

    def out(self, values: dict[str, Any]) -> dict[Any, Any]:
        return by_component(self.components, values)

    def draw_outputs(self) -> list[Any]:
        """What the page's first draw sets: every output but the run config, and what waits for that draw."""
        names = dict.fromkeys([*OUTPUTS, *UNTIL_DRAWN])
        return [self.components[name] for name in names if name != "run_config"]

    def first_draw(self, state: dict | None) -> dict[Any, Any]:
        """The run config the browser kept, drawn on page load (its dataset analysed again); ui/app.py calls it."""
        return self.out(first_draw(state))

    def usable(self) -> dict[Any, Any]:
        return self.out(usable())


def _info(dotted: str) -> dict[str, Any]:
    meta = field_metadata(dotted)
    return {"label": meta["label"], "info": with_range(meta["help"], meta)}


def build_data_tab(run_config: gr.State) -> DataTab:
    c: dict[str, Any] = {"run_config": run_config, "shown": gr.State(None)}
    gr.Markdown(text("data.intro"))
    with gr.Row():
        with gr.Column(scale=3):
            c["upload"] = gr.File(
                label=text("data.upload_label", suffixes=", ".join(SUPPORTED_SUFFIXES)),
                file_types=list(SUPPORTED_SUFFIXES),
                type="filepath",
                elem_id="data-upload",
                interactive=False,  # this and every widget in UNTIL_DRAWN: usable once the first draw lands
            )
        with gr.Column(scale=2):
            samples = [(f"{s.name} — {s.description}" if s.description else s.name, s.name) for s in list_samples()]
            c["sample"] = gr.Dropdown(samples, value=None, label=text("data.sample_label"), elem_id="data-sample")
            c["sample_btn"] = gr.Button(text("data.sample_button"), elem_id="data-sample-btn", interactive=False)
            with gr.Row():
                c["hub_id"] = gr.Textbox(label=text("data.hub_label"), placeholder="owner/name", scale=3)
                c["hub_btn"] = gr.Button(text("data.hub_button"), scale=1, interactive=False)
    c["status"] = gr.Markdown(text("data.no_dataset"), elem_id="data-status")
    with gr.Accordion(text("data.mapping_title"), open=False) as c["mapping"]:
        with gr.Row():
            c["format"] = gr.Dropdown(list(DATA_FORMATS), value="auto", **_info("data.format"))
            for role in COLUMN_ROLES:
                c[f"map_{role}"] = gr.Dropdown(
                    [not_used()], value=NONE, label=text("data.column_label", role=role), elem_id=f"map-{role}"
                )
        c["apply_btn"] = gr.Button(text("data.apply_mapping"), elem_id="data-apply-mapping")
    c["issues"] = gr.Dataframe(label=text("data.issues_label"), interactive=False, wrap=True, elem_id="data-issues")
    c["preview"] = gr.Dataframe(
        label=text("data.preview_label"), interactive=False, wrap=True, max_height=360, elem_id="data-preview"
    )
    gr.Markdown(text("data.sees_title"))
    defaults = RunConfig()
    with gr.Row():
        c["model"] = gr.Textbox(
            defaults.model.name_or_path,
            scale=3,
            elem_id="data-model",
            interactive=False,
            **_info("model.name_or_path"),
        )
        # A number box, not a slider: the valid range (16 to 131,072) is far wider than a slider can show.
        c["max_length"] = gr.Number(
            defaults.data.max_length,
            precision=0,
            step=16,
            scale=2,
            elem_id="data-max-length",
            interactive=False,
            **_info("data.max_length"),
        )
        c["assistant_only"] = gr.Checkbox(
            defaults.data.assistant_only_loss,
            scale=2,
            elem_id="data-assistant-only",
            interactive=False,
            **_info("data.assistant_only_loss"),
        )
    c["stats"] = gr.Markdown(elem_id="data-stats")
    c["histogram"] = gr.Plot(label=text("data.histogram_label"), elem_id="data-histogram")
    with gr.Row():
        c["row"] = gr.Number(1, precision=0, label=text("data.row_label"), scale=1, elem_id="data-row")
        c["caption"] = gr.Markdown(elem_id="data-caption")
    c["tokens"] = gr.HighlightedText(
        label=text("data.tokens_label"),
        color_map=token_view.COLOR_MAP(),
        show_legend=True,
        combine_adjacent=False,
        elem_id="data-tokens",
    )
    gr.Markdown(text("data.split_title"))
    with gr.Row():
        eval_meta = field_metadata("data.eval_fraction")
        c["eval_fraction"] = FormSlider(
            eval_meta["min"],
            eval_meta["max"],
            defaults.data.eval_fraction,
            step=0.01,
            elem_id="data-eval-fraction",
            interactive=False,
            **_info("data.eval_fraction"),
        )
        c["seed"] = gr.Number(
            defaults.training.seed, precision=0, elem_id="data-seed", interactive=False, **_info("training.seed")
        )
    c["split"] = gr.Markdown(elem_id="data-split")
    c["eval_rows"] = gr.Dataframe(label=text("data.eval_rows_label"), interactive=False, wrap=True, max_height=240)
    with gr.Accordion(text("data.in_config_title"), open=False):
        c["config"] = gr.Code(language="yaml", label=text("data.config_label"), elem_id="data-config")
        c["cli"] = gr.Code(language="shell", label=text("data.cli_label"), elem_id="data-cli")
    tab = DataTab(c)
    _wire(tab)
    return tab


def _wire(tab: DataTab) -> None:
    c, out, outputs = tab.components, tab.out, tab.outputs()
    state = c["run_config"]
    controls = {c[name]: name for name in CONTROLS}

    def named(values: dict) -> dict:
        return {controls[comp]: value for comp, value in values.items() if comp in controls}

    mapping_inputs = {c["format"], *(c[f"map_{r}"] for r in COLUMN_ROLES)}

    def apply_mapping(values: dict) -> dict:
        picked = {key: values[c[key]] for key in ("format", *(f"map_{r}" for r in COLUMN_ROLES))}
        return out(on_settings(values[state], named(values), mapping_from(picked)))

    def settle(run_config: dict | None, *values: Any) -> dict:
        return out(on_settle(run_config, dict(zip(CONTROLS, values, strict=True))))

    def settled(trigger: Any) -> Any:
        """`trigger` first puts the visible settings into the run config; what loads the file goes `.then`."""
        return trigger(
            settle,
            [state, *(c[name] for name in CONTROLS)],
            [state, c["shown"]],
            show_progress="hidden",
            api_visibility="private",
        )

    # The stored copy is what counts; clearing the box makes it ready for the next file.
    settled(c["upload"].upload).then(
        lambda v: out(on_upload(v[state], v[c["upload"]])), {state, c["upload"]}, outputs
    ).then(lambda: None, None, c["upload"])

    def sample(run_config: dict | None, name: str | None) -> dict:
        return out(on_sample(run_config, name))

    def data_settings(run_config: dict | None, *values: Any) -> dict:
        return out(on_settings(run_config, dict(zip(CONTROLS, values, strict=True))))

    # Named, so a gradio_client user calls them as the page does: /data_settings (model, max length, assistant
    # replies only, eval fraction, seed), then /sample (its name).
    settled(c["sample_btn"].click).then(sample, [state, c["sample"]], outputs, api_name="sample")
    settled(c["hub_btn"].click).then(lambda v: out(on_hub(v[state], v[c["hub_id"]])), {state, c["hub_id"]}, outputs)
    c["apply_btn"].click(apply_mapping, {state, *controls, *mapping_inputs}, outputs)
    # User edits only: a redraw from the run config sets these widgets without asking for another analysis.
    edits = [
        c["model"].blur,
        c["model"].submit,
        c["assistant_only"].input,
        c["seed"].input,
        c["max_length"].input,
        c["eval_fraction"].release,
    ]
    gr.on(
        edits,
        data_settings,
        [state, *(c[name] for name in CONTROLS)],
        outputs,
        trigger_mode="always_last",
        api_name="data_settings",
    )
    state.change(
        lambda s, shown: out(on_change(s, shown)),
        [state, c["shown"]],
        outputs,
        trigger_mode="always_last",
        show_progress="hidden",
    )
    c["row"].change(lambda v: out(on_row(v[state], v[c["row"]])), {state, c["row"]}, [c["tokens"], c["caption"]])
