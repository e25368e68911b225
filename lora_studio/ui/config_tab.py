"""The Config tab: every training setting, generated from RunConfig's metadata, checked as you type.

Handlers are module-level and work on plain values, returning a dict of component name -> value;
the builder only wires components to them. The tab's `gr.State` holds the Config-tab settings as a
full `RunConfig.to_dict()`; the Data tab's selection is laid over it (`config_view.effective_config`).
Settings the Data tab owns are shown read-only here and pushed to the Data tab's widgets when a preset
or a past run sets them. The torch side (engine.preflight) is imported lazily inside handlers.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any

import gradio as gr

from lora_studio import calibration, settings
from lora_studio.config import ConfigIssue, RunConfig
from lora_studio.errors import StudioError
from lora_studio.messages import text
from lora_studio.presets import list_presets, load_preset, preset_overrides, save_preset
from lora_studio.runs import RunPaths, list_runs, read_status
from lora_studio.ui import config_view as view
from lora_studio.ui import data_tab as data_handlers
from lora_studio.ui import preflight_view
from lora_studio.ui.data_tab import DataTab
from lora_studio.ui.data_view import Selection
from lora_studio.ui.engine_access import engine
from lora_studio.ui.widgets import FormSlider

log = logging.getLogger(__name__)

DEFAULT_PRESET = "quick-start"
PROCESSES = "training.num_processes"
SECTIONS = ("model", "lora", "training")  # titles in the catalogue: config.section.<name>
DISPLAYS = ("summary", "data_owned", "data_issues", "preflight", "measure_btn", "yaml",
            *(f"issues:{s}" for s in SECTIONS))
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
def refresh(data_state: dict | None, config_state: dict | None, calib: dict | None) -> dict[str, Any]:
    """Every display of the tab for the current settings: issues by field, pre-flight, YAML."""
    cfg = view.effective_config(data_state, config_state)
    issues = cfg.validate()
    blocking = {i.field for i in issues}
    facts, more = _preflight(cfg) if not blocking & view.PREFLIGHT_INPUTS else (None, [])
    issues += more
    by_field = view.issues_by_field(issues)
    rows = preflight_view.count_train_rows(cfg)
    panel = preflight_view.preflight_md(cfg, facts, rows, _calibration_for(cfg, facts))
    can_measure = bool(data_state) and not issues and facts is not None and not calib
    values: dict[str, Any] = {
        "summary": view.summary_md(issues), "data_owned": view.data_owned_md(cfg, bool(data_state)),
        "data_issues": view.data_issues_md(issues), "preflight": panel, "yaml": cfg.to_yaml(),
        "measure_btn": gr.update(interactive=can_measure),
        **{f"issues:{s}": view.section_issues_md(issues, s) for s in SECTIONS},
    }
    for spec in view.widget_specs():
        if spec.kind == "readonly":
            continue
        messages = by_field.get(spec.name)
        values[spec.name] = gr.update(info=view.field_info(spec, messages),
                                      elem_classes=["cfg-invalid"] if messages else [])
    targets = cfg.lora.target_modules
    chosen = [] if isinstance(targets, str) else [str(t) for t in targets]
    choices = _layer_choices(cfg.model.name_or_path, chosen)
    if isinstance(targets, str):  # all-linear: show every layer ticked, fixed until "chosen layers" is picked
        values[view.TARGET_LAYERS] = gr.update(choices=choices, value=choices, interactive=False)
    else:
        values[view.TARGET_LAYERS] = gr.update(choices=choices, interactive=True)
    return values


def on_fields(config_state: dict | None, values: dict[str, Any]) -> dict[str, Any]:
    """A setting changed in the browser: the state takes every widget's value (refresh follows)."""
    return {"config_state": view.config_from_values(config_state, values)}


def on_data_controls(config_state: dict | None, controls: dict[str, Any]) -> dict[str, Any]:
    """A Data tab setting changed: mirror it, so it counts even before a file is chosen."""
    return {"config_state": view.with_data_controls(config_state, controls)}


# ---- presets and past runs -------------------------------------------------------------------
def fill(cfg: RunConfig, data_state: dict | None, controls: dict[str, Any], data_fields: set[str] | None,
         selection: Selection | None = None) -> dict[str, Any]:
    """Put `cfg` into every widget; push the data-owned fields in `data_fields` (None: all) to the Data tab.

    With a `selection` the Data tab loads that file; otherwise its current file (if any) is re-shown
    with the new settings, so its preview matches what will train.
    """
    pushed = view.data_owned_values(cfg, data_fields)
    new_controls = {**controls, **pushed}
    state = view.with_data_controls(cfg.to_dict(), new_controls)
    values: dict[str, Any] = {"config_state": state, **view.widget_values(cfg)}
    if values[view.TARGETS] == view.ALL_LINEAR:
        del values[view.TARGET_LAYERS]  # the refresh that follows ticks every layer of the model
    else:  # the refresh that follows adds the model's other layers to the choices
        layers = values[view.TARGET_LAYERS]
        values[view.TARGET_LAYERS] = gr.update(value=layers, choices=layers, interactive=True)
    values.update({f"data:{k}": v for k, v in pushed.items()})
    if selection is not None:
        outputs = data_handlers.load(data_state, selection)
    else:
        touched = data_fields is None or bool(data_fields & {"data.format", "data.columns"})
        mapping = {"format": cfg.data.format, "columns": dict(cfg.data.columns)} if touched else None
        outputs = data_handlers.on_settings(data_state, new_controls, mapping)
    values.update({f"data:{name}": v for name, v in zip(data_handlers.OUTPUTS, outputs, strict=True)})
    return values


def preset_data_fields(name: str) -> set[str]:
    """The data-owned fields the preset itself sets (the others keep the Data tab's values)."""
    overrides = preset_overrides(name)
    named = {f"{section}.{key}" for section, keys in overrides.items() if isinstance(keys, dict) for key in keys}
    return {f for f in named if view.is_data_owned(f)}


def on_preset(name: str | None, data_state: dict | None, controls: dict[str, Any]) -> dict[str, Any]:
    try:
        if not name:
            raise StudioError("No preset was chosen", "Pick one from the list")
        warnings: list[str] = []
        cfg = load_preset(name, warnings)
        data_fields = preset_data_fields(name)
    except StudioError as exc:
        return {"message": f"❌ {exc.one_line()}"}
    values = fill(cfg, data_state, controls, data_fields)
    description = next((p.description for p in list_presets() if p.name == name), "")
    note = f" ({'; '.join(warnings)})" if warnings else ""
    values["message"] = f"Preset **{name}**: {description}{note}"
    return values


def run_choices() -> list[tuple[str, str]]:
    return [(f"{r.run_id} · {read_status(r).state}", r.run_id) for r in list_runs(settings.runs_dir())]


def on_run(run_id: str | None, data_state: dict | None, controls: dict[str, Any]) -> dict[str, Any]:
    """Load a past run's config.yaml: every setting, and its dataset when the file still exists."""
    paths = RunPaths(settings.runs_dir() / (run_id or ""))
    if not run_id or not paths.config.is_file():
        return {"message": f"❌ Run '{run_id or ''}' has no config.yaml. Press 🔄 to list the runs again."}
    warnings: list[str] = []
    try:
        cfg = RunConfig.load(paths.config, warnings)
    except StudioError as exc:
        return {"message": f"❌ {exc.one_line()}"}
    selection, note = view.run_selection(cfg)
    values = fill(cfg, data_state, controls, None, selection)
    extra = f" {'; '.join(warnings)}." if warnings else ""
    values["message"] = f"Loaded the settings of run **{run_id}** {note}.{extra}"
    return values


def preset_choices() -> list[tuple[str, str]]:
    return [(p.name if p.builtin else f"{p.name} (yours)", p.name) for p in list_presets()]


def on_save(name: str | None, description: str | None, data_state: dict | None,
            config_state: dict | None) -> dict[str, Any]:
    name = (name or "").strip()
    cfg = view.effective_config(data_state, config_state)
    issues = cfg.validate()
    if issues:
        return {"save_msg": f"❌ Not saved: fix the {len(issues)} problem(s) listed above first."}
    try:
        path = save_preset(name, cfg, (description or "").strip())
    except StudioError as exc:
        return {"save_msg": f"❌ {exc.one_line()}"}
    return {"save_msg": f"✅ Saved preset **{name}** ({path}); the data file is not part of a preset.",
            "preset": gr.update(choices=preset_choices(), value=name)}


# ---- measuring speed -------------------------------------------------------------------------
def on_measure(data_state: dict | None, config_state: dict | None) -> dict[str, Any]:
    cfg = view.effective_config(data_state, config_state)
    if not data_state:
        return {"calib_status": "Choose a dataset on the Data tab first: speed is measured on your rows."}
    if cfg.validate():
        return {"calib_status": "Fix the problems listed above first."}
    if calibration.running_job() is not None:
        return {"calib_status": "Another measurement is running; wait for it to finish."}
    job = calibration.start_calibration(cfg)
    return {"calib": dataclasses.asdict(job), "timer": gr.Timer(active=True),
            "calib_status": "⏱ Measuring speed: loading the model…"}


def on_tick(calib: dict | None) -> dict[str, Any]:
    if not calib:
        return {"timer": gr.Timer(active=False)}
    job = calibration.CalibrationJob(**calib)
    outcome = calibration.poll_calibration(job)
    if outcome.state == "running":
        return {"calib_status": f"⏱ Measuring speed… {time.time() - job.started:.0f} s (loading the model, then "
                                f"2 warm-up and 3 timed steps; log: `{job.log}`)"}
    done = {"calib": None, "timer": gr.Timer(active=False)}
    if outcome.state == "failed":
        return {**done, "calib_status": f"❌ Measuring failed: {outcome.message}"}
    r = outcome.result
    return {**done, "calib_status": f"✅ Measured {r['sec_per_step']:.2f} s/step, {r['tokens_per_sec']:,.0f} tokens/s "
                                    f"on {r['device']}."}


# ---- the builder -----------------------------------------------------------------------------
@dataclass
class ConfigTab:
    config_state: gr.State  # the Config tab's settings as RunConfig.to_dict() (see config_view.effective_config)
    components: dict[str, Any]


def _initial_config() -> RunConfig:
    try:
        return load_preset(DEFAULT_PRESET)
    except StudioError as exc:  # a deleted shipped preset must not take the dashboard down
        log.warning("%s", exc)
        return RunConfig()


def _widget(spec: view.WidgetSpec, value: Any) -> Any:
    common = {"label": spec.label, "info": spec.info, "elem_id": _elem_id(spec.name)}
    if spec.name == PROCESSES:
        return _processes_widget(value, common)
    if spec.kind == "checkbox":
        return gr.Checkbox(value, **common)
    if spec.kind == "dropdown":
        return gr.Dropdown(list(spec.choices), value=value, **common)
    if spec.kind == "slider":
        return FormSlider(spec.minimum, spec.maximum, value, step=spec.step, precision=spec.precision, **common)
    if spec.kind == "number":  # no bounds in the browser: see config_view.widget_spec
        return gr.Number(value, step=spec.step, precision=spec.precision, **common)
    if spec.kind == "lines":
        return gr.Textbox(value, lines=3, placeholder="one per line", **common)
    if spec.kind == "targets":
        return gr.Radio([view.ALL_LINEAR, view.CHOSEN], value=value, **common)
    return gr.Textbox(value, **common)


def _processes_widget(value: Any, common: dict[str, Any]) -> Any:
    """Up to one process per GPU (per CPU core without one), the bound validation applies; fixed at 1 with the
    reason where only one can run."""
    kind, count = settings.local_devices()
    if count <= 1:
        info = f"{common['info']} {text('config.processes_single', kind=kind)}"
        return FormSlider(1, 2, 1, step=1, precision=0, interactive=False, **{**common, "info": info})
    info = f"{common['info']} {text('config.processes_machine', count=count, kind=kind)}"
    return FormSlider(1, count, min(max(int(value or 1), 1), count), step=1, precision=0, **{**common, "info": info})


def _fields(c: dict[str, Any], specs: list[view.WidgetSpec], values: dict[str, Any]) -> None:
    """Widgets three to a row; lists and the target layers get a row of their own."""
    wide = [s for s in specs if s.kind in ("targets", "lines")]
    narrow = [s for s in specs if s not in wide]
    for start in range(0, len(narrow), 3):
        with gr.Row():
            for spec in narrow[start:start + 3]:
                c[spec.name] = _widget(spec, values[spec.name])
    for spec in wide:
        with gr.Row():
            c[spec.name] = _widget(spec, values[spec.name])
            if spec.kind == "targets":
                layers = values[view.TARGET_LAYERS]
                c[view.TARGET_LAYERS] = gr.CheckboxGroup(
                    layers, value=layers, label="Layers that get an adapter", scale=2,
                    info="The model's own linear layers (the output head never gets one)",
                    interactive=values[spec.name] != view.ALL_LINEAR, elem_id=_elem_id(view.TARGET_LAYERS))


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


def build_config_tab(data_tab: DataTab) -> ConfigTab:
    cfg = _initial_config()
    values = view.widget_values(cfg)
    c: dict[str, Any] = {"config_state": gr.State(cfg.to_dict()), "calib": gr.State(None),
                         "timer": gr.Timer(1.0, active=False)}
    gr.Markdown(text("config.intro"))
    with gr.Row():
        c["preset"] = gr.Dropdown(preset_choices(), value=DEFAULT_PRESET, label="Preset", scale=3,
                                  info="Choosing one fills every setting below", elem_id="cfg-preset")
        c["run"] = gr.Dropdown(run_choices(), value=None, label="…or the settings of a past run", scale=3,
                               info="Its config.yaml, and its data file when it still exists", elem_id="cfg-run")
        c["runs_refresh"] = gr.Button("🔄 Runs", size="sm", scale=0, min_width=90)
    c["message"] = gr.Markdown(elem_id="cfg-message")
    c["summary"] = gr.Markdown(elem_id="cfg-summary")
    with gr.Row():
        with gr.Column(scale=3):
            _sections(c, values)
        with gr.Column(scale=2):
            gr.Markdown("### Pre-flight")
            c["preflight"] = gr.Markdown("Checking the settings…", elem_id="cfg-preflight")
            c["measure_btn"] = gr.Button("⏱ Measure speed", interactive=False, elem_id="cfg-measure")
            c["calib_status"] = gr.Markdown(elem_id="cfg-calib-status")
            c["data_owned"] = gr.Markdown(elem_id="cfg-data-owned")
            c["data_issues"] = gr.Markdown(elem_id="cfg-data-issues")
    with gr.Accordion("Save these settings as a preset", open=False):
        with gr.Row():
            c["save_name"] = gr.Textbox(label="Preset name", placeholder="my-preset", elem_id="cfg-save-name")
            c["save_desc"] = gr.Textbox(label="Description", placeholder="What it is for", scale=2)
            c["save_btn"] = gr.Button("💾 Save as preset", scale=0, min_width=160, elem_id="cfg-save")
        c["save_msg"] = gr.Markdown(elem_id="cfg-save-msg")
    with gr.Accordion("Effective config: exactly what the Train tab will run", open=False):
        c["yaml"] = gr.Code(cfg.to_yaml(), language="yaml", interactive=False, elem_id="cfg-yaml")
    _seed_data_widgets(data_tab, cfg)
    tab = ConfigTab(c["config_state"], c)
    _wire(tab, data_tab)
    return tab


def _seed_data_widgets(data_tab: DataTab, cfg: RunConfig) -> None:
    """The page opens with the default preset's data settings (e.g. max length 256) on the Data tab.

    Set before the page renders, so no load event can race a first click on the Data tab.
    """
    try:
        fields = preset_data_fields(DEFAULT_PRESET)
    except StudioError:
        return
    for control, value in view.data_owned_values(cfg, fields).items():
        data_tab.components[control].value = value


def _wire(tab: ConfigTab, data_tab: DataTab) -> None:
    c, d = tab.components, data_tab.components
    fields = {name: c[name] for name in view.widget_values(RunConfig())}
    controls = {d[k]: k for k in view.DATA_CONTROLS}

    def comp(name: str) -> Any:
        return d[name[5:]] if name.startswith("data:") else c[name]

    def out(result: dict[str, Any]) -> dict[Any, Any]:
        return {comp(name): value for name, value in result.items()}

    def pick(values: dict, mapping: dict) -> dict[str, Any]:
        return {mapping[k]: v for k, v in values.items() if k in mapping}

    field_names = {component: name for name, component in fields.items()}
    displays = [c[name] for name in DISPLAYS] + list(fields.values())
    gr.on(None, lambda ds, cs, cal: out(refresh(ds, cs, cal)), [d["state"], c["config_state"], c["calib"]],
          displays, trigger_mode="always_last", show_progress="minimal", show_progress_on=[c["preflight"]])

    # Sliders report every change (a value the browser clamped included), so the state holds what they show.
    edits = [fields[s.name].change if s.kind == "slider" else fields[s.name].input
             for s in view.widget_specs() if s.kind != "readonly"] + [fields[view.TARGET_LAYERS].input]
    gr.on(edits, lambda v: out(on_fields(v[c["config_state"]], pick(v, field_names))),
          {c["config_state"], *fields.values()}, [c["config_state"]], trigger_mode="always_last",
          show_progress="hidden")
    # User edits only (.blur/.input/.release): the values a preset pushes are mirrored by `fill` itself.
    data_edits = [d["model"].blur, d["model"].submit, d["assistant_only"].input, d["seed"].input,
                  d["max_length"].release, d["eval_fraction"].release]
    gr.on(data_edits, lambda v: out(on_data_controls(v[c["config_state"]], pick(v, controls))),
          {c["config_state"], *controls}, [c["config_state"]], trigger_mode="always_last", show_progress="hidden")
    _wire_buttons(tab, data_tab, fields, out, pick)


def _wire_buttons(tab: ConfigTab, data_tab: DataTab, fields: dict[str, Any], out, pick) -> None:
    c, d = tab.components, data_tab.components
    controls = {d[k]: k for k in view.DATA_CONTROLS}
    fill_outputs = [c["config_state"], c["message"], *fields.values(), *controls, *data_tab.outputs()]
    c["preset"].input(lambda v: out(on_preset(v[c["preset"]], v[d["state"]], pick(v, controls))),
                      {c["preset"], d["state"], *controls}, fill_outputs)
    c["run"].input(lambda v: out(on_run(v[c["run"]], v[d["state"]], pick(v, controls))),
                   {c["run"], d["state"], *controls}, fill_outputs)
    c["runs_refresh"].click(lambda: gr.update(choices=run_choices()), None, c["run"])
    c["save_btn"].click(lambda v: out(on_save(v[c["save_name"]], v[c["save_desc"]], v[d["state"]],
                                              v[c["config_state"]])),
                        {c["save_name"], c["save_desc"], d["state"], c["config_state"]}, [c["save_msg"], c["preset"]])
    # Presets saved and runs started since the server built the page.
    gr.on(None, lambda: {c["preset"]: gr.update(choices=preset_choices()), c["run"]: gr.update(choices=run_choices())},
          None, [c["preset"], c["run"]], show_progress="hidden")
    c["measure_btn"].click(lambda v: out(on_measure(v[d["state"]], v[c["config_state"]])),
                           {d["state"], c["config_state"]}, [c["calib"], c["timer"], c["calib_status"]])
    c["timer"].tick(lambda cal: out(on_tick(cal)), [c["calib"]], [c["calib"], c["timer"], c["calib_status"]],
                    show_progress="hidden")
