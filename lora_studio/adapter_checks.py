"""What is read from an adapter folder (config fields, safetensors header), checked with bounds before any use.

An adapter folder may come from anyone (an upload) or from an older LoRA Studio, so nothing in it is
trusted: `adapter_config.json` is size-capped and every field peft will act on is checked for type and
range, lists and texts are capped (peft matches each module name against each `target_modules` entry,
so a 200,000-name list held a core for minutes), and the safetensors header must describe exactly the
bytes the file holds (a file cut in half is refused here, before peft touches the model). The checks
raise `ModelError` naming the folder as the user knows it (`name`), never a staging folder.

Plain file handling (no torch), shared by uploads, listings, the CLI and the Playground engine.
"""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path
from typing import Any

from lora_studio import settings
from lora_studio.errors import ModelError
from lora_studio.messages import text

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
PICKLE_FILE = "adapter_model.bin"
MAX_CONFIG_BYTES = 1 * 2**20  # a real adapter_config.json is a few KB
MAX_LIST_ITEMS = 1024  # target_modules, modules_to_save, patterns...: peft's matching costs names x entries
MAX_TEXT_CHARS = 1024  # any single text value (a module name, a regex, the base model's reference)
MAX_RANK = 4096
_HEADER_LIMIT = 100 * 2**20
_DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}
_LORA_KEY = re.compile(
    r"^(?P<module>.+)\.(?P<part>lora_A|lora_B|lora_embedding_A|lora_embedding_B|"
    r"lora_magnitude_vector)(?:\.[^.]+)?(?:\.weight)?$"
)


def _resave() -> str:
    return text("adapters.resave_hint")


def _refuse(name: str, problem: str, hint: str | None = None) -> ModelError:
    return ModelError(text("adapters.cannot_use", name=name, problem=problem), hint or _resave())


# ---- adapter_config.json -----------------------------------------------------------------------
def read_adapter_config(folder: Path, name: str | None = None) -> dict:
    """adapter_config.json as a dict, checked; raises in words when it is missing, unreadable, too big, not
    LoRA, or holds a value peft should not be given. `name`: what the user calls the adapter."""
    folder = Path(folder)
    name = name or folder.name
    path = folder / CONFIG_FILE
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise _refuse(
                name,
                text("adapters.config_too_big", config=CONFIG_FILE, size=size / 2**20, limit=MAX_CONFIG_BYTES // 2**20),
            )
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(
            text("adapters.no_config", name=name, config=CONFIG_FILE), text("adapters.no_config_hint")
        ) from exc
    except (OSError, ValueError, RecursionError) as exc:
        raise ModelError(
            text("adapters.config_unreadable", config=CONFIG_FILE, name=name, error=type(exc).__name__), _resave()
        ) from exc
    if not isinstance(data, dict):
        raise ModelError(text("adapters.config_not_object", config=CONFIG_FILE, name=name), _resave())
    peft_type = data.get("peft_type")
    peft_type = peft_type.upper() if isinstance(peft_type, str) and len(peft_type) < 40 else ""
    if peft_type != "LORA":
        raise ModelError(
            text("adapters.not_lora", name=name, kind=peft_type or text("adapters.unknown_kind")),
            text("adapters.not_lora_hint"),
        )
    problem = config_problem(data)
    if problem:
        raise _refuse(name, problem)
    return data


def config_problem(data: dict) -> str:
    """Why this adapter config must not reach peft ('' when it may): sizes first, then the fields peft uses."""
    problem = _size_problem(data, CONFIG_FILE, depth=0)
    if problem:
        return problem
    checks = (
        ("base_model_name_or_path", _optional_text),
        ("r", lambda v: _whole(v, 1, MAX_RANK)),
        ("lora_alpha", lambda v: _number(v, 0, 1e6, low_open=True)),
        ("lora_dropout", lambda v: _number(v, 0, 1, high_open=True)),
        ("target_modules", _names),
        ("exclude_modules", _names),
        ("modules_to_save", _names),
        ("layers_to_transform", _layers),
        ("rank_pattern", lambda v: _pattern(v, lambda x: _whole(x, 1, MAX_RANK))),
        ("alpha_pattern", lambda v: _pattern(v, lambda x: _number(x, 0, 1e6, low_open=True))),
        ("bias", lambda v: "" if v in (None, "none", "all", "lora_only") else text("adapters.value.bias")),
        ("fan_in_fan_out", _flag),
        ("use_rslora", _flag),
        ("use_dora", _flag),
        ("inference_mode", _flag),
        # PiSSA, OLoRA, CorDA... rewrite the base's weights when peft sets the adapter up: on the shared
        # Playground model that would change the base for everyone. LoRA Studio saves such runs converted.
        (
            "init_lora_weights",
            lambda v: (
                ""
                if v is None or isinstance(v, bool) or v == "gaussian"
                else text("adapters.value.rewrites_base", value=str(v)[:20])
            ),
        ),
        # Copies of whole layers, made at load time: nothing the Playground can bound, and LoRA Studio never
        # trains with it.
        (
            "layer_replication",
            lambda v: "" if v is None else text("adapters.value.layer_replication"),
        ),
    )
    for key, check in checks:
        if key in data:
            reason = check(data[key])
            if reason:
                return text("adapters.config_field", key=key, config=CONFIG_FILE, reason=reason)
    return ""


def _size_problem(value: Any, where: str, depth: int) -> str:
    if depth > 8:
        return text("adapters.size.too_deep", where=where)
    if isinstance(value, str):
        return (
            text("adapters.size.long_text", where=where, length=len(value), limit=MAX_TEXT_CHARS)
            if len(value) > MAX_TEXT_CHARS
            else ""
        )
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return ""
    if len(items) > MAX_LIST_ITEMS:
        return text("adapters.size.long_list", where=where, count=len(items), limit=MAX_LIST_ITEMS)
    for key, item in items:
        if isinstance(key, str) and len(key) > MAX_TEXT_CHARS:
            return text("adapters.size.long_key", where=where, length=len(key), limit=MAX_TEXT_CHARS)
        problem = _size_problem(item, str(key) if depth == 0 else where, depth + 1)
        if problem:
            return problem
    return ""


def _optional_text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        return text("adapters.value.text")
    if any(ord(ch) < 32 for ch in value):
        return text("adapters.value.control_characters")
    return ""


def _flag(value: Any) -> str:
    return "" if value is None or isinstance(value, bool) else text("adapters.value.flag")


def _whole(value: Any, low: int, high: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return text("adapters.value.whole")
    return "" if low <= value <= high else text("adapters.value.between", low=low, high=high, value=value)


def _number(value: Any, low: float, high: float, low_open: bool = False, high_open: bool = False) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return text("adapters.value.number")
    if value < low or (low_open and value <= low) or value > high or (high_open and value >= high):
        return text("adapters.value.between", low=f"{low:g}", high=f"{high:g}", value=f"{value:g}")
    return ""


def _names(value: Any) -> str:
    """None, a regex (peft full-matches it against each module name), or a list of module names."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            re.compile(value)
        except re.error:
            return text("adapters.value.bad_pattern")
        return ""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ""
    return text("adapters.value.names")


def _layers(value: Any) -> str:
    if value is None:
        return ""
    items = value if isinstance(value, list) else [value]
    return "" if all(not _whole(i, 0, 100_000) for i in items) else text("adapters.value.layers")


def _pattern(value: Any, check) -> str:
    if not isinstance(value, dict):
        return text("adapters.value.mapping")
    for key, item in value.items():
        if _names(key) or check(item):
            return text("adapters.value.bad_entry", entry=str(key)[:60])
    return ""


def recorded_base(folder: Path) -> str:
    """The base model peft recorded, or '' when the config cannot be used (never raises)."""
    try:
        value = read_adapter_config(folder).get("base_model_name_or_path")
    except ModelError:
        return ""
    return value if isinstance(value, str) else ""


def check_adapter_folder(folder: Path, name: str | None = None) -> dict:
    """The adapter's config when the folder holds a loadable adapter; refuses pickle weights unless allowed."""
    folder = Path(folder)
    name = name or folder.name
    config = read_adapter_config(folder, name)
    if (folder / WEIGHTS_FILE).is_file():
        safetensors_shapes(folder / WEIGHTS_FILE, name)  # refuses a cut or inconsistent file before peft reads it
        return config
    if (folder / PICKLE_FILE).is_file():
        if settings.allow_pickle_adapters():
            return config
        raise ModelError(
            text("adapters.pickle", name=name, pickle=PICKLE_FILE), text("adapters.pickle_hint", weights=WEIGHTS_FILE)
        )
    raise ModelError(text("adapters.no_weights", name=name, weights=WEIGHTS_FILE), text("adapters.no_weights_hint"))


# ---- adapter_model.safetensors -----------------------------------------------------------------
def safetensors_shapes(path: Path, name: str | None = None) -> dict[str, list[int]]:
    """Tensor name → shape from a safetensors header, without reading the weights. The header must account for
    every byte of the file: each tensor's bytes inside the file and of the size its dtype and shape give."""
    path = Path(path)
    label = text("adapters.file_of", name=name, file=path.name) if name else path.name
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            (header_size,) = struct.unpack("<Q", fh.read(8))
            if header_size > min(_HEADER_LIMIT, size - 8):
                raise ValueError(text("adapters.st.header_too_big"))
            header = json.loads(fh.read(header_size))
        if not isinstance(header, dict):
            raise ValueError(text("adapters.st.header_not_object"))
        shapes = _checked_tensors(header, size - 8 - header_size)
    except (OSError, ValueError, struct.error, RecursionError) as exc:
        raise ModelError(
            text("adapters.st.unreadable", file=label, reason=exc).splitlines()[0], text("adapters.st.unreadable_hint")
        ) from exc
    return shapes


def _checked_tensors(header: dict, data_bytes: int) -> dict[str, list[int]]:
    shapes, end_max = {}, 0
    for key, meta in header.items():
        if key == "__metadata__":
            continue
        if not isinstance(meta, dict):
            raise ValueError(text("adapters.st.no_description", tensor=_short(key)))
        shape, offsets, dtype = meta.get("shape"), meta.get("data_offsets"), meta.get("dtype")
        if (
            not isinstance(shape, list)
            or not all(isinstance(d, int) and d >= 0 for d in shape)
            or not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) for o in offsets)
            or dtype not in _DTYPE_BYTES
        ):
            raise ValueError(text("adapters.st.described_wrongly", tensor=_short(key)))
        start, end = offsets
        if not 0 <= start <= end <= data_bytes:
            raise ValueError(text("adapters.st.past_end", tensor=_short(key)))
        if end - start != math.prod(shape) * _DTYPE_BYTES[dtype]:
            raise ValueError(text("adapters.st.wrong_bytes", tensor=_short(key)))
        end_max = max(end_max, end)
        shapes[key] = shape
    if end_max != data_bytes:
        raise ValueError(text("adapters.st.extra_bytes"))
    return shapes


def _short(name: str, limit: int = 60) -> str:
    """A long tensor or module name by its end, which says which layer it is."""
    return name if len(name) <= limit else "…" + name[-limit:]


def fit_problems(shapes: dict[str, list[int]], dims: dict[str, tuple[int, int]]) -> list[str]:
    """Why an adapter's tensors cannot sit on a base whose layers have `dims` (module → (inputs, outputs)).

    peft stores lora_A as [r, inputs] and lora_B as [outputs, r] (embeddings: A [r, rows], B [width, r]).
    """
    missing, wrong = [], []
    for key, shape in shapes.items():
        match = _LORA_KEY.match(key.removeprefix("base_model.model."))
        if not match or not shape:
            continue
        module, part = match["module"], match["part"]
        if module not in dims:
            missing.append(module)
            continue
        inputs, outputs = dims[module]
        if part in ("lora_A", "lora_embedding_A") and len(shape) > 1 and shape[1] != inputs:
            wrong.append(text("adapters.fit.inputs", module=module, here=inputs, adapter=shape[1]))
        elif part in ("lora_B", "lora_embedding_B", "lora_magnitude_vector") and shape[0] != outputs:
            wrong.append(text("adapters.fit.outputs", module=module, here=outputs, adapter=shape[0]))
    problems = []
    if missing:
        unique = sorted(set(missing))
        problems.append(
            text("adapters.fit.missing_more", module=unique[0], count=len(unique) - 1)
            if len(unique) > 1
            else text("adapters.fit.missing", module=unique[0])
        )
    if wrong:
        problems.append(
            text("adapters.fit.sizes_more", first=wrong[0], count=len(wrong) - 1)
            if len(wrong) > 1
            else text("adapters.fit.sizes", first=wrong[0])
        )
    return problems
