"""What the Config tab shows, as plain values: no gradio, no torch, testable directly.

Widgets are generated from the RunConfig dataclass fields and their metadata (one declaration per
field); values come back into a RunConfig; issues are grouped by field. The pre-flight panel's numbers are
in `preflight_view`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from lora_studio.config import SECTIONS, ConfigIssue, RunConfig, field_metadata, merge_dict
from lora_studio.declarations import allowed_range
from lora_studio.messages import field_label, text

TARGETS = "lora.target_modules"
TARGET_LAYERS = "lora.target_modules:layers"  # the checklist beside the all-linear / chosen-layers switch
ALL_LINEAR = "all-linear"
CHOSEN = "chosen layers"  # the value; the switch shows it as text("config.chosen_layers")
# Fields the pre-flight numbers are computed from: while one of them is invalid, the panel waits.
PREFLIGHT_INPUTS = frozenset(
    {
        "model.name_or_path",
        "model.dtype",
        "model.load_in_8bit",
        "model.load_in_4bit",
        "lora.r",
        "lora.use_dora",
        "lora.target_modules",
        "lora.bias",
        "data.max_length",
        "data.eval_fraction",
        "training.seed",
        "training.batch_size",
        "training.gradient_accumulation",
        "training.num_epochs",
        "training.max_steps",
        "training.gradient_checkpointing",
        "training.method",
    }
)


def is_data_owned(dotted: str) -> bool:
    """Set on the Data tab (declared on the field: metadata owner "data")."""
    return field_metadata(dotted)["owner"] == "data"


@dataclass(frozen=True)
class WidgetSpec:
    """How one RunConfig field is shown: kind is checkbox, dropdown, slider, number, textbox, lines,
    targets or readonly."""

    name: str
    kind: str
    label: str
    info: str
    choices: tuple = ()
    minimum: float | None = None  # the widget's bounds: a slider's ends; a number box has none in the browser
    maximum: float | None = None
    step: float | None = None
    precision: int | None = None
    essential: bool = False  # shown first; the rest sit under "Advanced settings"

    @property
    def section(self) -> str:
        return self.name.partition(".")[0]


def _type_name(f: dataclasses.Field) -> str:
    return (f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))).replace(" ", "")


def field_kind(dotted: str, f: dataclasses.Field) -> str:
    kind = _type_name(f)
    if dotted == TARGETS:
        return "targets"
    if f.metadata.get("widget") == "run_adapter":
        return "run_adapter"
    if "choices" in f.metadata:
        return "dropdown"
    if kind == "bool":
        return "checkbox"
    if kind in ("int", "float"):
        return "slider" if _slider_step(kind, f) else "number"
    if kind == "str":
        return "textbox"
    if kind.lower() in ("list", "list[str]", "typing.list[str]"):
        return "lines"
    return "readonly"  # dicts and anything else: shown in the YAML, not edited here


def _slider_step(kind: str, f: dataclasses.Field) -> float | None:
    """A slider only where a step fits the whole range and the default: small ints, [0, 1] fractions."""
    lo, hi = f.metadata.get("min"), f.metadata.get("max")
    default: Any = f.default  # a bounded field always has a plain default (config.setting)
    if lo is None or hi is None:
        return None
    if kind == "int":
        return 1 if hi - lo <= 1024 else None
    if hi - lo <= 1 and (default == 0 or default >= 0.01):
        return 0.01
    return None


def widget_spec(dotted: str, f: dataclasses.Field) -> WidgetSpec:
    """Label and help from the catalogue, the allowed range in words. A slider's ends are the largest and
    smallest valid values (an exclusive bound is one step inside), so it cannot hold a value validation refuses;
    a number box gets no bounds in the browser (Gradio would refuse an out-of-range value before any handler
    ran, freezing the form): validation says what is wrong beside it."""
    meta, kind = field_metadata(dotted), field_kind(dotted, f)
    spec = WidgetSpec(
        dotted,
        kind,
        meta["label"],
        with_range(meta["help"], meta),
        tuple(meta.get("choices", ())),
        essential=meta["level"] == "essential",
    )
    if kind == "slider":
        step = _slider_step(_type_name(f), f)
        low = meta["min"] + (step if meta.get("min_exclusive") else 0)
        high = meta["max"] - (step if meta.get("max_exclusive") else 0)
        spec = dataclasses.replace(
            spec, minimum=low, maximum=high, step=step, precision=0 if _type_name(f) == "int" else None
        )
    elif kind == "number":
        is_int = _type_name(f) == "int"
        default = f.default if isinstance(f.default, (int, float)) and f.default > 0 else 1
        step = 1 if is_int else 10 ** math.floor(math.log10(default))
        spec = dataclasses.replace(spec, step=step, precision=0 if is_int else None)
    return spec


def start_choices(run_ids: list[str], current: str) -> list[tuple[str, str]]:
    """lora.start_from's choices: a new adapter on the base, or the adapter of a finished run (a value set
    elsewhere, e.g. a run folder from the command line, stays listed as it is)."""
    choices = [(text("config.start_new"), ""), *((text("config.start_run", run=r), r) for r in run_ids)]
    if current and current not in run_ids:
        choices.append((current, current))
    return choices


def with_range(help_text: str, meta: dict) -> str:
    """The help, then the allowed range in words (for numbers)."""
    if meta.get("min") is None and meta.get("max") is None:
        return help_text
    return text("config.allowed", help=help_text, range=allowed_range(meta))


def widget_specs(include_data_owned: bool = False) -> list[WidgetSpec]:
    """Specs for every field the Config tab edits, in declaration order."""
    specs = []
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            dotted = f"{section}.{f.name}"
            if include_data_owned or not is_data_owned(dotted):
                specs.append(widget_spec(dotted, f))
    return specs


def _get(cfg: RunConfig, dotted: str) -> Any:
    section, _, name = dotted.partition(".")
    return getattr(getattr(cfg, section), name)


def widget_values(cfg: RunConfig) -> dict[str, Any]:
    """Widget name -> value for the editable specs (the targets field fills two widgets)."""
    values: dict[str, Any] = {}
    for spec in widget_specs():
        value = _get(cfg, spec.name)
        if spec.kind == "targets":
            values[TARGETS] = ALL_LINEAR if value == ALL_LINEAR else CHOSEN
            values[TARGET_LAYERS] = [] if isinstance(value, str) else [str(v) for v in value]
        elif spec.kind == "lines":
            values[spec.name] = "\n".join(str(v) for v in value or [])
        elif spec.kind != "readonly":
            values[spec.name] = value
    return values


def _from_widget(spec: WidgetSpec, value: Any, values: dict[str, Any]) -> Any:
    if spec.kind == "targets":
        if value == ALL_LINEAR:
            return ALL_LINEAR
        return list(values.get(TARGET_LAYERS) or [])  # empty stays empty: validate() says what to do
    if spec.kind == "lines":
        return [line.strip() for line in str(value or "").splitlines() if line.strip()]
    if spec.kind in ("textbox", "run_adapter"):
        return "" if value is None else str(value)
    return value


def config_from_values(config_state: dict | None, values: dict[str, Any]) -> dict:
    """The Config tab's state after widget edits: `values` (widget name -> value, any subset) laid over it."""
    base = merge_dict(RunConfig(), config_state or {})
    data: dict[str, dict] = {}
    for spec in widget_specs():
        if spec.name in values:
            section, _, name = spec.name.partition(".")
            data.setdefault(section, {})[name] = _from_widget(spec, values[spec.name], values)
    return merge_dict(base, data).to_dict()


# ---- issues ---------------------------------------------------------------------------------
def issues_by_field(issues: list[ConfigIssue]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for issue in issues:
        grouped.setdefault(issue.field, []).append(issue.message)
    return grouped


def label_of(dotted: str) -> str:
    """A field's label ('Alpha (scaling)'); a name that is not a field (a file-level issue) stays as it is."""
    try:
        return field_label(dotted)
    except KeyError:
        return dotted


def section_issues_md(issues: list[ConfigIssue], section: str) -> str:
    mine = [i for i in issues if i.field.partition(".")[0] == section and not set_on_data_tab(i.field)]
    return "\n".join(text("config.section_issue", label=label_of(i.field), problem=i.message) for i in mine)


def set_on_data_tab(dotted: str) -> bool:
    try:
        return is_data_owned(dotted)
    except (KeyError, ValueError):
        return False


def data_issues_md(issues: list[ConfigIssue]) -> str:
    mine = [i for i in issues if set_on_data_tab(i.field)]
    return "\n".join(text("config.data_issue", label=label_of(i.field), problem=i.message) for i in mine)


def summary_md(issues: list[ConfigIssue]) -> str:
    if not issues:
        return text("config.all_valid")
    labels = ", ".join(dict.fromkeys(label_of(i.field) for i in issues))
    return text("config.blocked", count=len(issues), labels=labels)


def field_info(spec: WidgetSpec, messages: list[str] | None) -> str:
    """Beside the field: what is wrong, naming the field and the allowed range, then its help."""
    if not messages:
        return spec.info
    return text("config.field_problem", label=spec.label, problem="; ".join(messages)) + f" — {spec.info}"


def _yes_no(flag: Any) -> Any:
    """True / False in the page's language (anything else as it is)."""
    if isinstance(flag, bool):
        return text("ui.bool.true") if flag else text("ui.bool.false")
    return flag


def data_owned_md(cfg: RunConfig, has_dataset: bool) -> str:
    d = cfg.data
    path = f"`{d.path}`" if has_dataset else text("config.data_owned.no_file")
    columns = ", ".join(f"{k} ← {v}" for k, v in d.columns.items()) or text("config.data_owned.as_in_file")
    return text(
        "config.data_owned",
        model=cfg.model.name_or_path,
        path=path,
        format=d.format,
        columns=columns,
        max_length=d.max_length,
        eval_fraction=d.eval_fraction,
        assistant_only=_yes_no(d.assistant_only_loss),
        seed=cfg.training.seed,
    )
