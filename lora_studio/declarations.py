"""How a setting is declared and checked, for every kind of settings (RunConfig's sections, GenerationSettings).

A setting is a dataclass field made with `setting(default, min=, max=, choices=, ...)`: its bounds live in
the field's metadata, its label and help in the message catalogue. `coerce_value` turns text into numbers,
`check_value` says in words what is wrong with a value, `allowed_range` words the bounds for help texts.
Plain Python: no torch, no gradio.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lora_studio.messages import text


def setting(default: Any, **meta: Any) -> Any:
    """A dataclass field with its bounds (min, max, min_exclusive, max_exclusive, choices), the tab that owns it
    (owner: "data" or "config") and how prominent it is (level: "essential" or "advanced"). Its label and help
    are in the message catalogue (lora_studio/messages), under the field's dotted name."""
    meta = {"owner": "config", "level": "advanced", **meta}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class ConfigIssue:
    """One problem with a config: the dotted field name and what to do."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def coerce_value(f: dataclasses.Field, value: Any) -> Any:
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


def _type_name(f: dataclasses.Field) -> str:
    return f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))


def check_value(f: dataclasses.Field, value: Any) -> str | None:
    meta, kind = f.metadata, _type_name(f)
    if kind == "bool":
        return None if isinstance(value, bool) else text("check.value.bool", got=repr(value))
    if kind in ("int", "float"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # NaN is not
        if kind == "int":
            ok = ok and (isinstance(value, int) or value.is_integer())  # float(int) overflows past 1e308
        if not ok:
            return text("check.value.int" if kind == "int" else "check.value.number", got=repr(value))
        return _check_bounds(value, meta)
    if "choices" in meta and value not in meta["choices"]:
        if isinstance(value, bool) and kind == "str":  # YAML 1.1 reads on/off, yes/no as a truth value
            return text("check.value.choice_truth", choices=", ".join(meta["choices"]))
        return text("check.value.choice", choices=", ".join(meta["choices"]), got=repr(value))
    if kind == "str" and not isinstance(value, str):
        return text("check.value.text", got=repr(value))
    if kind == "dict" and not isinstance(value, dict):
        return text("check.value.mapping", got=repr(value))
    if kind == "list" and not isinstance(value, list):
        return text("check.value.list", got=repr(value))
    return None


def _check_bounds(value: float, meta: Mapping[str, Any]) -> str | None:
    """Out of range: the message states the whole allowed range, so it can stand beside the field alone."""
    lo, hi = meta.get("min"), meta.get("max")
    too_low = lo is not None and (value < lo or (meta.get("min_exclusive") and value <= lo))
    too_high = hi is not None and (value > hi or (meta.get("max_exclusive") and value >= hi))
    if not (too_low or too_high):
        return None
    return text("check.value.range", range=allowed_range(meta), got=_number(value))


def allowed_range(meta: Mapping[str, Any]) -> str:
    """'at least 1 and at most 1,024', 'greater than 0 and at most 4,096', 'at least 0 and less than 1'... in the
    current language (the CLI's help and validation read English)."""
    lo, hi = meta.get("min"), meta.get("max")
    low = high = ""
    if lo is not None:
        above = "config.bound.greater_than" if meta.get("min_exclusive") else "config.bound.at_least"
        low = text(above, value=_number(lo))
    if hi is not None:
        below = "config.bound.less_than" if meta.get("max_exclusive") else "config.bound.at_most"
        high = text(below, value=_number(hi))
    return text("config.bound.both", low=low, high=high) if low and high else low or high


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"
