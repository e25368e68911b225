"""What a model reference names: the embedded default, a local folder or GGUF file, or a hub id.

Pure path and string logic, so the CLI and the UI can classify a reference (and reject a
nonsense one) before any weights load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lora_studio.errors import ModelError
from lora_studio.settings import EMBEDDED_ALIASES, EMBEDDED_MODEL_NAME

_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
# Longer than any path this machine can open (PATH_MAX): such a text is refused before it reaches the file system,
# where it would raise "File name too long" instead of a message.
MAX_REFERENCE_CHARS = 4096

ALTERNATIVES = (
    f"Use '{EMBEDDED_MODEL_NAME}' (works offline), a local folder with config.json and weights, "
    "or a Hugging Face Hub id such as HuggingFaceTB/SmolLM2-360M-Instruct when online"
)


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


def parse_model_ref(text: str) -> ModelRef:
    """Classify a reference; raise ModelError naming the alternatives when it cannot be one.

    Whatever the reason a local reference cannot be used (no such path, a file that is not a model, a folder
    without config.json, a name the file system refuses), the message is the same and echoes only the text
    the user typed: the model field must not tell a visitor which paths exist on the server.
    """
    text = (text or "").strip() if isinstance(text, str) else ""
    if not text:
        raise ModelError("No model was chosen", ALTERNATIVES)
    if len(text) > MAX_REFERENCE_CHARS or "\0" in text:
        raise ModelError(
            f"Model '{_shorten(text)}' was not found: a model reference is a hub id (owner/name) or "
            f"a path of at most {MAX_REFERENCE_CHARS} characters",
            ALTERNATIVES,
        )
    if is_embedded(text):
        return ModelRef("embedded", EMBEDDED_MODEL_NAME)
    local = _local_ref(text)
    if local is not None:
        return local
    if _looks_like_path(text) or not _HUB_ID_RE.match(text):
        raise ModelError(
            f"Model '{_shorten(text)}' was not found: it is not a model folder (with config.json) or "
            ".gguf file on this machine, nor a hub id of the form owner/name",
            ALTERNATIVES,
        )
    return ModelRef("hub", text)


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
