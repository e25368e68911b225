"""RunConfig: everything a training run needs, declared once.

Each field carries its help text and bounds in `metadata`, so validation, the CLI and the
Config tab all read the same declaration. `validate()` returns every problem at once.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from lora_studio.errors import ConfigError
from lora_studio.settings import EMBEDDED_MODEL_NAME, local_devices

DTYPES = ("auto", "float32", "bfloat16", "float16")
LORA_INITS = ("default", "gaussian", "olora", "pissa")
LORA_BIASES = ("none", "all", "lora_only")
MAX_SAMPLE_PROMPTS = 8
MAX_PROMPT_CHARS = 2000  # a sample prompt is a question, not a document: a 1 MB one held a worker at step 0
DATA_FORMATS = ("auto", "messages", "prompt_completion", "text")
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")


def _field(default: Any, help: str, **bounds: Any) -> Any:
    """A dataclass field with help text and bounds (min, max, max_exclusive, choices)."""
    meta = {"help": help, **bounds}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class ModelSettings:
    """Which base model to fine-tune and how to load it."""

    name_or_path: str = _field(
        EMBEDDED_MODEL_NAME,
        "Base model: the embedded SmolLM2, a Hugging Face Hub id (owner/name) or a local folder.",
    )
    dtype: str = _field(
        "auto",
        "Weight precision. auto = bfloat16 on GPUs that support it, float32 on CPU.",
        choices=DTYPES,
    )
    load_in_8bit: bool = _field(
        False, "Load the frozen base in 8-bit (bitsandbytes) to cut its memory by about half."
    )


@dataclass
class LoraSettings:
    """The LoRA adapter: its size, where it attaches and how it starts."""

    r: int = _field(8, "Rank of the adapter matrices: higher learns more, costs more.", min=1, max=1024)
    alpha: float = _field(16.0, "Scaling numerator: the update is scaled by alpha / r.",
                          min=0.0, min_exclusive=True, max=4096)
    dropout: float = _field(0.05, "Dropout on the adapter input during training.", min=0.0, max=1.0, max_exclusive=True)
    target_modules: Any = _field(
        "all-linear",
        "Layers that get an adapter: 'all-linear', or a list of module names such as q_proj, v_proj.",
    )
    init: str = _field(
        "default",
        "Adapter initialisation. olora and pissa start from a factorisation of the base weights.",
        choices=LORA_INITS,
    )
    use_rslora: bool = _field(False, "Rank-stabilised LoRA: scale by alpha / sqrt(r) instead of alpha / r.")
    bias: str = _field("none", "Which biases are trained along with the adapter.", choices=LORA_BIASES)


@dataclass
class DataSettings:
    """The training file and how to read it."""

    path: str = _field("", "Training data file (JSONL with messages, prompt/completion or text rows).")
    format: str = _field("auto", "Row format; auto detects it from the columns.", choices=DATA_FORMATS)
    columns: dict = _field({}, "Column mapping, e.g. {messages: conversations} or {prompt: question_text}.")
    eval_fraction: float = _field(0.0, "Share of rows held out for evaluation (0 = none).", min=0.0, max=0.5)
    max_length: int = _field(512, "Longest sequence in tokens; longer rows are truncated.", min=16, max=131072)
    assistant_only_loss: bool = _field(
        True, "Chat data: learn only from assistant replies, not from the user's turns."
    )


@dataclass
class TrainingSettings:
    """The optimisation loop."""

    num_epochs: float = _field(1.0, "Passes over the training data (ignored when max_steps > 0).",
                               min=0.0, min_exclusive=True, max=1000)
    max_steps: int = _field(0, "Stop after this many optimizer steps (0 = use epochs).", min=0, max=10_000_000)
    learning_rate: float = _field(2e-4, "Peak learning rate of the adapter.",
                                  min=0.0, min_exclusive=True, max=1.0)
    lr_scheduler: str = _field("linear", "How the learning rate changes after warmup.", choices=SCHEDULERS)
    warmup_ratio: float = _field(0.0, "Share of steps spent warming the learning rate up.", min=0.0, max=0.5)
    batch_size: int = _field(4, "Rows per device per step.", min=1, max=4096)
    gradient_accumulation: int = _field(1, "Steps whose gradients add up before one optimizer update.", min=1, max=4096)
    weight_decay: float = _field(0.0, "L2 penalty on the adapter weights.", min=0.0, max=1.0)
    max_grad_norm: float = _field(1.0, "Gradient clipping norm (0 = no clipping).", min=0.0, max=1000)
    seed: int = _field(42, "Random seed for initialisation, shuffling and the eval split.", min=0, max=2**31 - 1)
    gradient_checkpointing: bool = _field(False, "Recompute activations in the backward pass: less memory, slower.")
    fast_dropout: bool = _field(
        True, "On a CPU, draw the adapter dropout's random masks from 16-bit integers, four per draw: the same "
        "dropout (rate within 1e-5) in about half the time. GPUs are not affected.")
    logging_steps: int = _field(5, "Write a metrics row every this many steps.", min=1, max=100_000)
    eval_steps: int = _field(50, "Evaluate every this many steps (when eval_fraction > 0).", min=1, max=100_000)
    save_steps: int = _field(100, "Save a resumable checkpoint every this many steps.", min=1, max=100_000)
    sample_prompts: list = _field(
        [], "Prompts the model answers at every checkpoint, to watch its replies change "
        "(empty = take 2 prompts from the data, held-out rows first).")
    sample_max_new_tokens: int = _field(48, "Longest sample answer in tokens.", min=1, max=512)
    sample_every_save: bool = _field(
        True, "Generate the sample answers at every checkpoint and at the end (and once before training).")
    num_processes: int = _field(
        1, "Processes to train with (one per GPU); above 1 the run goes through accelerate launch (DDP), "
        "each process taking batch_size rows per step.", min=1, max=1024)
    accelerate_config: str = _field(
        "", "An accelerate config YAML (from `accelerate config`) for FSDP or DeepSpeed; empty = plain DDP. "
        "Used with accelerate launch, also for one process.")


SECTIONS: dict[str, type] = {
    "model": ModelSettings,
    "lora": LoraSettings,
    "data": DataSettings,
    "training": TrainingSettings,
}


@dataclass
class ConfigIssue:
    """One problem with a config: the dotted field name and what to do."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


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
    def from_yaml(cls, text: str, warnings: list[str] | None = None) -> RunConfig:
        try:
            data = yaml.safe_load(text)
        except (yaml.YAMLError, ValueError, RecursionError) as exc:  # ValueError: e.g. a date like 2001-13-01
            raise ConfigError(f"The config is not valid YAML ({exc})", "Fix the YAML syntax") from exc
        if data is not None and not isinstance(data, dict):
            raise ConfigError("The config YAML must be a mapping of sections", "Start it with 'model:' or 'lora:'")
        return cls.from_dict(data, warnings)

    @classmethod
    def load(cls, path: str | Path, warnings: list[str] | None = None) -> RunConfig:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{Path(path).name} is not UTF-8 text ({exc.reason} at byte {exc.start})",
                              "Save the config as UTF-8 YAML") from exc
        return cls.from_yaml(text, warnings)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_yaml(), encoding="utf-8")

    # ---- validation ----------------------------------------------------------------------
    def validate(self) -> list[ConfigIssue]:
        """Every problem at once, each naming its field and what to do."""
        issues: list[ConfigIssue] = []
        for section_name in SECTIONS:
            section = getattr(self, section_name)
            for f in fields(section):
                problem = _check_field(f, getattr(section, f.name))
                if problem:
                    issues.append(ConfigIssue(f"{section_name}.{f.name}", problem))
        issues.extend(_cross_field_issues(self))
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
            raise ConfigError(f"Section '{section_name}' must be a mapping, got {type(values).__name__}",
                              f"Write it as '{section_name}:' followed by indented keys")
        section = getattr(out, section_name)
        by_name = {f.name: f for f in fields(section)}
        for key, value in values.items():
            if key in by_name:
                setattr(section, key, _coerce(by_name[key], value))
            else:
                unknown.append(f"{section_name}.{key}")
    if unknown and warnings is not None:
        warnings.append(f"Unknown config keys ignored: {', '.join(unknown)}")
    return out


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    """Numbers written as text (YAML 1.1 reads 3e-4 as a string) become numbers; the rest is left
    for validate() to report."""
    kind = _type_name(f)
    if kind in ("int", "float") and isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return value
        value = number
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # too big for a float: validate() reports it against the bounds
            return value
    return value


def apply_overrides(cfg: RunConfig, overrides: list[str]) -> RunConfig:
    """Apply 'section.key=value' strings (values parsed as YAML: 16, 0.1, true, [q_proj, v_proj])."""
    data: dict[str, dict] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise ConfigError(f"Cannot read the setting '{item}'", "Write it as section.key=value, e.g. lora.r=16")
        if section not in SECTIONS or name not in {f.name for f in fields(SECTIONS[section])}:
            raise ConfigError(f"There is no setting '{key}'", f"Known settings: {', '.join(field_names())}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except (yaml.YAMLError, ValueError, RecursionError):
            value = raw
        data.setdefault(section, {})[name] = value
    return merge_dict(cfg, data)


def field_names() -> list[str]:
    return [f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in fields(cls)]


def field_metadata(dotted: str) -> dict:
    section, _, name = dotted.partition(".")
    for f in fields(SECTIONS[section]):
        if f.name == name:
            return dict(f.metadata)
    raise KeyError(dotted)


def _type_name(f: dataclasses.Field) -> str:
    return f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))


def _check_field(f: dataclasses.Field, value: Any) -> str | None:
    meta, kind = f.metadata, _type_name(f)
    if kind == "bool":
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    if kind in ("int", "float"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # NaN is not
        if kind == "int":
            ok = ok and (isinstance(value, int) or value.is_integer())  # float(int) overflows past 1e308
        if not ok:
            return f"must be {'a whole number' if kind == 'int' else 'a number'}, got {value!r}"
        return _check_bounds(value, meta)
    if "choices" in meta and value not in meta["choices"]:
        return f"must be one of {', '.join(meta['choices'])}, got {value!r}"
    if kind == "str" and not isinstance(value, str):
        return f"must be text, got {value!r}"
    if kind == "dict" and not isinstance(value, dict):
        return f"must be a mapping like {{prompt: question}}, got {value!r}"
    if kind == "list" and not isinstance(value, list):
        return f"must be a list like ['first?', 'second'] (quote each item), got {value!r}"
    return None


def _check_bounds(value: float, meta: dict) -> str | None:
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and (value < lo or (meta.get("min_exclusive") and value <= lo)):
        return f"must be {'greater than' if meta.get('min_exclusive') else 'at least'} {lo}, got {value}"
    if hi is not None and (value > hi or (meta.get("max_exclusive") and value >= hi)):
        return f"must be {'less than' if meta.get('max_exclusive') else 'at most'} {hi}, got {value}"
    return None


def _cross_field_issues(cfg: RunConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    targets = cfg.lora.target_modules
    if isinstance(targets, str):
        if not targets.strip():
            issues.append(ConfigIssue("lora.target_modules", "is empty: use 'all-linear' or list module names"))
    elif not (isinstance(targets, list) and targets and all(isinstance(t, str) and t for t in targets)):
        issues.append(ConfigIssue("lora.target_modules", "must be 'all-linear' or a non-empty list of module names"))
    if cfg.model.load_in_8bit and importlib.util.find_spec("bitsandbytes") is None:
        issues.append(ConfigIssue("model.load_in_8bit",
                                  "needs the bitsandbytes package: install it or turn 8-bit off"))
    if cfg.model.load_in_8bit and cfg.model.dtype == "bfloat16":
        issues.append(ConfigIssue("model.dtype", "8-bit loading computes in float16/float32: use auto or float32"))
    if cfg.model.load_in_8bit and cfg.lora.init == "pissa":
        # peft's pissa_init refuses quantized weights; its olora_init dequantizes and re-quantizes.
        issues.append(ConfigIssue("lora.init", "pissa cannot start from an 8-bit base (peft needs full-precision "
                                  "weights): use olora, which peft supports with 8-bit, or turn 8-bit off"))
    if not str(cfg.model.name_or_path).strip():
        issues.append(ConfigIssue("model.name_or_path", "is empty: pick the embedded model, a hub id or a folder"))
    if isinstance(cfg.data.columns, dict):
        bad = [k for k, v in cfg.data.columns.items() if not isinstance(v, str) or not v]
        if bad:
            issues.append(ConfigIssue("data.columns", f"maps {', '.join(map(str, bad))} to nothing: name a column"))
    issues.extend(_prompt_issues(cfg.training.sample_prompts))
    issues.extend(machine_issues(cfg))
    return issues


def _prompt_issues(prompts: Any) -> list[ConfigIssue]:
    if not isinstance(prompts, list):
        return []
    if not all(isinstance(p, str) and p.strip() for p in prompts):
        return [ConfigIssue("training.sample_prompts", "holds an empty or non-text prompt: write each "
                            "prompt as text, or leave the list empty to take prompts from the data")]
    if len(prompts) > MAX_SAMPLE_PROMPTS:
        return [ConfigIssue("training.sample_prompts", f"lists {len(prompts)} prompts: at most {MAX_SAMPLE_PROMPTS} "
                            "(each is answered at every checkpoint)")]
    longest = max((len(p) for p in prompts), default=0)
    if longest > MAX_PROMPT_CHARS:
        return [ConfigIssue("training.sample_prompts", f"holds a prompt of {longest:,} characters: at most "
                            f"{MAX_PROMPT_CHARS:,} each; write a short question")]
    return []


def machine_issues(cfg: RunConfig) -> list[ConfigIssue]:
    """What this machine cannot do: more training processes than it has GPUs (or CPU cores without one). With an
    accelerate config the processes may span several machines, so that file decides."""
    count = cfg.training.num_processes
    if cfg.training.accelerate_config or not isinstance(count, int) or isinstance(count, bool) or count <= 1:
        return []
    kind, available = local_devices()
    if count <= available:
        return []
    return [ConfigIssue("training.num_processes", f"is {count}, but this machine has {available} {kind}(s): at most "
                        f"{available} here (one process per {kind}); for several machines, set an accelerate config")]


def require_valid(cfg: RunConfig) -> None:
    """Raise one ConfigError listing every problem, for callers that cannot show a list."""
    issues = cfg.validate()
    if issues:
        raise ConfigError("Invalid settings: " + "; ".join(map(str, issues)),
                          "Change the settings named above and try again")
