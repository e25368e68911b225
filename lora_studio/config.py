"""RunConfig: everything a training run needs, declared once.

Each field carries its bounds, the tab that owns it and its level (essential or advanced) in
`metadata`; its label and help are in the message catalogue under the field's dotted name
(`field_metadata` joins both). Validation, the CLI and the dashboard all read this one declaration.
`validate()` returns every problem at once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from lora_studio.declarations import ConfigIssue, check_value, coerce_value, setting
from lora_studio.errors import ConfigError
from lora_studio.messages import field_help, field_label, text
from lora_studio.settings import EMBEDDED_MODEL_NAME

DTYPES = ("auto", "float32", "bfloat16", "float16")
LORA_INITS = ("default", "gaussian", "olora", "pissa")
LORA_BIASES = ("none", "all", "lora_only")
MUTATING_INITS = ("olora", "pissa")  # inits that rewrite the base weights (the saved adapter is converted back)
MAX_SAMPLE_PROMPTS = 8
MAX_PROMPT_CHARS = 2000  # a sample prompt is a question, not a document: a 1 MB one held a worker at step 0
DATA_FORMATS = ("auto", "messages", "prompt_completion", "text", "preference")
COLUMN_ROLES = ("messages", "prompt", "completion", "text", "chosen", "rejected")  # what data.columns maps a column to
METHODS = ("sft", "dpo", "orpo")  # supervised (TRL's SFTTrainer), DPO (DPOTrainer), ORPO (TRL's experimental ORPO)
PREFERENCE_METHODS = ("dpo", "orpo")  # they train on pairs of answers (data format "preference")
DPO_LOSSES = ("sigmoid", "ipo", "hinge", "robust")  # TRL's DPOConfig.loss_type values a newcomer may want
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")
# Not on/off: YAML 1.1 reads those as booleans when written by hand (--set training.compile=off).
PADDING_FREE = ("auto", "never")
COMPILE = ("auto", "always", "never")
REPORT_TOOLS = ("none", "tensorboard", "trackio", "mlflow", "wandb")  # TRL's report_to; see reporting.py


ESSENTIAL = {"level": "essential"}
DATA_TAB = {"owner": "data"}


@dataclass
class ModelSettings:
    """Which base model to fine-tune and how to load it."""

    name_or_path: str = setting(EMBEDDED_MODEL_NAME, **DATA_TAB)
    dtype: str = setting("auto", choices=DTYPES)
    load_in_8bit: bool = setting(False, **ESSENTIAL)
    load_in_4bit: bool = setting(False, **ESSENTIAL)  # QLoRA: nf4 with double quantization, computing in `dtype`

    @property
    def quantized(self) -> str:
        """ "8-bit", "4-bit" or "" (full precision): how the frozen base is held while training."""
        return "8-bit" if self.load_in_8bit is True else "4-bit" if self.load_in_4bit is True else ""


@dataclass
class LoraSettings:
    """The LoRA adapter: its size, where it attaches and how it starts."""

    r: int = setting(8, min=1, max=1024, **ESSENTIAL)
    alpha: float = setting(16.0, min=0.0, min_exclusive=True, max=4096, **ESSENTIAL)
    dropout: float = setting(0.05, min=0.0, max=1.0, max_exclusive=True, **ESSENTIAL)
    target_modules: Any = setting("all-linear")
    init: str = setting("default", choices=LORA_INITS, **ESSENTIAL)
    use_rslora: bool = setting(False)
    bias: str = setting("none", choices=LORA_BIASES)
    use_dora: bool = setting(False)
    loraplus_lr_ratio: float = setting(0.0, min=0.0, max=1000)  # 0 = off; LoRA+ trains B this many times faster
    # "" = a new adapter on the base; else a run id (or run folder) whose adapter this run trains further
    start_from: str = setting("", widget="run_adapter", **ESSENTIAL)


@dataclass
class DataSettings:
    """The training file and how to read it."""

    path: str = setting("", **DATA_TAB)
    format: str = setting("auto", choices=DATA_FORMATS, **DATA_TAB)
    columns: dict = setting({}, **DATA_TAB)
    eval_fraction: float = setting(0.0, min=0.0, max=0.5, **DATA_TAB)
    max_length: int = setting(512, min=16, max=131072, **DATA_TAB)
    assistant_only_loss: bool = setting(True, **DATA_TAB)


@dataclass
class TrainingSettings:
    """The optimisation loop."""

    method: str = setting("sft", choices=METHODS, **ESSENTIAL)
    num_epochs: float = setting(1.0, min=0.0, min_exclusive=True, max=1000, **ESSENTIAL)
    max_steps: int = setting(0, min=0, max=10_000_000)
    learning_rate: float = setting(2e-4, min=0.0, min_exclusive=True, max=1.0, **ESSENTIAL)
    lr_scheduler: str = setting("linear", choices=SCHEDULERS)
    warmup_ratio: float = setting(0.0, min=0.0, max=0.5)
    batch_size: int = setting(4, min=1, max=4096)
    gradient_accumulation: int = setting(1, min=1, max=4096)
    weight_decay: float = setting(0.0, min=0.0, max=1.0)
    max_grad_norm: float = setting(1.0, min=0.0, max=1000)
    seed: int = setting(42, min=0, max=2**31 - 1, **DATA_TAB)
    gradient_checkpointing: bool = setting(False)
    fast_dropout: bool = setting(True)
    padding_free: str = setting("auto", choices=PADDING_FREE)  # engine/speedups.py decides what auto does
    compile: str = setting("auto", choices=COMPILE)
    logging_steps: int = setting(5, min=1, max=100_000)
    eval_steps: int = setting(50, min=1, max=100_000)
    save_steps: int = setting(100, min=1, max=100_000)
    sample_prompts: list = setting([])
    sample_max_new_tokens: int = setting(48, min=1, max=512)
    sample_every_save: bool = setting(True)
    num_processes: int = setting(1, min=1, max=1024)
    accelerate_config: str = setting("")
    report_to: str = setting("none", choices=REPORT_TOOLS)
    evaluate_at_end: bool = setting(False)  # score base vs adapter on the held-out rows when training completes
    neftune_noise_alpha: float = setting(0.0, min=0.0, max=100)  # 0 = off; supervised training only
    dpo_beta: float = setting(0.1, min=0.0, min_exclusive=True, max=10)
    dpo_loss: str = setting("sigmoid", choices=DPO_LOSSES)
    orpo_lambda: float = setting(0.1, min=0.0, min_exclusive=True, max=10)
    max_prompt_length: int = setting(0, min=0, max=131072)  # preference methods: 0 = no limit of its own


SECTIONS: dict[str, type] = {
    "model": ModelSettings,
    "lora": LoraSettings,
    "data": DataSettings,
    "training": TrainingSettings,
}


@dataclass
class RunConfig:
    """A complete, frozen description of one training run."""

    model: ModelSettings = field(default_factory=ModelSettings)
    lora: LoraSettings = field(default_factory=LoraSettings)
    data: DataSettings = field(default_factory=DataSettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)

    # ---- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict | None, warnings: list[str] | None = None) -> RunConfig:
        """Build from a (possibly partial) dict; unknown keys are reported in `warnings`."""
        return merge_dict(cls(), data or {}, warnings)

    @classmethod
    def from_yaml(cls, content: str, warnings: list[str] | None = None) -> RunConfig:
        try:
            data = yaml.safe_load(content)
        except (yaml.YAMLError, ValueError, RecursionError) as exc:  # ValueError: e.g. a date like 2001-13-01
            raise ConfigError(text("check.yaml_invalid", reason=exc), text("check.yaml_invalid_hint")) from exc
        if data is not None and not isinstance(data, dict):
            raise ConfigError(text("check.yaml_not_mapping"), text("check.yaml_not_mapping_hint"))
        return cls.from_dict(data, warnings)

    @classmethod
    def load(cls, path: str | Path, warnings: list[str] | None = None) -> RunConfig:
        try:
            content = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                text("check.config_not_utf8", name=Path(path).name, reason=exc.reason, byte=exc.start),
                text("check.config_not_utf8_hint"),
            ) from exc
        return cls.from_yaml(content, warnings)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_yaml(), encoding="utf-8")

    # ---- validation ----------------------------------------------------------------------
    def validate(self) -> list[ConfigIssue]:
        """Every problem at once, each naming its field and what to do."""
        issues: list[ConfigIssue] = []
        for section_name in SECTIONS:
            section = getattr(self, section_name)
            for f in fields(section):
                problem = check_value(f, getattr(section, f.name))
                if problem:
                    issues.append(ConfigIssue(f"{section_name}.{f.name}", problem))
        from lora_studio.config_checks import cross_field_issues  # the checks import this module's names

        issues.extend(cross_field_issues(self))
        return issues


def merge_dict(cfg: RunConfig, data: dict, warnings: list[str] | None = None) -> RunConfig:
    """Return a copy of `cfg` with the sections in `data` laid over it."""
    out = dataclasses.replace(cfg, **{name: dataclasses.replace(getattr(cfg, name)) for name in SECTIONS})
    unknown: list[str] = []
    for section_name, values in data.items():
        if section_name not in SECTIONS:
            unknown.append(str(section_name))
            continue
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(
                text("check.section_not_mapping", section=section_name, kind=type(values).__name__),
                text("check.section_not_mapping_hint", section=section_name),
            )
        section = getattr(out, section_name)
        by_name = {f.name: f for f in fields(section)}
        for key, value in values.items():
            if key in by_name:
                setattr(section, key, coerce_value(by_name[key], value))
            else:
                unknown.append(f"{section_name}.{key}")
    if unknown and warnings is not None:
        warnings.append(text("check.unknown_keys", keys=", ".join(unknown)))
    return out


def apply_overrides(cfg: RunConfig, overrides: list[str]) -> RunConfig:
    """Apply 'section.key=value' strings (values parsed as YAML: 16, 0.1, true, [q_proj, v_proj])."""
    data: dict[str, dict] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise ConfigError(text("check.bad_override", item=item), text("check.bad_override_hint"))
        if section not in SECTIONS or name not in {f.name for f in fields(SECTIONS[section])}:
            raise ConfigError(
                text("check.no_setting", key=key), text("check.no_setting_hint", names=", ".join(field_names()))
            )
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except (yaml.YAMLError, ValueError, RecursionError):
            value = raw
        data.setdefault(section, {})[name] = value
    return merge_dict(cfg, data)


def field_names() -> list[str]:
    return [f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in fields(cls)]


def field_metadata(dotted: str) -> dict:
    """A field's declaration: bounds, choices, owner and level, with its label and help from the catalogue."""
    section, _, name = dotted.partition(".")
    for f in fields(SECTIONS[section]):
        if f.name == name:
            return {**f.metadata, "label": field_label(dotted), "help": field_help(dotted)}
    raise KeyError(dotted)
