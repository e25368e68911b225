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
_RESAVE = "Save the adapter again with peft's save_pretrained"


def _refuse(name: str, problem: str, hint: str = _RESAVE) -> ModelError:
    return ModelError(f"{name} cannot be used: {problem}", hint)


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
                f"its {CONFIG_FILE} is {size / 2**20:.1f} MB (a real one is a few KB; at most "
                f"{MAX_CONFIG_BYTES // 2**20} MB)",
            )
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(
            f"{name} has no {CONFIG_FILE}, so it is not a PEFT adapter",
            "Upload the folder that peft's save_pretrained wrote (or a zip of it)",
        ) from exc
    except (OSError, ValueError, RecursionError) as exc:
        raise ModelError(f"{CONFIG_FILE} in {name} cannot be read ({type(exc).__name__})", _RESAVE) from exc
    if not isinstance(data, dict):
        raise ModelError(f"{CONFIG_FILE} in {name} is not a JSON object", _RESAVE)
    peft_type = data.get("peft_type")
    peft_type = peft_type.upper() if isinstance(peft_type, str) and len(peft_type) < 40 else ""
    if peft_type != "LORA":
        raise ModelError(
            f"{name} is a {peft_type or 'unknown'} adapter; the Playground loads LoRA",
            "Pick a LoRA adapter (peft_type LORA in adapter_config.json)",
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
        ("bias", lambda v: "" if v in (None, "none", "all", "lora_only") else "must be none, all or lora_only"),
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
                else f"asks peft to rewrite the base model's weights on load ({str(v)[:20]}): convert it to a "
                "plain LoRA adapter first (peft's path_initial_model_for_weight_conversion)"
            ),
        ),
        # Copies of whole layers, made at load time: nothing the Playground can bound, and LoRA Studio never
        # trains with it.
        (
            "layer_replication",
            lambda v: (
                "" if v is None else "copies model layers (layer_replication), which the Playground does not load"
            ),
        ),
    )
    for key, check in checks:
        if key in data:
            reason = check(data[key])
            if reason:
                return f"'{key}' in {CONFIG_FILE} {reason}"
    return ""


def _size_problem(value: Any, where: str, depth: int) -> str:
    if depth > 8:
        return f"{where} is nested too deeply"
    if isinstance(value, str):
        return (
            f"{where} holds a text of {len(value):,} characters (at most {MAX_TEXT_CHARS:,})"
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
        return f"'{where}' lists {len(items):,} entries (at most {MAX_LIST_ITEMS:,})"
    for key, item in items:
        if isinstance(key, str) and len(key) > MAX_TEXT_CHARS:
            return f"{where} holds a key of {len(key):,} characters (at most {MAX_TEXT_CHARS:,})"
        problem = _size_problem(item, str(key) if depth == 0 else where, depth + 1)
        if problem:
            return problem
    return ""


def _optional_text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        return "must be text"
    if any(ord(ch) < 32 for ch in value):
        return "holds control characters"
    return ""


def _flag(value: Any) -> str:
    return "" if value is None or isinstance(value, bool) else "must be true or false"


def _whole(value: Any, low: int, high: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be a whole number"
    return "" if low <= value <= high else f"must be between {low} and {high}, not {value}"


def _number(value: Any, low: float, high: float, low_open: bool = False, high_open: bool = False) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "must be a number"
    if value < low or (low_open and value <= low) or value > high or (high_open and value >= high):
        return f"must be between {low:g} and {high:g}, not {value:g}"
    return ""


def _names(value: Any) -> str:
    """None, a regex (peft full-matches it against each module name), or a list of module names."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            re.compile(value)
        except re.error:
            return "is neither a list of module names nor a valid pattern"
        return ""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ""
    return "must be a list of module names or a pattern"


def _layers(value: Any) -> str:
    if value is None:
        return ""
    items = value if isinstance(value, list) else [value]
    return "" if all(not _whole(i, 0, 100_000) for i in items) else "must be layer numbers"


def _pattern(value: Any, check) -> str:
    if not isinstance(value, dict):
        return "must be a mapping of module patterns to values"
    for key, item in value.items():
        if _names(key) or check(item):
            return f"has an unusable entry for '{str(key)[:60]}'"
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
            f"{name} holds pickle weights ({PICKLE_FILE}), which can run code when loaded",
            f"Save it as {WEIGHTS_FILE} (peft's save_pretrained does by default), or have the "
            "operator start LoRA Studio with LORA_STUDIO_ALLOW_PICKLE=1 if it comes from someone trusted",
        )
    raise ModelError(
        f"{name} has no weights ({WEIGHTS_FILE})",
        "Upload the whole adapter folder: adapter_config.json and adapter_model.safetensors",
    )


# ---- adapter_model.safetensors -----------------------------------------------------------------
def safetensors_shapes(path: Path, name: str | None = None) -> dict[str, list[int]]:
    """Tensor name → shape from a safetensors header, without reading the weights. The header must account for
    every byte of the file: each tensor's bytes inside the file and of the size its dtype and shape give."""
    path = Path(path)
    label = f"{name}'s {path.name}" if name else path.name
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            (header_size,) = struct.unpack("<Q", fh.read(8))
            if header_size > min(_HEADER_LIMIT, size - 8):
                raise ValueError("its header is larger than the file")
            header = json.loads(fh.read(header_size))
        if not isinstance(header, dict):
            raise ValueError("its header is not a JSON object")
        shapes = _checked_tensors(header, size - 8 - header_size)
    except (OSError, ValueError, struct.error, RecursionError) as exc:
        raise ModelError(
            f"{label} is not a readable safetensors file ({exc})".splitlines()[0],
            "Copy or download the adapter again (the file may be cut short), or save it again with "
            "peft's save_pretrained",
        ) from exc
    return shapes


def _checked_tensors(header: dict, data_bytes: int) -> dict[str, list[int]]:
    shapes, end_max = {}, 0
    for key, meta in header.items():
        if key == "__metadata__":
            continue
        if not isinstance(meta, dict):
            raise ValueError(f"tensor {_short(key)} has no description")
        shape, offsets, dtype = meta.get("shape"), meta.get("data_offsets"), meta.get("dtype")
        if (
            not isinstance(shape, list)
            or not all(isinstance(d, int) and d >= 0 for d in shape)
            or not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) for o in offsets)
            or dtype not in _DTYPE_BYTES
        ):
            raise ValueError(f"tensor {_short(key)} is described wrongly")
        start, end = offsets
        if not 0 <= start <= end <= data_bytes:
            raise ValueError(f"tensor {_short(key)} lies past the end of the file")
        if end - start != math.prod(shape) * _DTYPE_BYTES[dtype]:
            raise ValueError(f"tensor {_short(key)} has the wrong number of bytes")
        end_max = max(end_max, end)
        shapes[key] = shape
    if end_max != data_bytes:
        raise ValueError("the file holds bytes no tensor accounts for")
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
            wrong.append(f"{module} takes {inputs} inputs here but {shape[1]} in the adapter")
        elif part in ("lora_B", "lora_embedding_B", "lora_magnitude_vector") and shape[0] != outputs:
            wrong.append(f"{module} gives {outputs} outputs here but {shape[0]} in the adapter")
    problems = []
    if missing:
        unique = sorted(set(missing))
        more = f" and {len(unique) - 1} more" if len(unique) > 1 else ""
        problems.append(f"it changes layers this model does not have ({unique[0]}{more})")
    if wrong:
        more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
        problems.append(f"layer sizes differ: {wrong[0]}{more}")
    return problems
