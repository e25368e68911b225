"""What the Config tab shows, as plain values: no gradio, no torch, testable directly.

Widgets are generated from the RunConfig dataclass fields and their metadata (one declaration per
field); values come back into a RunConfig; issues are grouped by field; the pre-flight panel's
memory, step and time estimates are computed here from numbers the engine found (`ModelFacts`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from lora_studio.calibration import Calibration
from lora_studio.config import SECTIONS, ConfigIssue, RunConfig, merge_dict
from lora_studio.data import load_dataset_file, split_indices
from lora_studio.errors import StudioError
from lora_studio.settings import EMBEDDED_MODEL_NAME
from lora_studio.ui.data_view import Selection

if TYPE_CHECKING:  # the engine imports torch; the UI only reads the numbers
    from lora_studio.engine.preflight import ModelFacts

TARGETS = "lora.target_modules"
TARGET_LAYERS = "lora.target_modules:layers"  # the checklist beside the all-linear / chosen-layers switch
ALL_LINEAR = "all-linear"
CHOSEN = "chosen layers"
# Data tab widget name -> the RunConfig field it sets (the Data tab owns these, plus every data.* field).
DATA_CONTROLS = {"model": "model.name_or_path", "max_length": "data.max_length",
                 "assistant_only": "data.assistant_only_loss", "eval_fraction": "data.eval_fraction",
                 "seed": "training.seed"}
# Activation memory per token per layer, in hidden-size units: ~16 saved tensors of the hidden width in a
# transformer block (attention inputs/outputs, MLP with its 4x intermediate, norms); with gradient
# checkpointing only the layer input stays, plus one layer recomputed at a time.
ACTIVATION_FACTOR = 16
CHECKPOINTED_FACTOR = 2
CHARS_PER_TOKEN = 4  # for the rough speed estimate only
# Fields the pre-flight numbers are computed from: while one of them is invalid, the panel waits.
PREFLIGHT_INPUTS = frozenset({
    "model.name_or_path", "model.dtype", "model.load_in_8bit", "lora.r", "lora.target_modules", "lora.bias",
    "data.max_length", "data.eval_fraction", "training.seed", "training.batch_size", "training.gradient_accumulation",
    "training.num_epochs", "training.max_steps", "training.gradient_checkpointing"})


def is_data_owned(dotted: str) -> bool:
    return dotted.startswith("data.") or dotted in ("model.name_or_path", "training.seed")


@dataclass(frozen=True)
class WidgetSpec:
    """How one RunConfig field is shown: kind is checkbox, dropdown, slider, number, textbox, lines,
    targets or readonly."""

    name: str
    kind: str
    label: str
    info: str
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    precision: int | None = None

    @property
    def section(self) -> str:
        return self.name.partition(".")[0]


def label_for(name: str) -> str:
    return name if len(name) <= 2 else name[0].upper() + name[1:].replace("_", " ")


def _type_name(f: dataclasses.Field) -> str:
    return (f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))).replace(" ", "")


def field_kind(dotted: str, f: dataclasses.Field) -> str:
    kind = _type_name(f)
    if dotted == TARGETS:
        return "targets"
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
    lo, hi, default = f.metadata.get("min"), f.metadata.get("max"), f.default
    if lo is None or hi is None:
        return None
    if kind == "int":
        return 1 if hi - lo <= 1024 else None
    if hi - lo <= 1 and (default == 0 or default >= 0.01):
        return 0.01
    return None


def widget_spec(dotted: str, f: dataclasses.Field) -> WidgetSpec:
    meta, kind = f.metadata, field_kind(dotted, f)
    spec = WidgetSpec(dotted, kind, label_for(f.name), meta.get("help", ""), tuple(meta.get("choices", ())))
    if kind == "slider":
        spec = dataclasses.replace(spec, minimum=meta["min"], maximum=meta["max"],
                                   step=_slider_step(_type_name(f), f), precision=0 if _type_name(f) == "int" else None)
    elif kind == "number":
        is_int = _type_name(f) == "int"
        default = f.default if isinstance(f.default, (int, float)) and f.default > 0 else 1
        step = 1 if is_int else 10 ** math.floor(math.log10(default))
        spec = dataclasses.replace(spec, minimum=meta.get("min"), maximum=meta.get("max"), step=step,
                                   precision=0 if is_int else None)
    return spec


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
    if spec.kind == "textbox":
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


def effective_config(data_state: dict | None, config_state: dict | None) -> RunConfig:
    """The config the Train tab starts: the Config tab's settings, then the Data tab's selection over them."""
    cfg = merge_dict(RunConfig(), config_state or {})
    if data_state:
        return Selection(**data_state).run_config(cfg)
    cfg.data.path = ""  # no dataset chosen yet
    return cfg


def data_owned_values(cfg: RunConfig, only: set[str] | None = None) -> dict[str, Any]:
    """Data tab widget name -> value from `cfg` (only the dotted fields in `only`, when given)."""
    return {control: _get(cfg, dotted) for control, dotted in DATA_CONTROLS.items() if only is None or dotted in only}


def with_data_controls(config_state: dict | None, controls: dict[str, Any]) -> dict:
    """Mirror the Data tab's widgets into the state, so settings hold even before a file is chosen."""
    data: dict[str, dict] = {}
    for control, value in controls.items():
        if control in DATA_CONTROLS:
            section, _, name = DATA_CONTROLS[control].partition(".")
            if control == "model":  # an empty box means the embedded model, as on the Data tab
                value = (value or "").strip() or EMBEDDED_MODEL_NAME
            data.setdefault(section, {})[name] = value
    return merge_dict(merge_dict(RunConfig(), config_state or {}), data).to_dict()


def run_selection(cfg: RunConfig) -> tuple[Selection | None, str]:
    """A past run's dataset as a Data tab selection (None when its file is gone), and a note saying which."""
    d = cfg.data
    if not d.path:
        return None, "(it had no data file)"
    if not os.path.isfile(d.path):
        return None, (f"— its data file `{d.path}` no longer exists: upload it again on the Data tab "
                      "(the file shown there now stays selected)")
    sel = Selection(path=d.path, format=d.format, columns=dict(d.columns), eval_fraction=d.eval_fraction,
                    seed=cfg.training.seed, max_length=d.max_length, assistant_only_loss=d.assistant_only_loss,
                    model=cfg.model.name_or_path)
    return sel, f"and its data file **{os.path.basename(d.path)}**"


# ---- issues ---------------------------------------------------------------------------------
def issues_by_field(issues: list[ConfigIssue]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for issue in issues:
        grouped.setdefault(issue.field, []).append(issue.message)
    return grouped


def section_issues_md(issues: list[ConfigIssue], section: str) -> str:
    mine = [i for i in issues if i.field.partition(".")[0] == section and not is_data_owned(i.field)]
    return "\n".join(f"- ⚠️ **{i.field}**: {i.message}" for i in mine)


def data_issues_md(issues: list[ConfigIssue]) -> str:
    mine = [i for i in issues if is_data_owned(i.field)]
    return "\n".join(f"- ⚠️ **{i.field}**: {i.message} (change it on the Data tab)" for i in mine)


def summary_md(issues: list[ConfigIssue]) -> str:
    if not issues:
        return "✅ **All settings are valid.** The Train tab will run the config shown at the bottom."
    fields_text = ", ".join(dict.fromkeys(i.field for i in issues))
    return (f"⛔ **{len(issues)} problem(s) block training:** {fields_text}. Each is explained beside its "
            "setting below.")


def field_info(spec: WidgetSpec, messages: list[str] | None) -> str:
    return f"⚠️ {'; '.join(messages)} — {spec.info}" if messages else spec.info


def data_owned_md(cfg: RunConfig, has_dataset: bool) -> str:
    d = cfg.data
    path = f"`{d.path}`" if has_dataset else "*none yet: upload or pick one on the Data tab*"
    columns = ", ".join(f"{k} ← {v}" for k, v in d.columns.items()) or "as in the file"
    return ("**Set on the Data tab** (read-only here)\n\n"
            f"| setting | value |\n|---|---|\n| model | {cfg.model.name_or_path} |\n| data file | {path} |\n"
            f"| format | {d.format} (columns: {columns}) |\n| max length | {d.max_length} tokens |\n"
            f"| held out for evaluation | {d.eval_fraction:g} |\n| assistant replies only | {d.assistant_only_loss} |\n"
            f"| split seed | {cfg.training.seed} |")


# ---- pre-flight -----------------------------------------------------------------------------
@dataclass
class RowCount:
    train_rows: int
    mean_tokens: float  # rough: characters / CHARS_PER_TOKEN, capped at max_length


@lru_cache(maxsize=8)
def _count(path: str, stamp: tuple, fmt: str, columns: str, eval_fraction: float, seed: int,
           max_length: int) -> RowCount:
    data = load_dataset_file(path, fmt, json.loads(columns))
    train_idx, _ = split_indices(len(data.rows), eval_fraction, seed)
    # The row as JSON: its keys and quotes stand in for the chat template's own tokens.
    lengths = [min(len(json.dumps(data.rows[i], ensure_ascii=False)) / CHARS_PER_TOKEN, max_length) for i in train_idx]
    return RowCount(len(train_idx), sum(lengths) / len(lengths) if lengths else 0.0)


def count_train_rows(cfg: RunConfig) -> RowCount | None:
    """Training rows after the eval split (as the Data tab and training split them); None without data."""
    d = cfg.data
    if not d.path:
        return None
    try:
        st = os.stat(d.path)
        return _count(d.path, (st.st_mtime_ns, st.st_size), d.format, json.dumps(d.columns, sort_keys=True),
                      float(d.eval_fraction), int(cfg.training.seed), int(d.max_length))
    except (OSError, StudioError, TypeError, ValueError):
        return None  # the Data tab explains a file that cannot be read


def optimizer_steps(train_rows: int, cfg: RunConfig) -> int:
    """Total optimizer steps, computed the way transformers' Trainer does."""
    t = cfg.training
    if t.max_steps > 0:
        return int(t.max_steps)
    if train_rows <= 0:
        return 0
    # Each of the processes takes its own share of the rows (DDP's distributed sampler).
    batches = math.ceil(math.ceil(train_rows / max(int(t.num_processes), 1)) / t.batch_size)
    per_epoch = max(math.ceil(batches / t.gradient_accumulation), 1)
    return math.ceil(t.num_epochs * per_epoch)


@dataclass
class MemoryEstimate:
    weights: int
    optimizer: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.optimizer + self.activations


def estimate_memory(cfg: RunConfig, facts: ModelFacts) -> MemoryEstimate:
    """Bytes: frozen weights (8-bit linear weights take 1 byte) + fp32 adapter, AdamW, activations + logits."""
    if cfg.model.load_in_8bit:
        base = facts.quantizable_params + (facts.base_params - facts.quantizable_params) * facts.dtype_bytes
    else:
        base = facts.base_params * facts.dtype_bytes
    weights = base + facts.trainable_params * 4
    optimizer = facts.trainable_params * (2 * 4 + 4)  # two fp32 AdamW states + an fp32 gradient
    tokens = cfg.training.batch_size * cfg.data.max_length
    factor = CHECKPOINTED_FACTOR if cfg.training.gradient_checkpointing else ACTIVATION_FACTOR
    hidden = tokens * facts.hidden_size * facts.num_layers * factor * facts.dtype_bytes
    logits = tokens * facts.vocab_size * 4 * 2  # fp32 logits and their gradient
    return MemoryEstimate(int(weights), int(optimizer), int(hidden + logits))


def rough_sec_per_step(cfg: RunConfig, facts: ModelFacts, mean_tokens: float | None) -> float:
    """(4 + 2 with checkpointing) x parameters x tokens per optimizer step, at the device's assumed FLOP/s."""
    per_row = mean_tokens if mean_tokens else cfg.data.max_length
    tokens = cfg.training.batch_size * cfg.training.gradient_accumulation * per_row
    passes = 6 if cfg.training.gradient_checkpointing else 4
    return passes * facts.all_params * tokens / facts.assumed_flops


def format_bytes(n: float) -> str:
    power = min(int(math.log(max(n, 1), 1024)), 3)
    return f"{n:,.0f} B" if power == 0 else f"{n / 1024 ** power:,.1f} {('KB', 'MB', 'GB')[power - 1]}"


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def _steps_md(cfg: RunConfig, rows: RowCount | None) -> tuple[str, int | None]:
    t = cfg.training
    if t.max_steps > 0:
        return f"**{t.max_steps:,} optimizer steps** (max_steps; epochs ignored)", int(t.max_steps)
    if rows is None:
        return "Steps: choose a dataset on the Data tab to count them.", None
    steps = optimizer_steps(rows.train_rows, cfg)
    processes = max(int(t.num_processes), 1)
    batches = math.ceil(math.ceil(rows.train_rows / processes) / t.batch_size)
    share = f" ÷ {processes} processes" if processes > 1 else ""
    return (f"**{steps:,} optimizer steps**: {rows.train_rows:,} training rows{share} ÷ batch {t.batch_size} = "
            f"{batches:,} batches, ÷ accumulation {t.gradient_accumulation} per step, "
            f"× {t.num_epochs:g} epoch(s)"), steps


def eta_md(cfg: RunConfig, facts: ModelFacts, steps: int | None, rows: RowCount | None,
           calibration: Calibration | None) -> str:
    if steps is None:
        return "**ETA:** needs the step count (choose a dataset)."
    extra = " Evaluation passes add to this." if cfg.data.eval_fraction > 0 else ""
    if calibration is not None:
        return (f"**ETA ~ {format_duration(steps * calibration.sec_per_step)}** (measured on {calibration.date}: "
                f"{calibration.sec_per_step:.2f} s/step, {calibration.tokens_per_sec:,.0f} tokens/s).{extra}")
    rough = rough_sec_per_step(cfg, facts, rows.mean_tokens if rows else None)
    return (f"**ETA ~ {format_duration(steps * rough)} — rough, not measured** (~{rough:.2f} s/step from the model "
            f"size, ~{CHARS_PER_TOKEN} characters per token and an assumed {facts.assumed_flops / 1e9:,.0f} GFLOP/s "
            f"on {facts.device}). Press **Measure speed** for a real figure.{extra}")


def preflight_md(cfg: RunConfig, facts: ModelFacts | None, rows: RowCount | None,
                 calibration: Calibration | None) -> str:
    if facts is None:
        return "Pre-flight needs valid model and adapter settings: fix the problems listed above."
    share = 100 * facts.trainable_params / max(facts.all_params, 1)
    mem = estimate_memory(cfg, facts)
    factor = CHECKPOINTED_FACTOR if cfg.training.gradient_checkpointing else ACTIVATION_FACTOR
    weights_note = "linear layers in 8-bit, the rest" if cfg.model.load_in_8bit else "all"
    available = (f" of {format_bytes(facts.device_memory)} {'GPU memory' if facts.device != 'cpu' else 'RAM'}"
                 if facts.device_memory else "")
    warn = ("\n\n⚠️ The estimate is above this machine's memory: lower batch size or max length, turn on "
            "gradient checkpointing, or load in 8-bit." if facts.device_memory and mem.total > facts.device_memory
            else "")
    steps_text, steps = _steps_md(cfg, rows)
    return (
        f"**Trainable parameters** (as peft prints them): `trainable params: {facts.trainable_params:,} || all params: "
        f"{facts.all_params:,} || trainable%: {share:.4f}`\n\n"
        f"**Estimated memory on {facts.device}**\n\n| part | estimate |\n|---|---|\n"
        f"| weights ({weights_note} at {facts.dtype_bytes} bytes; adapter in fp32) | {format_bytes(mem.weights)} |\n"
        f"| optimizer (AdamW: 2 fp32 states + fp32 gradient per trainable parameter) | "
        f"{format_bytes(mem.optimizer)} |\n"
        f"| activations (batch {cfg.training.batch_size} × {cfg.data.max_length} tokens × hidden {facts.hidden_size} × "
        f"{facts.num_layers} layers × {factor} values{' (checkpointed)' if factor == CHECKPOINTED_FACTOR else ''}, "
        f"plus fp32 logits) | {format_bytes(mem.activations)} |\n"
        f"| **total** | **{format_bytes(mem.total)}**{available} |{warn}\n\n"
        f"{steps_text}\n\n{eta_md(cfg, facts, steps, rows, calibration)}"
    )
