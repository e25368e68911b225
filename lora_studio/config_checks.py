"""The checks of a RunConfig that span several settings (or the machine, or the data's format): each problem names
the field to change and what to do. `RunConfig.validate()` runs them after each field's own bounds."""

from __future__ import annotations

import importlib.util
from typing import Any

from lora_studio.config import (
    MAX_PROMPT_CHARS,
    MAX_SAMPLE_PROMPTS,
    MUTATING_INITS,
    PREFERENCE_METHODS,
    RunConfig,
)
from lora_studio.declarations import ConfigIssue
from lora_studio.errors import ConfigError
from lora_studio.messages import text
from lora_studio.settings import local_devices


def cross_field_issues(cfg: RunConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    targets = cfg.lora.target_modules
    if isinstance(targets, str):
        if not targets.strip():
            issues.append(ConfigIssue("lora.target_modules", text("check.targets_empty")))
    elif not (isinstance(targets, list) and targets and all(isinstance(t, str) and t for t in targets)):
        issues.append(ConfigIssue("lora.target_modules", text("check.targets_invalid")))
    issues.extend(_quantization_issues(cfg))
    issues.extend(_method_issues(cfg))
    if not str(cfg.model.name_or_path).strip():
        issues.append(ConfigIssue("model.name_or_path", text("check.model_empty")))
    if isinstance(cfg.data.columns, dict):
        bad = [k for k, v in cfg.data.columns.items() if not isinstance(v, str) or not v]
        if bad:
            issues.append(ConfigIssue("data.columns", text("check.columns_unmapped", roles=", ".join(map(str, bad)))))
    issues.extend(_prompt_issues(cfg.training.sample_prompts))
    issues.extend(machine_issues(cfg))
    return issues


def _quantization_issues(cfg: RunConfig) -> list[ConfigIssue]:
    model, issues = cfg.model, []
    if model.load_in_8bit is True and model.load_in_4bit is True:
        issues.append(ConfigIssue("model.load_in_4bit", text("check.both_quantized")))
    quantized = model.quantized
    if quantized and importlib.util.find_spec("bitsandbytes") is None:
        field_name = "model.load_in_8bit" if quantized == "8-bit" else "model.load_in_4bit"
        bits = text("check.quantized_8bit") if quantized == "8-bit" else text("check.quantized_4bit")
        issues.append(ConfigIssue(field_name, text("check.needs_bitsandbytes", bits=bits)))
    if quantized == "8-bit" and model.dtype == "bfloat16":
        issues.append(ConfigIssue("model.dtype", text("check.dtype_8bit")))
    if quantized and cfg.lora.init == "pissa":
        # peft's pissa_init refuses quantized weights; its olora_init dequantizes and re-quantizes.
        problem = text("check.pissa_8bit") if quantized == "8-bit" else text("check.pissa_4bit")
        issues.append(ConfigIssue("lora.init", problem))
    return issues


def _method_issues(cfg: RunConfig) -> list[ConfigIssue]:
    """Settings that only make sense for some training methods, and the earlier adapter to start from."""
    t = cfg.training
    preference = t.method in PREFERENCE_METHODS
    issues = format_issues(cfg, cfg.data.format)
    if preference and isinstance(t.neftune_noise_alpha, (int, float)) and t.neftune_noise_alpha > 0:
        issues.append(
            ConfigIssue("training.neftune_noise_alpha", text("check.neftune_preference", method=t.method.upper()))
        )
    limit, longest = t.max_prompt_length, cfg.data.max_length
    if (
        preference
        and isinstance(limit, int)
        and isinstance(longest, int)
        and not isinstance(limit, bool)
        and limit >= longest > 0
    ):
        issues.append(
            ConfigIssue("training.max_prompt_length", text("check.prompt_length", limit=limit, longest=longest))
        )
    if cfg.lora.use_dora is True and cfg.lora.init in MUTATING_INITS:
        # peft converts an OLoRA/PiSSA adapter back to plain LoRA for the untouched base, but not DoRA's magnitudes:
        # the merged and exported model then differs from the one trained (measured on the tiny test model).
        issues.append(ConfigIssue("lora.use_dora", text("check.dora_init", init=cfg.lora.init)))
    if isinstance(cfg.lora.start_from, str) and cfg.lora.start_from.strip() and cfg.lora.init in MUTATING_INITS:
        issues.append(ConfigIssue("lora.init", text("check.init_start_from", init=cfg.lora.init)))
    return issues


def format_issues(cfg: RunConfig, data_format: str) -> list[ConfigIssue]:
    """The training method against the data's format (as set, or as detected in the file): pairs of answers for
    DPO/ORPO, examples for SFT. "auto" says nothing yet: the file decides."""
    method = cfg.training.method
    if method in PREFERENCE_METHODS and data_format not in ("auto", "preference"):
        return [ConfigIssue("training.method", text("check.method_needs_pairs", method=method, format=data_format))]
    if method == "sft" and data_format == "preference":
        return [ConfigIssue("training.method", text("check.sft_on_pairs"))]
    return []


def _prompt_issues(prompts: Any) -> list[ConfigIssue]:
    if not isinstance(prompts, list):
        return []
    if not all(isinstance(p, str) and p.strip() for p in prompts):
        return [ConfigIssue("training.sample_prompts", text("check.prompts_not_text"))]
    if len(prompts) > MAX_SAMPLE_PROMPTS:
        problem = text("check.too_many_prompts", count=len(prompts), limit=MAX_SAMPLE_PROMPTS)
        return [ConfigIssue("training.sample_prompts", problem)]
    longest = max((len(p) for p in prompts), default=0)
    if longest > MAX_PROMPT_CHARS:
        problem = text("check.sample_prompt_long", length=longest, limit=MAX_PROMPT_CHARS)
        return [ConfigIssue("training.sample_prompts", problem)]
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
    kind = text("check.kind_gpu") if kind == "GPU" else text("check.kind_cpu_core") if kind == "CPU core" else kind
    return [
        ConfigIssue(
            "training.num_processes", text("check.too_many_processes", count=count, available=available, kind=kind)
        )
    ]


def require_valid(cfg: RunConfig) -> None:
    """Raise one ConfigError listing every problem, for callers that cannot show a list."""
    issues = cfg.validate()
    if issues:
        raise ConfigError(text("check.invalid", problems="; ".join(map(str, issues))), text("check.invalid_hint"))
