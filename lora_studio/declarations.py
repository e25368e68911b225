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


def _check_bounds(value: float, meta: Mapping[str, Any]) -> str | None:
    """Out of range: the message states the whole allowed range, so it can stand beside the field alone."""
    lo, hi = meta.get("min"), meta.get("max")
    too_low = lo is not None and (value < lo or (meta.get("min_exclusive") and value <= lo))
    too_high = hi is not None and (value > hi or (meta.get("max_exclusive") and value >= hi))
    if not (too_low or too_high):
        return None
    return f"must be {allowed_range(meta)}, got {_number(value)}"


def allowed_range(meta: Mapping[str, Any]) -> str:
    """'at least 1 and at most 1024', 'greater than 0 and at most 4096', 'at least 0 and less than 1'..."""
    lo, hi = meta.get("min"), meta.get("max")
    parts = []
    if lo is not None:
        parts.append(f"{'greater than' if meta.get('min_exclusive') else 'at least'} {_number(lo)}")
    if hi is not None:
        parts.append(f"{'less than' if meta.get('max_exclusive') else 'at most'} {_number(hi)}")
    return " and ".join(parts)


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"
