"""The Config tab: every training setting, generated from RunConfig's metadata, checked as you type.

Handlers are module-level, take the browser's run config (ui/run_state.py) and return a dict of
component name -> value; the builder only wires components to them. The tab writes only the fields it
owns; the Data tab's are shown read-only here. A preset or a past run replaces the whole run config
(the dataset and base model kept), and every tab redraws from its change. The torch side
(engine.preflight) is imported lazily inside handlers.

Here: live validation and the pre-flight panel, the builder and its wiring. The preset, past-run and
save-as-preset handlers are in ui/config_presets.py; "Measure speed" is in ui/config_speed.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import gradio as gr

from lora_studio import adapters, calibration, settings
from lora_studio.config import ConfigIssue, RunConfig, merge_dict
from lora_studio.config_checks import format_issues
from lora_studio.errors import StudioError
from lora_studio.messages import text
from lora_studio.presets import load_preset
from lora_studio.ui import config_view as view
from lora_studio.ui import preflight_view, run_state
from lora_studio.ui.config_presets import on_preset, on_run, on_save, preset_choices, preset_shown, run_choices
from lora_studio.ui.config_speed import on_measure, on_tick
from lora_studio.ui.engine_access import engine
from lora_studio.ui.handlers import by_component
from lora_studio.ui.widgets import FormSlider

log = logging.getLogger(__name__)

DEFAULT_PRESET = "quick-start"
PROCESSES = "training.num_processes"
SECTIONS = ("model", "lora", "training")  # titles in the catalogue: config.section.<name>
DISPLAYS = (
    "summary",
    "preset",
    "data_owned",
    "data_issues",
    "preflight",
    "measure_btn",
    "yaml",
    *(f"issues:{s}" for s in SECTIONS),
)
CSS = """
.cfg-invalid { box-shadow: inset 0 0 0 2px #e03131 !important; background: rgba(224, 49, 49, 0.06) !important; }
#cfg-summary, #cfg-message { padding: 0.4rem 0.75rem; border-radius: 8px; background: var(--block-background-fill); }
"""


def _elem_id(name: str) -> str:
    return "cfg-" + name.replace(".", "-").replace("_", "-").replace(":", "-")


def _preflight(cfg: RunConfig) -> tuple[Any, list[ConfigIssue]]:
    with engine("preflight") as preflight:  # lazy and locked: see ui/engine_access.py
        return preflight.check(cfg)


def _layer_choices(model: str, selected: list[str]) -> list[str]:
    try:
        with engine("preflight") as preflight:
            names = list(preflight.linear_module_names(model))
    except StudioError:
        names = []
    return names + [s for s in selected if s not in names]


def _calibration_for(cfg: RunConfig, facts: Any) -> calibration.Calibration | None:
    return calibration.lookup(calibration.key_for(cfg, facts.device)) if facts is not None else None


# ---- live validation and the pre-flight panel -------------------------------------------------
def refresh(state: dict | None, calib: dict | None) -> dict[str, Any]:
    """Every display of the tab for the run config: issues by field, pre-flight, YAML."""
    cfg = run_state.from_state(state)
    issues = cfg.validate()
    blocking = {i.field for i in issues}
    facts, more = _preflight(cfg) if not blocking & view.PREFLIGHT_INPUTS else (None, [])
    issues += more
    rows = preflight_view.count_train_rows(cfg)
    if rows is not None and cfg.data.format == "auto":  # the method against the format found in the file
        issues += format_issues(cfg, rows.data_format)
    by_field = view.issues_by_field(issues)
    panel = preflight_view.preflight_md(cfg, facts, rows, _calibration_for(cfg, facts))
    can_measure = bool(cfg.data.path) and not issues and facts is not None and not calib
    values: dict[str, Any] = {
        "summary": view.summary_md(issues),
        "data_owned": view.data_owned_md(cfg, bool(cfg.data.path)),
        "data_issues": view.data_issues_md(issues),
        "preflight": panel,
        "yaml": cfg.to_yaml(),
        "measure_btn": gr.update(interactive=can_measure),
        "preset": preset_shown(cfg),
        **{f"issues:{s}": view.section_issues_md(issues, s) for s in SECTIONS},
    }
    for spec in view.widget_specs():
        if spec.kind == "readonly":
            continue
        messages = by_field.get(spec.name)
        values[spec.name] = gr.update(
            info=view.field_info(spec, messages), elem_classes=["cfg-invalid"] if messages else []
        )
    for spec in view.widget_specs():
        if spec.kind == "run_adapter":  # runs finish while the page is open: list them again
            values[spec.name] = gr.update(
                **values[spec.name], choices=_start_choices(view.widget_values(cfg)[spec.name])
            )
    targets = cfg.lora.target_modules
    chosen = [] if isinstance(targets, str) else [str(t) for t in targets]
    choices = _layer_choices(cfg.model.name_or_path, chosen)
    if isinstance(targets, str):  # all-linear: show every layer ticked, fixed until "chosen layers" is picked
        values[view.TARGET_LAYERS] = gr.update(choices=choices, value=choices, interactive=False)
    else:
        values[view.TARGET_LAYERS] = gr.update(choices=choices, interactive=True)
    return values


def on_change(state: dict | None, shown: dict | None, calib: dict | None) -> dict[str, Any]:
    """The run config changed (an edit here, the Data tab, a preset, a past run, a page load): every display
    again, and the widgets set from it when their fields differ from what this tab drew."""
    cfg = run_state.from_state(state)
    values = refresh(state, calib)
    if shown is not None and run_state.part(cfg, "config") == shown:
        return values
    values["shown"] = run_state.part(cfg, "config")
    for name, value in view.widget_values(cfg).items():
        if name == view.TARGET_LAYERS and value == []:
            continue  # all-linear: refresh ticks every layer
        update = values.get(name)
        values[name] = gr.update(**{**(update or {}), "value": value}) if isinstance(update, dict) else value
    return values


def on_fields(state: dict | None, values: dict[str, Any]) -> dict[str, Any]:
    """A setting changed in the browser: it goes into the run config (the displays follow from its change)."""
    cfg = merge_dict(RunConfig(), view.config_from_values(run_state.from_state(state).to_dict(), values))
    return {"run_config": cfg.to_dict(), "shown": run_state.part(cfg, "config")}


# ---- the builder -----------------------------------------------------------------------------
@dataclass
class ConfigTab:
    components: dict[str, Any]

    def out(self, values: dict[str, Any]) -> dict[Any, Any]:
        return by_component(self.components, values)

    def draw_outputs(self) -> list[Any]:
        """What the page's first draw sets (ui/app.py): every display and widget."""
        return _change_outputs(self.components)

    def first_draw(self, state: dict | None, calib: dict | None) -> dict[Any, Any]:
        """The run config the browser kept, drawn on page load."""
        return self.out(on_change(state, None, calib))


def initial_config() -> RunConfig:
    """A browser's first run config: the defaults with the quick-start preset."""
    try:
        return load_preset(DEFAULT_PRESET)
    except StudioError as exc:  # a deleted shipped preset must not take the dashboard down
        log.warning("%s", exc)
        return RunConfig()


def _widget(spec: view.WidgetSpec, value: Any) -> Any:
    common: dict[str, Any] = {"label": spec.label, "info": spec.info, "elem_id": _elem_id(spec.name)}
    if spec.name == PROCESSES:
        return _processes_widget(value, common)
    if spec.kind == "checkbox":
        return gr.Checkbox(value, **common)
    if spec.kind == "dropdown":
        return gr.Dropdown(list(spec.choices), value=value, **common)
    if spec.kind == "slider":
        assert spec.minimum is not None and spec.maximum is not None  # widget_spec gives a slider its ends
        return FormSlider(spec.minimum, spec.maximum, value, step=spec.step, precision=spec.precision, **common)
    if spec.kind == "number":  # no bounds in the browser: see config_view.widget_spec
        assert spec.step is not None  # widget_spec gives a number box its step
        return gr.Number(value, step=spec.step, precision=spec.precision, **common)
    if spec.kind == "lines":
        return gr.Textbox(value, lines=3, placeholder=text("config.one_per_line"), **common)
    if spec.kind == "targets":
        choices = [(view.ALL_LINEAR, view.ALL_LINEAR), (text("config.chosen_layers"), view.CHOSEN)]
        return gr.Radio(choices, value=value, **common)
    if spec.kind == "run_adapter":
        return gr.Dropdown(_start_choices(value), value=value, allow_custom_value=True, **common)
    return gr.Textbox(value, **common)


def _start_choices(current: Any) -> list[tuple[str, str]]:
    """Finished runs with an adapter, newest first (files only: no model is loaded)."""
    runs = [info.run_id for info in adapters.run_adapters() if not info.problem]
    return view.start_choices(runs, str(current or ""))


def _processes_widget(value: Any, common: dict[str, Any]) -> Any:
    """Up to one process per GPU (per CPU core without one), the bound validation applies; fixed at 1 with the
    reason where only one can run."""
    kind, count = settings.local_devices()
    if count <= 1:
        info = text("ui.sentences", first=common["info"], second=text("config.processes_single", kind=kind))
        return FormSlider(1, 2, 1, step=1, precision=0, interactive=False, **{**common, "info": info})
    info = text("ui.sentences", first=common["info"], second=text("config.processes_machine", count=count, kind=kind))
    return FormSlider(1, count, min(max(int(value or 1), 1), count), step=1, precision=0, **{**common, "info": info})


def _fields(c: dict[str, Any], specs: list[view.WidgetSpec], values: dict[str, Any]) -> None:
    """Widgets three to a row; lists and the target layers get a row of their own."""
    wide = [s for s in specs if s.kind in ("targets", "lines")]
    narrow = [s for s in specs if s not in wide]
    for start in range(0, len(narrow), 3):
        with gr.Row():
            for spec in narrow[start : start + 3]:
                c[spec.name] = _widget(spec, values[spec.name])
    for spec in wide:
        with gr.Row():
            c[spec.name] = _widget(spec, values[spec.name])
            if spec.kind == "targets":
                layers = values[view.TARGET_LAYERS]
                c[view.TARGET_LAYERS] = gr.CheckboxGroup(
                    layers,
                    value=layers,
                    label=text("config.layers_label"),
                    scale=2,
                    info=text("config.layers_info"),
                    interactive=values[spec.name] != view.ALL_LINEAR,
                    elem_id=_elem_id(view.TARGET_LAYERS),
                )


def _sections(c: dict[str, Any], values: dict[str, Any]) -> None:
    """The essential settings first, then every other one by section under "Advanced settings"."""
    editable = [s for s in view.widget_specs() if s.kind != "readonly"]
    _fields(c, [s for s in editable if s.essential], values)
    with gr.Accordion(text("config.advanced"), open=False, elem_id="cfg-advanced"):
        for section in SECTIONS:
            gr.Markdown(f"### {text(f'config.section.{section}')}")
            _fields(c, [s for s in editable if s.section == section and not s.essential], values)
    for section in SECTIONS:  # problems by section, shown above the fold so none hides in a closed accordion
        c[f"issues:{section}"] = gr.Markdown(elem_id=_elem_id(f"issues:{section}"), elem_classes=["cfg-issues"])


def build_config_tab(run_config: gr.State) -> ConfigTab:
    cfg = initial_config()
    values = view.widget_values(cfg)
    c: dict[str, Any] = {
        "run_config": run_config,
        "shown": gr.State(None),
        "calib": gr.State(None),
        "timer": gr.Timer(1.0, active=False),
    }
    gr.Markdown(text("config.intro"))
    with gr.Row():
        c["preset"] = gr.Dropdown(
            preset_choices(),
            value=DEFAULT_PRESET,
            label=text("config.preset_label"),
            scale=3,
            info=text("config.preset_info"),
            elem_id="cfg-preset",
        )
        c["run"] = gr.Dropdown(
            run_choices(),
            value=None,
            label=text("config.run_label"),
            scale=3,
            info=text("config.run_info"),
            elem_id="cfg-run",
        )
        c["runs_refresh"] = gr.Button(text("config.runs_refresh"), size="sm", scale=0, min_width=90)
    c["message"] = gr.Markdown(elem_id="cfg-message")
    c["summary"] = gr.Markdown(elem_id="cfg-summary")
    with gr.Row():
        with gr.Column(scale=3):
            _sections(c, values)
        with gr.Column(scale=2):
            gr.Markdown(text("config.preflight_title"))
            c["preflight"] = gr.Markdown(text("config.checking"), elem_id="cfg-preflight")
            c["measure_btn"] = gr.Button(text("config.measure"), interactive=False, elem_id="cfg-measure")
            c["calib_status"] = gr.Markdown(elem_id="cfg-calib-status")
            c["data_owned"] = gr.Markdown(elem_id="cfg-data-owned")
            c["data_issues"] = gr.Markdown(elem_id="cfg-data-issues")
    with gr.Accordion(text("config.save_title"), open=False):
        with gr.Row():
            c["save_name"] = gr.Textbox(
                label=text("config.save_name"), placeholder="my-preset", elem_id="cfg-save-name"
            )
            c["save_desc"] = gr.Textbox(
                label=text("config.save_desc"), placeholder=text("config.save_desc_hint"), scale=2
            )
            c["save_btn"] = gr.Button(text("config.save_button"), scale=0, min_width=160, elem_id="cfg-save")
        c["save_msg"] = gr.Markdown(elem_id="cfg-save-msg")
    with gr.Accordion(text("config.effective_title"), open=False):
        c["yaml"] = gr.Code(cfg.to_yaml(), language="yaml", interactive=False, elem_id="cfg-yaml")
    tab = ConfigTab(c)
    _wire(tab)
    return tab


def _field_components(c: dict[str, Any]) -> dict[str, Any]:
    return {name: c[name] for name in view.widget_values(RunConfig())}


def _change_outputs(c: dict[str, Any]) -> list[Any]:
    return [c["shown"], *(c[name] for name in DISPLAYS), *_field_components(c).values()]


def _wire(tab: ConfigTab) -> None:
    c, out = tab.components, tab.out
    state, fields = c["run_config"], _field_components(c)
    field_names = {component: name for name, component in fields.items()}
    state.change(
        lambda s, shown, cal: out(on_change(s, shown, cal)),
        [state, c["shown"], c["calib"]],
        _change_outputs(c),
        trigger_mode="always_last",
        show_progress="minimal",
        show_progress_on=[c["preflight"]],
    )
    # User edits only: a redraw from the run config must not write an older copy of it back. A slider reports a
    # drag (input) and a typed value on leaving its box (release); FormSlider clamps that as the browser shows it.
    editable = [s for s in view.widget_specs() if s.kind != "readonly"]
    edits = [fields[s.name].input for s in editable] + [fields[view.TARGET_LAYERS].input]
    edits += [fields[s.name].release for s in editable if s.kind == "slider"]

    def edited(v: dict) -> dict:
        return out(on_fields(v[state], {field_names[k]: val for k, val in v.items() if k in field_names}))

    gr.on(
        edits,
        edited,
        {state, *fields.values()},
        [state, c["shown"]],
        trigger_mode="always_last",
        show_progress="hidden",
    )
    c["preset"].input(lambda name, s: out(on_preset(name, s)), [c["preset"], state], [state, c["message"]])
    c["run"].input(lambda run, s: out(on_run(run, s)), [c["run"], state], [state, c["message"]])
    c["runs_refresh"].click(lambda: gr.update(choices=run_choices()), None, c["run"])
    c["save_btn"].click(
        lambda n, d, s: out(on_save(n, d, s)), [c["save_name"], c["save_desc"], state], [c["save_msg"], c["preset"]]
    )
    # Presets saved and runs started since the server built the page.
    gr.on(
        None,
        lambda: {c["preset"]: gr.update(choices=preset_choices()), c["run"]: gr.update(choices=run_choices())},
        None,
        [c["preset"], c["run"]],
        show_progress="hidden",
    )
    c["measure_btn"].click(lambda s: out(on_measure(s)), [state], [c["calib"], c["timer"], c["calib_status"]])
    c["timer"].tick(
        lambda cal: out(on_tick(cal)), [c["calib"]], [c["calib"], c["timer"], c["calib_status"]], show_progress="hidden"
    )
