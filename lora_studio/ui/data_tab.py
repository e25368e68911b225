"""The Data tab: bring a dataset, see exactly what the model will learn from, fix it before training.

Handlers are module-level, take the browser's run config (ui/run_state.py) and return a dict keyed by
component name; the builder only wires components to them. The tab writes only the fields it owns
(the dataset, the base model, max length, the split): a file loads into the run config only when it
can be used, so a broken upload leaves the previous dataset selected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from lora_studio import settings
from lora_studio.config import COLUMN_ROLES, DATA_FORMATS, RunConfig, field_metadata
from lora_studio.dataset_files import SUPPORTED_SUFFIXES
from lora_studio.dataset_rows import FormatUnknownError
from lora_studio.dataset_sources import fetch_hub_dataset, list_samples, sample_path, store_upload
from lora_studio.errors import StudioError
from lora_studio.messages import text
from lora_studio.ui import data_view, run_state, token_view
from lora_studio.ui.config_view import with_range
from lora_studio.ui.data_view import Selection
from lora_studio.ui.handlers import by_component
from lora_studio.ui.widgets import FormSlider

NONE = "(not used)"  # the value of a column dropdown's "not used" choice (its label is data.not_used)
# The widgets beside the dataset that set run-config fields (the Data tab owns them) → those fields.
CONTROLS = {
    "model": "model.name_or_path",
    "max_length": "data.max_length",
    "assistant_only": "data.assistant_only_loss",
    "eval_fraction": "data.eval_fraction",
    "seed": "training.seed",
}
VIEWS = (
    "status",
    *(f"map_{r}" for r in COLUMN_ROLES),
    "format",
    "mapping",
    "issues",
    "preview",
    "stats",
    "histogram",
    "tokens",
    "caption",
    "split",
    "eval_rows",
    "config",
    "cli",
    "row",
)
# What every loading handler may return (see DataTab.outputs()): the run config, what this tab drew, its views.
OUTPUTS = ("run_config", "shown", *VIEWS, *CONTROLS)


def _not_used() -> tuple[str, str]:
    """A column dropdown's first choice: no column for this role."""
    return (text("data.not_used"), NONE)


def _dropdowns(columns: list[str], chosen: dict) -> list[Any]:
    choices = [_not_used(), *columns]
    return [gr.update(choices=choices, value=chosen.get(role, NONE)) for role in COLUMN_ROLES]


def _drawn(cfg: RunConfig) -> dict[str, Any]:
    """The config as this tab has now drawn it: the run config and the part the tab compares on its next change."""
    return {"run_config": cfg.to_dict(), "shown": run_state.part(cfg, "data")}


def show(sel: Selection) -> dict[str, Any]:
    """Every view for a selection whose file loads; raises StudioError when it does not."""
    result = data_view.analyse(sel)
    data = result.data
    report = token_view.token_report(data, sel.model, sel.assistant_only_loss, sel.max_length)
    segments, caption = token_view.row_segments(data, sel.model, sel.assistant_only_loss, sel.max_length, 1)
    status = result.status_md
    if report.too_long_for_all:
        status += "\n\n" + text("data.all_too_long")
    values = {
        "status": status,
        "format": sel.format,
        "mapping": gr.update(open=bool(sel.columns) or sel.format != "auto"),
        "issues": result.issues,
        "preview": result.preview,
        "stats": report.stats_md,
        "histogram": report.figure,
        "tokens": segments,
        "caption": caption,
        "split": result.split_md,
        "eval_rows": result.eval_rows,
        "config": result.config_yaml,
        "cli": result.cli_command,
        "row": gr.update(value=1, maximum=max(len(data.rows), 1)),
    }
    values.update(zip((f"map_{r}" for r in COLUMN_ROLES), _dropdowns(data.columns, sel.columns), strict=True))
    return values


def _cleared() -> dict[str, Any]:
    values: dict[str, Any] = {name: None for name in ("issues", "preview", "eval_rows", "histogram")}
    values.update({name: "" for name in ("stats", "split", "caption", "config", "cli")})
    values["tokens"] = []
    return values


def failed(exc: StudioError, cfg: RunConfig, pending: Selection | None = None) -> dict[str, Any]:
    """The status explains; the run config keeps its dataset (nothing lost). A file whose columns need naming
    becomes the dataset, blocked until mapped, with the mapping opened."""
    if isinstance(exc, FormatUnknownError) and pending is not None:
        values = {
            **_drawn(pending.run_config(cfg)),
            **_cleared(),
            "status": text("data.which_columns", name=Path(pending.path).name, problem=exc.message),
            "mapping": gr.update(open=True),
        }
        values.update(zip((f"map_{r}" for r in COLUMN_ROLES), _dropdowns(exc.columns, {}), strict=True))
        return values
    previous = Selection.from_config(cfg) if cfg.data.path else None
    return {"status": data_view.describe_error(exc, previous)}


def load(cfg: RunConfig, sel: Selection) -> dict[str, Any]:
    """Show `sel` and make it the run config's dataset, or say why it cannot be (the config unchanged)."""
    try:
        return {**show(sel), **_drawn(sel.run_config(cfg))}
    except StudioError as exc:
        return failed(exc, cfg, pending=sel)


def _new_file(cfg: RunConfig, path: str) -> Selection:
    sel = Selection.from_config(cfg)
    sel.path, sel.format, sel.columns = path, "auto", {}
    return sel


def on_upload(state: dict | None, file_path: str | None) -> dict[str, Any]:
    cfg = run_state.from_state(state)
    if not file_path:
        return {}
    try:
        stored = store_upload(file_path)
    except StudioError as exc:
        return failed(exc, cfg)
    return load(cfg, _new_file(cfg, str(stored)))


def on_sample(state: dict | None, name: str | None) -> dict[str, Any]:
    cfg = run_state.from_state(state)
    try:
        if not name:
            raise StudioError(text("data.no_sample"), text("data.no_sample_hint"))
        path = sample_path(name)
    except StudioError as exc:
        return failed(exc, cfg)
    return load(cfg, _new_file(cfg, str(path)))


def on_hub(state: dict | None, dataset_id: str) -> dict[str, Any]:
    cfg = run_state.from_state(state)
    try:
        path = fetch_hub_dataset(dataset_id or "")
    except StudioError as exc:
        return failed(exc, cfg)
    return load(cfg, _new_file(cfg, str(path)))


def _control_fields(controls: dict[str, Any]) -> dict[str, Any]:
    fields = {CONTROLS[name]: value for name, value in controls.items() if name in CONTROLS}
    if "model.name_or_path" in fields:  # an empty box means the embedded model
        fields["model.name_or_path"] = (fields["model.name_or_path"] or "").strip() or settings.EMBEDDED_MODEL_NAME
    return fields


def on_settle(state: dict | None, controls: dict[str, Any]) -> dict[str, Any]:
    """Before a file loads: the settings as the page shows them, into the run config. A model typed just before
    a click may still be on its way there (its blur event races the click); this step runs first, so the file
    loads with what the user sees (and the tab does not redraw the old file for it)."""
    return _drawn(run_state.with_fields(run_state.from_state(state), _control_fields(controls)))


def on_settings(state: dict | None, controls: dict[str, Any], mapping: dict | None = None) -> dict[str, Any]:
    """A setting beside the dataset changed (or a column mapping was applied): into the run config, and the
    file shown again with it. Without a file, the settings still count."""
    cfg = run_state.with_fields(run_state.from_state(state), _control_fields(controls))
    if mapping is not None:
        cfg = run_state.with_fields(cfg, {"data.format": mapping["format"], "data.columns": mapping["columns"]})
    if not cfg.data.path:
        return _drawn(cfg)
    return load(cfg, Selection.from_config(cfg))


def on_change(state: dict | None, shown: dict | None) -> dict[str, Any]:
    """The run config changed (page load, a preset, a past run): redraw when the fields this tab shows differ
    from what it drew; its own changes were drawn already."""
    cfg = run_state.from_state(state)
    if shown is not None and run_state.part(cfg, "data") == shown:
        return {}
    # Never the run config itself: this reader's copy may already be older than the browser's.
    values = {
        "shown": run_state.part(cfg, "data"),
        **{name: run_state.get(cfg, dotted) for name, dotted in CONTROLS.items()},
    }
    if not cfg.data.path:
        return {**values, **_cleared(), "status": text("data.no_dataset")}
    try:
        return {**values, **show(Selection.from_config(cfg))}
    except StudioError as exc:  # the file went away or broke since: say so, keep the choice
        return {**values, **_cleared(), "status": data_view.describe_error(exc, None)}


def on_row(state: dict | None, position: float | None) -> dict[str, Any]:
    cfg = run_state.from_state(state)
    if not cfg.data.path:
        return {"tokens": gr.skip()}
    sel = Selection.from_config(cfg)
    try:
        result = data_view.analyse(sel)
    except StudioError as exc:
        return {"tokens": [], "caption": text("data.preview_unavailable", problem=exc.one_line())}
    tokens, caption = token_view.row_segments(
        result.data, sel.model, sel.assistant_only_loss, sel.max_length, max(int(position or 1), 1)
    )
    return {"tokens": tokens, "caption": caption}


def mapping_from(values: dict) -> dict:
    columns = {role: values[f"map_{role}"] for role in COLUMN_ROLES if values[f"map_{role}"] not in (None, NONE)}
    return {"format": values["format"], "columns": columns}


@dataclass
class DataTab:
    components: dict[str, Any]

    def outputs(self) -> list[Any]:
        return [self.components[name] for name in OUTPUTS]

    def out(self, values: dict[str, Any]) -> dict[Any, Any]:
        return by_component(self.components, values)

    def attach(self, app: gr.Blocks) -> None:
        """On every page load, draw the run config the browser kept (its dataset analysed again)."""
        c = self.components
        app.load(lambda state: self.out(on_change(state, None)), [c["run_config"]], self.outputs())


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
            )
        with gr.Column(scale=2):
            samples = [(f"{s.name} — {s.description}" if s.description else s.name, s.name) for s in list_samples()]
            c["sample"] = gr.Dropdown(samples, value=None, label=text("data.sample_label"), elem_id="data-sample")
            c["sample_btn"] = gr.Button(text("data.sample_button"), elem_id="data-sample-btn")
            with gr.Row():
                c["hub_id"] = gr.Textbox(label=text("data.hub_label"), placeholder="owner/name", scale=3)
                c["hub_btn"] = gr.Button(text("data.hub_button"), scale=1)
    c["status"] = gr.Markdown(text("data.no_dataset"), elem_id="data-status")
    with gr.Accordion(text("data.mapping_title"), open=False) as c["mapping"]:
        with gr.Row():
            c["format"] = gr.Dropdown(list(DATA_FORMATS), value="auto", **_info("data.format"))
            for role in COLUMN_ROLES:
                c[f"map_{role}"] = gr.Dropdown(
                    [_not_used()], value=NONE, label=text("data.column_label", role=role), elem_id=f"map-{role}"
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
            defaults.model.name_or_path, scale=3, elem_id="data-model", **_info("model.name_or_path")
        )
        # A number box, not a slider: the valid range (16 to 131,072) is far wider than a slider can show.
        c["max_length"] = gr.Number(
            defaults.data.max_length,
            precision=0,
            step=16,
            scale=2,
            elem_id="data-max-length",
            **_info("data.max_length"),
        )
        c["assistant_only"] = gr.Checkbox(
            defaults.data.assistant_only_loss,
            scale=2,
            elem_id="data-assistant-only",
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
            **_info("data.eval_fraction"),
        )
        c["seed"] = gr.Number(defaults.training.seed, precision=0, elem_id="data-seed", **_info("training.seed"))
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
