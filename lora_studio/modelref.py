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
    """Classify a reference; raise ModelError naming the alternatives when it cannot be one."""
    text = (text or "").strip()
    if not text:
        raise ModelError("No model was chosen", ALTERNATIVES)
    if is_embedded(text):
        return ModelRef("embedded", EMBEDDED_MODEL_NAME)
    path = Path(text).expanduser()
    if path.exists():
        return _local_ref(path)
    if _looks_like_path(text) or not _HUB_ID_RE.match(text):
        raise ModelError(f"Model '{text}' was not found: it is not a folder on this machine "
                         "nor a hub id of the form owner/name", ALTERNATIVES)
    return ModelRef("hub", text)


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", "./", "../", "~")) or text.count("/") > 1 or text.endswith(".gguf")


def _local_ref(path: Path) -> ModelRef:
    path = path.resolve()
    if path.is_file():
        if path.suffix.lower() == ".gguf":
            return ModelRef("gguf", str(path))
        raise ModelError(f"{path} is a file, not a model folder", "Point at the folder that holds config.json")
    if not (path / "config.json").is_file():
        raise ModelError(f"Folder {path} has no config.json, so it is not a transformers model",
                         "Point at the folder that holds config.json and the weights")
    return ModelRef("local", str(path))
