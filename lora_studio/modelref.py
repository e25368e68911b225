"""What a model reference names: the embedded default, a local folder or GGUF file, or a hub id; and the
public name of a base model, for what leaves this machine.

Path and string logic (plus reading a folder's config.json), so the CLI and the UI can classify a
reference (and reject a nonsense one) before any weights load.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from lora_studio.errors import ModelError
from lora_studio.messages import text
from lora_studio.settings import (
    CONVERTED_SOURCE_FILE,
    EMBEDDED_ALIASES,
    EMBEDDED_GGUF,
    EMBEDDED_MODEL_NAME,
    EMBEDDED_PUBLIC_ID,
)

_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
# A folder of the Hugging Face hub cache: .../models--<owner>--<name>/snapshots/<revision>
_SNAPSHOT_RE = re.compile(r"models--([A-Za-z0-9][A-Za-z0-9_.-]*)--([A-Za-z0-9][A-Za-z0-9_.-]*)/snapshots/[^/]+/?$")
# Longer than any path this machine can open (PATH_MAX): such a text is refused before it reaches the file system,
# where it would raise "File name too long" instead of a message.
MAX_REFERENCE_CHARS = 4096


def ALTERNATIVES() -> str:  # a function, not a constant: the text follows the current language
    """What a model reference may be, as the hint of a model that cannot be loaded."""
    return text("modelref.alternatives", embedded=EMBEDDED_MODEL_NAME)


@dataclass(frozen=True)
class ModelRef:
    kind: str  # "embedded", "local", "gguf" or "hub"
    value: str  # alias-free name, absolute path or hub id

    @property
    def display(self) -> str:
        return EMBEDDED_MODEL_NAME if self.kind == "embedded" else self.value


def is_embedded(text: str) -> bool:
    norm = text.strip().lower()
    return norm == EMBEDDED_MODEL_NAME.lower() or norm in {a.lower() for a in EMBEDDED_ALIASES}


def parse_model_ref(reference: str) -> ModelRef:
    """Classify a reference; raise ModelError naming the alternatives when it cannot be one.

    Whatever the reason a local reference cannot be used (no such path, a file that is not a model, a folder
    without config.json, a name the file system refuses), the message is the same and echoes only the text
    the user typed: the model field must not tell a visitor which paths exist on the server.
    """
    reference = (reference or "").strip() if isinstance(reference, str) else ""
    if not reference:
        raise ModelError(text("modelref.none"), ALTERNATIVES())
    if len(reference) > MAX_REFERENCE_CHARS or "\0" in reference:
        raise ModelError(
            text("modelref.too_long", model=_shorten(reference), limit=MAX_REFERENCE_CHARS), ALTERNATIVES()
        )
    if is_embedded(reference):
        return ModelRef("embedded", EMBEDDED_MODEL_NAME)
    local = _local_ref(reference)
    if local is not None:
        return local
    if _looks_like_path(reference) or not _HUB_ID_RE.match(reference):
        raise ModelError(text("modelref.not_found", model=_shorten(reference)), ALTERNATIVES())
    return ModelRef("hub", reference)


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", "./", "../", "~")) or text.count("/") > 1 or text.endswith(".gguf")


def _local_ref(text: str) -> ModelRef | None:
    """The local model `text` names, or None when it names none (missing, not a model, or unreadable)."""
    try:
        path = Path(text).expanduser().resolve()
        if path.is_file():
            return ModelRef("gguf", str(path)) if path.suffix.lower() == ".gguf" else None
        if path.is_dir() and (path / "config.json").is_file():
            return ModelRef("local", str(path))
    except (OSError, RuntimeError, ValueError):  # name too long, a symlink loop, an unknown ~user
        return None
    return None


# ---- the public name of a base model --------------------------------------------------------------
@dataclass(frozen=True)
class PublicBase:
    """How a base model is named where it leaves this machine: adapter_config.json, model cards, exports."""

    id: str  # a Hub id when one is known, else the model's own name; never a path of this machine
    hub: bool  # `id` is a Hub id: from_pretrained(id) loads it wherever the Hub or its cache is at hand
    embedded: bool = False  # LoRA Studio's embedded copy: the Q4_1 GGUF of `id`, dequantised


def is_embedded_public_id(text: str) -> bool:
    """True for the Hub id of the model the embedded GGUF was made from (LoRA Studio has it locally)."""
    return isinstance(text, str) and text.strip().lower() == EMBEDDED_PUBLIC_ID.lower()


def public_base(name_or_path: str) -> PublicBase:
    """The public name of a base model: the embedded model's Hub id, a hub id as given, a Hub-cache snapshot's
    id, a local folder's own `_name_or_path` when that is a Hub id, else only the folder's (or file's) name."""
    try:
        ref = parse_model_ref(name_or_path)
    except ModelError:
        name = Path(str(name_or_path or "").strip().rstrip("/")).name[:96]  # a name only, never the path
        return PublicBase(name or "unknown", False)
    if ref.kind == "embedded":
        return PublicBase(EMBEDDED_PUBLIC_ID, True, True)
    if ref.kind == "hub":
        return PublicBase(ref.value, True)
    path = Path(ref.value)
    if (ref.kind == "gguf" and path.name == EMBEDDED_GGUF) or _is_embedded_conversion(path):
        return PublicBase(EMBEDDED_PUBLIC_ID, True, True)
    if ref.kind == "gguf":
        return PublicBase(path.stem, False)
    hub_id = _snapshot_hub_id(path) or _own_hub_id(path)
    return PublicBase(hub_id, True) if hub_id else PublicBase(path.name, False)


def _snapshot_hub_id(path: Path) -> str:
    match = _SNAPSHOT_RE.search(path.as_posix())
    return f"{match.group(1)}/{match.group(2)}" if match else ""


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _own_hub_id(folder: Path) -> str:
    """The Hub id the folder's config.json was loaded from, when it names one (older transformers wrote it)."""
    value = _read_json(folder / "config.json").get("_name_or_path")
    return value.strip() if isinstance(value, str) and _HUB_ID_RE.match(value.strip()) else ""


def _is_embedded_conversion(folder: Path) -> bool:
    """The folder holds LoRA Studio's conversion of the embedded GGUF (in the model cache, or registered
    in the hub cache by `prepare-model --hub-cache`)."""
    return _read_json(folder / CONVERTED_SOURCE_FILE).get("gguf") == EMBEDDED_GGUF
