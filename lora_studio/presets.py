"""Presets: named partial RunConfigs, shipped in lora_studio/assets/presets/*.yaml or saved by the user."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from lora_studio.config import RunConfig, merge_dict
from lora_studio.errors import ConfigError
from lora_studio.messages import text
from lora_studio.settings import PRESETS_DIR, user_presets_dir

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class Preset:
    name: str
    description: str
    path: Path
    builtin: bool


def _preset_dirs() -> list[tuple[Path, bool]]:
    return [(PRESETS_DIR, True), (user_presets_dir(), False)]


def list_presets() -> list[Preset]:
    """Shipped presets first, then the user's; a user preset never hides a shipped one."""
    found: dict[str, Preset] = {}
    for folder, builtin in _preset_dirs():
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            if path.stem in found:
                continue
            found[path.stem] = Preset(path.stem, _description(path), path, builtin)
    return list(found.values())


def _description(path: Path) -> str:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, ValueError, RecursionError) as exc:  # ValueError: a date like 2001-13-01
        return text("presets.unreadable", error=exc)
    return str(data.get("description", "")) if isinstance(data, dict) else ""


def load_preset(name: str, warnings: list[str] | None = None) -> RunConfig:
    """The defaults with the preset laid over them."""
    for preset in list_presets():
        if preset.name == name:
            return preset_config(preset.path, warnings)
    known = ", ".join(p.name for p in list_presets()) or text("presets.none")
    raise ConfigError(text("presets.no_such", name=name), text("presets.no_such_hint", known=known))


def preset_config(path: Path, warnings: list[str] | None = None) -> RunConfig:
    return merge_dict(RunConfig(), _read_sections(path), warnings)


def _read_sections(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise ConfigError(text("presets.bad_yaml", name=path.name, error=exc), text("presets.fix_file")) from exc
    if not isinstance(data, dict):
        raise ConfigError(text("presets.not_mapping", name=path.name), text("presets.fix_file"))
    data.pop("description", None)
    return data


def save_preset(name: str, cfg: RunConfig, description: str = "") -> Path:
    """Save the user's preset; shipped presets cannot be overwritten. The data file is not kept."""
    if not _NAME_RE.match(name):
        raise ConfigError(text("presets.bad_name", name=name), text("presets.bad_name_hint"))
    if (PRESETS_DIR / f"{name}.yaml").exists():
        raise ConfigError(text("presets.shipped", name=name), text("presets.shipped_hint"))
    data = cfg.to_dict()
    data["data"].pop("path", None)
    folder = user_presets_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    body = yaml.safe_dump({"description": description, **data}, sort_keys=False)
    path.write_text(body, encoding="utf-8")
    return path
