"""GenerationSettings: how an answer is written, declared once (the Playground, the CLI's `chat`, sample answers).

Like RunConfig, each field carries its bounds (and the widget's step) in `metadata`, and its label and help are in
the message catalogue under `generation.<field>`. The Playground's widgets, `chat --set` and validation read this
one declaration; the engine turns it into `model.generate` arguments (`generate_kwargs`, plain values, no torch).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import yaml

# One declaration machinery for every setting: the same field helper, coercion and checks as RunConfig.
from lora_studio.declarations import ConfigIssue, check_value, coerce_value, setting
from lora_studio.errors import ConfigError
from lora_studio.messages import field_help, field_label

SECTION = "generation"
WIDE = 2**31 - 1  # a seed: any 32-bit value


@dataclass
class GenerationSettings:
    """One answer's settings: what the model is told first, how long it may write and how it picks each token."""

    system_prompt: str = setting("")
    max_new_tokens: int = setting(256, min=1, max=2048, step=1)
    temperature: float = setting(0.7, min=0.0, max=2.0, step=0.05)  # 0 = greedy
    top_p: float = setting(0.9, min=0.05, max=1.0, step=0.05)
    top_k: int = setting(50, min=0, max=200, step=1)  # 0 = no top-k filter
    repetition_penalty: float = setting(1.0, min=1.0, max=2.0, step=0.05)
    seed: int = setting(0, min=0, max=WIDE)

    @classmethod
    def greedy(cls, max_new_tokens: int) -> GenerationSettings:
        """Always the most likely token: answers at different training steps differ only because the weights did."""
        return cls(max_new_tokens=int(max_new_tokens), temperature=0.0)

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> GenerationSettings:
        """From widget or command-line values: a missing or None value (a widget not drawn yet) is the default;
        numbers written as text become numbers. Unknown names are refused; `validate()` reports bad values."""
        by_name = {f.name: f for f in fields(cls)}
        unknown = [name for name in values if name not in by_name]
        if unknown:
            raise ConfigError(
                f"There is no generation setting '{unknown[0]}'", f"Known settings: {', '.join(setting_names())}"
            )
        given = {name: coerce_value(by_name[name], value) for name, value in values.items() if value is not None}
        return cls(**given)

    def validate(self) -> list[ConfigIssue]:
        """Every value outside its declaration, each naming its field (generation.<name>) and the allowed range."""
        issues = []
        for f in fields(self):
            problem = check_value(f, getattr(self, f.name))
            if problem:
                issues.append(ConfigIssue(f"{SECTION}.{f.name}", problem))
        return issues

    def require_valid(self) -> GenerationSettings:
        issues = self.validate()
        if issues:
            named = [f"{issue.field.partition('.')[2]}: {issue.message}" for issue in issues]
            raise ConfigError(
                "Invalid generation settings: " + "; ".join(named),
                "Change the settings named above and try again",
            )
        return self

    def generate_kwargs(self) -> dict:
        """The arguments of `model.generate` these settings stand for (greedy at temperature 0)."""
        kwargs: dict = {
            "max_new_tokens": int(self.max_new_tokens),
            "repetition_penalty": float(self.repetition_penalty),
        }
        if self.temperature <= 0:
            return {**kwargs, "do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        return {
            **kwargs,
            "do_sample": True,
            "temperature": float(self.temperature),
            "top_p": float(self.top_p),
            "top_k": int(self.top_k) if self.top_k > 0 else None,
        }


def setting_names() -> list[str]:
    return [f.name for f in fields(GenerationSettings)]


def setting_metadata(name: str) -> dict:
    """A setting's declaration: bounds and step, its type, default, label and help from the catalogue."""
    for f in fields(GenerationSettings):
        if f.name == name:
            dotted = f"{SECTION}.{name}"
            return {
                **f.metadata,
                "type": f.type if isinstance(f.type, str) else f.type.__name__,
                "default": f.default,
                "label": field_label(dotted),
                "help": field_help(dotted),
            }
    raise KeyError(name)


def parse_overrides(items: list[str]) -> GenerationSettings:
    """'name=value' strings (values read as YAML: 0.5, 20, 'text') → validated settings, or one ConfigError."""
    values: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"Cannot read the setting '{item}'", "Write it as name=value, e.g. temperature=0.2")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except (yaml.YAMLError, ValueError, RecursionError):
            value = raw
        name = key.strip()
        # A system prompt is text even when it reads as a number or a YAML mapping.
        values[name] = raw if name == "system_prompt" else value
    return GenerationSettings.from_values(values).require_valid()
