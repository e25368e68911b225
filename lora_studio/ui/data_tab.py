"""The Data tab: bring a dataset, see exactly what the model will learn from, fix it before training.

Handlers are module-level and work on plain values; the builder only wires components to them.
The tab's selection (a `Selection` as a dict in `gr.State`) changes only when a file loads, so a
broken upload leaves the previous dataset selected.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from lora_studio import settings
from lora_studio.config import field_metadata
from lora_studio.data import FormatUnknownError
from lora_studio.datafiles import SUPPORTED_SUFFIXES
from lora_studio.errors import StudioError
from lora_studio.ui import data_view, token_view
from lora_studio.ui.data_view import COLUMN_ROLES, Selection
from lora_studio.uploads import fetch_hub_dataset, list_samples, sample_path, store_upload

NONE = "(not used)"
# Order of the values every loading handler returns (see DataTab.outputs()).
OUTPUTS = ("state", "status", *(f"map_{r}" for r in COLUMN_ROLES), "format", "mapping", "issues", "preview",
           "stats", "histogram", "tokens", "caption", "split", "eval_rows", "config", "cli", "row")


def _selection(state: dict | None) -> Selection | None:
    return Selection(**state) if state else None


def _dropdowns(columns: list[str], chosen: dict) -> list[Any]:
    choices = [NONE, *columns]
    return [gr.update(choices=choices, value=chosen.get(role, NONE)) for role in COLUMN_ROLES]


def show(sel: Selection) -> list[Any]:
    """All outputs for a selection whose file loads; raises StudioError when it does not."""
    result = data_view.analyse(sel)
    data = result.data
    report = token_view.token_report(data, sel.model, sel.assistant_only_loss, sel.max_length)
    segments, caption = token_view.row_segments(data, sel.model, sel.assistant_only_loss, sel.max_length, 1)
    status = result.status_md
    if report.too_long_for_all:
        status += "\n\n⚠️ Every row is longer than max length: see the token statistics below."
    values = {
        "state": dataclasses.asdict(sel), "status": status, "format": sel.format,
        "mapping": gr.update(open=bool(sel.columns) or sel.format != "auto"),
        "issues": result.issues, "preview": result.preview, "stats": report.stats_md,
        "histogram": report.figure, "tokens": segments, "caption": caption, "split": result.split_md,
        "eval_rows": result.eval_rows, "config": result.config_yaml, "cli": result.cli_command,
        "row": gr.update(value=1, maximum=max(len(data.rows), 1)),
    }
    values.update(zip((f"map_{r}" for r in COLUMN_ROLES), _dropdowns(data.columns, sel.columns), strict=True))
    return [values[name] for name in OUTPUTS]


def failed(exc: StudioError, previous: Selection | None, pending: Selection | None = None) -> list[Any]:
    """Status explains; the previous selection and its views stay. An unmapped file opens the mapping."""
    values: dict[str, Any] = {name: gr.skip() for name in OUTPUTS}
    if isinstance(exc, FormatUnknownError) and pending is not None:
        values["status"] = (f"🧭 **{Path(pending.path).name}: which columns should the model learn "
                            f"from?** {exc.message}. Pick them under *Format and column mapping*, then press "
                            "**Apply mapping**.")
        values["state"] = dataclasses.asdict(pending)  # selected, but blocked until mapped
        values["mapping"] = gr.update(open=True)
        values.update(zip((f"map_{r}" for r in COLUMN_ROLES), _dropdowns(exc.columns, {}), strict=True))
        for name in ("issues", "preview", "eval_rows"):
            values[name] = None
        for name in ("stats", "split", "caption", "config", "cli"):
            values[name] = ""
        values["tokens"], values["histogram"] = [], None
        return [values[name] for name in OUTPUTS]
    values["status"] = data_view.describe_error(exc, previous)
    return [values[name] for name in OUTPUTS]


def load(state: dict | None, sel: Selection) -> list[Any]:
    previous = _selection(state)
    try:
        return show(sel)
    except StudioError as exc:
        return failed(exc, previous, pending=sel)


def on_upload(state: dict | None, file_path: str | None, controls: dict) -> list[Any]:
    if not file_path:
        return [gr.skip() for _ in OUTPUTS]
    try:
        stored = store_upload(file_path)
    except StudioError as exc:
        return failed(exc, _selection(state))
    return load(state, _new_selection(str(stored), controls))


def on_sample(state: dict | None, name: str | None, controls: dict) -> list[Any]:
    try:
        if not name:
            raise StudioError("No sample was chosen", "Pick one from the list first")
        path = sample_path(name)
    except StudioError as exc:
        return failed(exc, _selection(state))
    return load(state, _new_selection(str(path), controls))


def on_hub(state: dict | None, dataset_id: str, controls: dict) -> list[Any]:
    try:
        path = fetch_hub_dataset(dataset_id or "")
    except StudioError as exc:
        return failed(exc, _selection(state))
    return load(state, _new_selection(str(path), controls))


def on_settings(state: dict | None, controls: dict, mapping: dict | None = None) -> list[Any]:
    """Re-show the current file with changed settings (or a new column mapping)."""
    current = _selection(state)
    if current is None:
        return [gr.skip() for _ in OUTPUTS]
    sel = _new_selection(current.path, controls)
    sel.format, sel.columns = (mapping["format"], mapping["columns"]) if mapping is not None else \
        (current.format, current.columns)
    return load(state, sel)


def on_row(state: dict | None, controls: dict, position: float | None) -> tuple[Any, str]:
    sel = _selection(state)
    if sel is None:
        return gr.skip(), gr.skip()
    try:
        result = data_view.analyse(sel)
    except StudioError as exc:
        return [], f"Token preview unavailable: {exc.one_line()}"
    return token_view.row_segments(result.data, sel.model, sel.assistant_only_loss, sel.max_length,
                                   int(position or 1))


def _new_selection(path: str, controls: dict) -> Selection:
    return Selection(path=path, eval_fraction=float(controls["eval_fraction"]), seed=int(controls["seed"]),
                     max_length=int(controls["max_length"]), assistant_only_loss=bool(controls["assistant_only"]),
                     model=(controls["model"] or "").strip() or settings.EMBEDDED_MODEL_NAME)


def mapping_from(values: dict) -> dict:
    columns = {role: values[f"map_{role}"] for role in COLUMN_ROLES if values[f"map_{role}"] not in (None, NONE)}
    return {"format": values["format"], "columns": columns}


@dataclass
class DataTab:
    components: dict[str, Any]

    def outputs(self) -> list[Any]:
        return [self.components[name] for name in OUTPUTS]


def _bounds(dotted: str) -> dict:
    meta = field_metadata(dotted)
    return {"info": meta["help"], "minimum": meta.get("min"), "maximum": meta.get("max")}


def build_data_tab(state: gr.State) -> DataTab:
    c: dict[str, Any] = {"state": state}
    gr.Markdown("Bring your examples. LoRA Studio reads the file, tells you what it found, and shows "
                "exactly what the model will learn from — before a single training step.")
    with gr.Row():
        with gr.Column(scale=3):
            c["upload"] = gr.File(label=f"Upload a dataset ({', '.join(SUPPORTED_SUFFIXES)})",
                                  file_types=list(SUPPORTED_SUFFIXES), type="filepath", elem_id="data-upload")
        with gr.Column(scale=2):
            samples = [(f"{s.name} — {s.description}" if s.description else s.name, s.name) for s in list_samples()]
            c["sample"] = gr.Dropdown(samples, value=None, label="…or start from a sample", elem_id="data-sample")
            c["sample_btn"] = gr.Button("Use this sample", elem_id="data-sample-btn")
            with gr.Row():
                c["hub_id"] = gr.Textbox(label="…or a Hub dataset id (needs the network)", placeholder="owner/name",
                                         scale=3)
                c["hub_btn"] = gr.Button("Fetch", scale=1)
    c["status"] = gr.Markdown("No dataset yet: upload one or pick a sample.", elem_id="data-status")
    with gr.Accordion("Format and column mapping", open=False) as c["mapping"]:
        with gr.Row():
            c["format"] = gr.Dropdown(["auto", "messages", "prompt_completion", "text"], value="auto",
                                      label="Format", info=field_metadata("data.format")["help"])
            for role in COLUMN_ROLES:
                c[f"map_{role}"] = gr.Dropdown([NONE], value=NONE, label=f"{role} column", elem_id=f"map-{role}")
        c["apply_btn"] = gr.Button("Apply mapping", elem_id="data-apply-mapping")
    c["issues"] = gr.Dataframe(label="Issues (errors block training, warnings do not)", interactive=False,
                               wrap=True, elem_id="data-issues")
    c["preview"] = gr.Dataframe(label="First rows", interactive=False, wrap=True, max_height=360,
                                elem_id="data-preview")
    gr.Markdown("### What the model sees")
    with gr.Row():
        c["model"] = gr.Textbox(settings.EMBEDDED_MODEL_NAME, label="Model (its tokenizer and chat template)",
                                info=field_metadata("model.name_or_path")["help"], scale=3, elem_id="data-model")
        c["max_length"] = gr.Slider(label="Max length (tokens)", step=16, value=512,
                                    **{**_bounds("data.max_length"), "maximum": 8192}, scale=2)
        c["assistant_only"] = gr.Checkbox(True, label="Learn from assistant replies only",
                                          info=field_metadata("data.assistant_only_loss")["help"], scale=2)
    c["stats"] = gr.Markdown(elem_id="data-stats")
    c["histogram"] = gr.Plot(label="Token lengths", elem_id="data-histogram")
    with gr.Row():
        c["row"] = gr.Number(1, precision=0, minimum=1, label="Row to inspect", scale=1)
        c["caption"] = gr.Markdown(elem_id="data-caption")
    c["tokens"] = gr.HighlightedText(label="Rendered with the model's chat template", color_map=token_view.COLOR_MAP,
                                     show_legend=True, combine_adjacent=False, elem_id="data-tokens")
    gr.Markdown("### Train / eval split")
    with gr.Row():
        c["eval_fraction"] = gr.Slider(label="Held out for evaluation", step=0.01, value=0.0,
                                       **_bounds("data.eval_fraction"))
        c["seed"] = gr.Number(42, precision=0, label="Split seed", info=field_metadata("training.seed")["help"])
    c["split"] = gr.Markdown(elem_id="data-split")
    c["eval_rows"] = gr.Dataframe(label="Held-out rows", interactive=False, wrap=True, max_height=240)
    with gr.Accordion("This dataset in the run config", open=False):
        c["config"] = gr.Code(language="yaml", label="config.yaml (model and data sections)", elem_id="data-config")
        c["cli"] = gr.Code(language="shell", label="Train it now from the command line", elem_id="data-cli")
    tab = DataTab(c)
    _wire(tab)
    return tab


def _wire(tab: DataTab) -> None:
    c = tab.components
    controls = {c[k] for k in ("model", "max_length", "assistant_only", "eval_fraction", "seed")}
    names = {c[k]: k for k in ("model", "max_length", "assistant_only", "eval_fraction", "seed")}

    def named(values: dict) -> dict:
        return {names[comp]: value for comp, value in values.items() if comp in names}

    def upload(values: dict):
        return on_upload(values[c["state"]], values[c["upload"]], named(values))

    def sample(values: dict):
        return on_sample(values[c["state"]], values[c["sample"]], named(values))

    def hub(values: dict):
        return on_hub(values[c["state"]], values[c["hub_id"]], named(values))

    def settings_changed(values: dict):
        return on_settings(values[c["state"]], named(values))

    mapping_inputs = {c["format"], *(c[f"map_{r}"] for r in COLUMN_ROLES)}

    def apply_mapping(values: dict):
        picked = {key: values[c[key]] for key in ("format", *(f"map_{r}" for r in COLUMN_ROLES))}
        return on_settings(values[c["state"]], named(values), mapping_from(picked))

    def row(values: dict):
        return on_row(values[c["state"]], named(values), values[c["row"]])

    # The stored copy is what counts; clearing the box makes it ready for the next file.
    c["upload"].upload(upload, {c["state"], c["upload"], *controls}, tab.outputs()).then(
        lambda: None, None, c["upload"])
    c["sample_btn"].click(sample, {c["state"], c["sample"], *controls}, tab.outputs())
    c["hub_btn"].click(hub, {c["state"], c["hub_id"], *controls}, tab.outputs())
    c["apply_btn"].click(apply_mapping, {c["state"], *controls, *mapping_inputs}, tab.outputs())
    for key in ("model", "assistant_only", "seed"):
        c[key].change(settings_changed, {c["state"], *controls}, tab.outputs())
    for key in ("max_length", "eval_fraction"):
        c[key].release(settings_changed, {c["state"], *controls}, tab.outputs())
    c["row"].change(row, {c["state"], c["row"], *controls}, [c["tokens"], c["caption"]])
