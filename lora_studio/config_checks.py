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
from lora_studio.settings import local_devices


def cross_field_issues(cfg: RunConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    targets = cfg.lora.target_modules
    if isinstance(targets, str):
        if not targets.strip():
            issues.append(ConfigIssue("lora.target_modules", "is empty: use 'all-linear' or list module names"))
    elif not (isinstance(targets, list) and targets and all(isinstance(t, str) and t for t in targets)):
        issues.append(ConfigIssue("lora.target_modules", "must be 'all-linear' or a non-empty list of module names"))
    issues.extend(_quantization_issues(cfg))
    issues.extend(_method_issues(cfg))
    if not str(cfg.model.name_or_path).strip():
        issues.append(ConfigIssue("model.name_or_path", "is empty: pick the embedded model, a hub id or a folder"))
    if isinstance(cfg.data.columns, dict):
        bad = [k for k, v in cfg.data.columns.items() if not isinstance(v, str) or not v]
        if bad:
            issues.append(ConfigIssue("data.columns", f"maps {', '.join(map(str, bad))} to nothing: name a column"))
    issues.extend(_prompt_issues(cfg.training.sample_prompts))
    issues.extend(machine_issues(cfg))
    return issues


def _quantization_issues(cfg: RunConfig) -> list[ConfigIssue]:
    model, issues = cfg.model, []
    if model.load_in_8bit is True and model.load_in_4bit is True:
        issues.append(
            ConfigIssue("model.load_in_4bit", "is on together with 8-bit: pick one of them (4-bit saves more memory)")
        )
    quantized = model.quantized
    if quantized and importlib.util.find_spec("bitsandbytes") is None:
        field_name = "model.load_in_8bit" if quantized == "8-bit" else "model.load_in_4bit"
        issues.append(ConfigIssue(field_name, f"needs the bitsandbytes package: install it or turn {quantized} off"))
    if quantized == "8-bit" and model.dtype == "bfloat16":
        issues.append(ConfigIssue("model.dtype", "8-bit loading computes in float16/float32: use auto or float32"))
    if quantized and cfg.lora.init == "pissa":
        # peft's pissa_init refuses quantized weights; its olora_init dequantizes and re-quantizes.
        issues.append(
            ConfigIssue(
                "lora.init",
                f"pissa cannot start from {'an' if quantized == '8-bit' else 'a'} {quantized} base (peft needs "
                f"full-precision weights): use olora, which peft supports with {quantized}, or turn {quantized} off",
            )
        )
    return issues


def _method_issues(cfg: RunConfig) -> list[ConfigIssue]:
    """Settings that only make sense for some training methods, and the earlier adapter to start from."""
    t = cfg.training
    preference = t.method in PREFERENCE_METHODS
    issues = format_issues(cfg, cfg.data.format)
    if preference and isinstance(t.neftune_noise_alpha, (int, float)) and t.neftune_noise_alpha > 0:
        issues.append(
            ConfigIssue(
                "training.neftune_noise_alpha",
                f"works with supervised training (sft) only: set it to 0 for {t.method.upper()}",
            )
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
            ConfigIssue(
                "training.max_prompt_length",
                f"is {limit:,} tokens, which leaves no room for the answers within the max length "
                f"({longest:,}): make it smaller than the max length, or 0 for no limit",
            )
        )
    if cfg.lora.use_dora is True and cfg.lora.init in MUTATING_INITS:
        # peft converts an OLoRA/PiSSA adapter back to plain LoRA for the untouched base, but not DoRA's magnitudes:
        # the merged and exported model then differs from the one trained (measured on the tiny test model).
        issues.append(
            ConfigIssue(
                "lora.use_dora",
                f"cannot be combined with the {cfg.lora.init} start: the adapter could not be turned back into one "
                "that works on the original model. Use the default start, or turn DoRA off",
            )
        )
    if isinstance(cfg.lora.start_from, str) and cfg.lora.start_from.strip() and cfg.lora.init in MUTATING_INITS:
        issues.append(
            ConfigIssue(
                "lora.init",
                f"is {cfg.lora.init}, but the adapter starts from an earlier run's adapter: set it to default",
            )
        )
    return issues


def format_issues(cfg: RunConfig, data_format: str) -> list[ConfigIssue]:
    """The training method against the data's format (as set, or as detected in the file): pairs of answers for
    DPO/ORPO, examples for SFT. "auto" says nothing yet: the file decides."""
    method = cfg.training.method
    if method in PREFERENCE_METHODS and data_format not in ("auto", "preference"):
        return [
            ConfigIssue(
                "training.method",
                f"is {method}, which learns from pairs of answers, but the data holds {data_format} rows: use "
                "a file with prompt, chosen and rejected columns (the Data tab maps other names), or pick sft",
            )
        ]
    if method == "sft" and data_format == "preference":
        return [
            ConfigIssue(
                "training.method",
                "is sft (learn to write the answers), but the data holds pairs of chosen and rejected answers: "
                "pick dpo or orpo (or the preference-dpo preset)",
            )
        ]
    return []


def _prompt_issues(prompts: Any) -> list[ConfigIssue]:
    if not isinstance(prompts, list):
        return []
    if not all(isinstance(p, str) and p.strip() for p in prompts):
        return [
            ConfigIssue(
                "training.sample_prompts",
                "holds an empty or non-text prompt: write each "
                "prompt as text, or leave the list empty to take prompts from the data",
            )
        ]
    if len(prompts) > MAX_SAMPLE_PROMPTS:
        return [
            ConfigIssue(
                "training.sample_prompts",
                f"lists {len(prompts)} prompts: at most {MAX_SAMPLE_PROMPTS} (each is answered at every checkpoint)",
            )
        ]
    longest = max((len(p) for p in prompts), default=0)
    if longest > MAX_PROMPT_CHARS:
        return [
            ConfigIssue(
                "training.sample_prompts",
                f"holds a prompt of {longest:,} characters: at most {MAX_PROMPT_CHARS:,} each; write a short question",
            )
        ]
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
    return [
        ConfigIssue(
            "training.num_processes",
            f"is {count}, but this machine has {available} {kind}(s): at most "
            f"{available} here (one process per {kind}); for several machines, set an accelerate config",
        )
    ]


def require_valid(cfg: RunConfig) -> None:
    """Raise one ConfigError listing every problem, for callers that cannot show a list."""
    issues = cfg.validate()
    if issues:
        raise ConfigError(
            "These settings cannot work: " + "; ".join(map(str, issues)),
            "Change them on the Config tab, where each is marked next to its field (on the command line: "
            "--set KEY=VALUE)",
        )
