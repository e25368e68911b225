"""The one run config of a page: a `RunConfig.to_dict()` in a `gr.State`, owned by no tab.

`ui/app.py` creates it and hands it to every tab. A tab reads it whole and writes only the fields it owns
(declared on each field in config.py: metadata owner "data" or "config"); the Train tab starts exactly
what it holds. Each change is copied into a `gr.BrowserState` (the browser's storage, encrypted with a key
kept in LORA_STUDIO_HOME so it outlives a server restart) and `kept_config` brings it back on page load: a
reload or a restarted server loses no setting and no dataset choice. The copy is never written by a tab.

Because the browser sends its copy back, nothing in it is trusted: `from_state` reads it through the config's
own merge (unknown keys ignored, bad values left for validation to report) and keeps a data file only if
it is one LoRA Studio stored (uploads/) or ships (samples/) — a page must not be able to point the server
at any file on disk. Each tab keeps, per session, the part it last drew (`part`), so a change that came
from another tab (a preset, a past run) redraws it, and its own change does not.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from pathlib import Path
from typing import Any

from lora_studio import settings
from lora_studio.config import SECTIONS, RunConfig, field_metadata, merge_dict
from lora_studio.errors import StudioError

log = logging.getLogger(__name__)
STORAGE_KEY = "lora-studio-run-config"
RUN_KEY = "lora-studio-watched-run"
SECRET_FILE = "browser-state.key"


def secret() -> str:
    """The key the browser's copy is encrypted with: made once per LoRA Studio home, kept there (0600)."""
    path = settings.studio_home() / SECRET_FILE
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError:  # first start (or unreadable): a new one below
        value = ""
    if len(value) >= 16:
        return value
    value = secrets.token_urlsafe(24)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value, encoding="utf-8")
        path.chmod(0o600)
    except OSError as exc:  # a read-only home: the state then lasts until the server restarts
        log.warning("Could not keep the browser-state key in %s (%s): settings last until a restart", path, exc)
    return value


def allowed_data_file(path: str) -> bool:
    """A file LoRA Studio stored (uploads/) or ships (samples/): the only data files a page may name."""
    if not path:
        return True
    try:
        resolved = Path(path).resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    roots = [settings.uploads_dir().resolve(), settings.SAMPLES_DIR.resolve()]
    return any(root == resolved.parent or root in resolved.parents for root in roots)


def from_state(state: Any, fallback: RunConfig | None = None) -> RunConfig:
    """The RunConfig a page holds (`fallback` when it holds nothing readable); a data file it may not name is
    dropped, so the page shows 'no dataset' instead of reading an arbitrary file."""
    cfg = fallback or RunConfig()
    if isinstance(state, dict):
        try:
            cfg = merge_dict(RunConfig(), {k: v for k, v in state.items() if k in SECTIONS})
        except StudioError:
            cfg = fallback or RunConfig()
    if not isinstance(cfg.data.path, str) or not allowed_data_file(cfg.data.path):
        cfg.data.path = ""
    return cfg


def kept_config(kept: Any) -> dict | None:
    """On page load: the run config the browser kept, read defensively; None when it kept none."""
    return from_state(kept).to_dict() if isinstance(kept, dict) else None


def owned_by(owner: str) -> list[str]:
    """The dotted fields one tab owns ("data" or "config")."""
    return [
        f"{section}.{f.name}"
        for section, cls in SECTIONS.items()
        for f in dataclasses.fields(cls)
        if field_metadata(f"{section}.{f.name}")["owner"] == owner
    ]


def get(cfg: RunConfig, dotted: str) -> Any:
    section, _, name = dotted.partition(".")
    return getattr(getattr(cfg, section), name)


def part(cfg: RunConfig, owner: str) -> dict[str, Any]:
    """The fields `owner` draws, as plain values: what a tab compares to know whether to redraw."""
    return {name: get(cfg, name) for name in owned_by(owner)}


def with_fields(cfg: RunConfig, values: dict[str, Any]) -> RunConfig:
    """A copy of `cfg` with the dotted fields in `values` replaced (the rest kept)."""
    data: dict[str, dict] = {}
    for dotted, value in values.items():
        section, _, name = dotted.partition(".")
        data.setdefault(section, {})[name] = value
    return merge_dict(cfg, data)
