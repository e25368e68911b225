"""The Config tab's whole-config sources: a preset, a past run's settings, and saving the page as a preset.

Handlers are module-level, take the browser's run config (ui/run_state.py) and return a dict of component
name -> value; config_tab.py wires them. A preset or a past run replaces the whole run config (the dataset
and base model kept), and every tab redraws from its change.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import Any

import gradio as gr

from lora_studio import settings
from lora_studio.config import RunConfig
from lora_studio.dataset_sources import store_upload
from lora_studio.errors import StudioError
from lora_studio.messages import text
from lora_studio.presets import Preset, list_presets, load_preset, preset_config, save_preset
from lora_studio.runs import RunPaths, list_runs, read_status
from lora_studio.ui import run_state


def _keep_dataset(new: RunConfig, current: RunConfig) -> RunConfig:
    """A preset or a past run's settings, with the dataset and base model the page has now (presets name
    neither; a past run's file is taken when it still exists)."""
    return run_state.with_fields(
        new,
        {
            "data.path": current.data.path,
            "data.format": current.data.format,
            "data.columns": dict(current.data.columns),
            "model.name_or_path": current.model.name_or_path,
        },
    )


def preset_description(preset: Preset) -> str:
    """What a preset is for, in the page's language: a shipped preset's words come from the catalogue
    ("preset.<name>.description", its YAML's English verbatim); a user's preset, or a shipped one the catalogue
    does not know, says what its YAML says. The CLI's `presets` command prints the YAML's words."""
    if preset.builtin:
        with suppress(KeyError):
            return text(f"preset.{preset.name}.description")
    return preset.description


_READ_PRESETS: dict[tuple[str, int], RunConfig | None] = {}  # (file, its mtime) → its settings (None: unreadable)


def matching_preset(cfg: RunConfig) -> str | None:
    """The preset whose settings the run config holds now (its dataset and base model aside), if any: what the
    Preset box shows, so that after an edit or a reload it never names a preset the settings no longer are. Each
    preset file is read once until it changes (this runs on every change of the run config)."""
    current = cfg.to_dict()
    for preset in list_presets():
        try:
            key = (str(preset.path), preset.path.stat().st_mtime_ns)
        except OSError:  # deleted meanwhile
            continue
        if key not in _READ_PRESETS:
            try:
                _READ_PRESETS[key] = preset_config(preset.path)
            except (StudioError, OSError):  # an unreadable user preset matches nothing
                _READ_PRESETS[key] = None
        settings_of = _READ_PRESETS[key]
        if settings_of is not None and _keep_dataset(settings_of, cfg).to_dict() == current:
            return preset.name
    return None


def preset_shown(cfg: RunConfig) -> Any:
    """The Preset box for the run config: the preset it matches, or empty with a line saying the settings differ."""
    name = matching_preset(cfg)
    return gr.update(value=name, info=text("config.preset_info" if name else "config.preset_changed"))


def on_preset(name: str | None, state: dict | None) -> dict[str, Any]:
    """Every setting from the defaults and the preset, nothing left from before (the dataset and model kept)."""
    try:
        if not name:
            raise StudioError(text("config.no_preset"), text("config.no_preset_hint"))
        warnings: list[str] = []
        cfg = _keep_dataset(load_preset(name, warnings), run_state.from_state(state))
    except StudioError as exc:
        return {"message": f"❌ {exc.one_line()}"}
    description = next((preset_description(p) for p in list_presets() if p.name == name), "")
    note = text("config.preset_warnings", warnings="; ".join(warnings)) if warnings else ""
    message = text("config.preset_loaded", name=name, description=description, note=note)
    return {"run_config": cfg.to_dict(), "message": message}


def run_choices() -> list[tuple[str, str]]:
    return [(f"{r.run_id} · {read_status(r).state}", r.run_id) for r in list_runs(settings.runs_dir())]


def on_run(run_id: str | None, state: dict | None) -> dict[str, Any]:
    """A past run's config.yaml: every setting, and its data file (copied into uploads/) when it still exists."""
    paths = RunPaths(settings.runs_dir() / (run_id or ""))
    if not run_id or not paths.config.is_file():
        return {"message": text("config.run_missing", run_id=run_id or "")}
    warnings: list[str] = []
    try:
        cfg = RunConfig.load(paths.config, warnings)
    except StudioError as exc:
        return {"message": f"❌ {exc.one_line()}"}
    current = run_state.from_state(state)
    if cfg.data.path and Path(cfg.data.path).is_file():
        try:
            cfg.data.path = str(store_upload(cfg.data.path))
            note = text("config.run_data_kept", name=Path(cfg.data.path).name)
        except StudioError as exc:
            cfg = run_state.with_fields(
                cfg,
                {
                    "data.path": current.data.path,
                    "data.format": current.data.format,
                    "data.columns": dict(current.data.columns),
                },
            )
            note = text("config.run_data_unusable", problem=exc.message)
    else:
        gone = (
            text("config.run_data_gone", name=Path(cfg.data.path).name)
            if cfg.data.path
            else text("config.run_data_unrecorded")
        )
        cfg = run_state.with_fields(
            cfg,
            {
                "data.path": current.data.path,
                "data.format": current.data.format,
                "data.columns": dict(current.data.columns),
            },
        )
        note = text("config.run_data_missing", gone=gone)
    extra = text("config.run_warnings", warnings="; ".join(warnings)) if warnings else ""
    return {"run_config": cfg.to_dict(), "message": text("config.run_loaded", run_id=run_id, note=note, extra=extra)}


def preset_choices() -> list[tuple[str, str]]:
    return [(p.name if p.builtin else text("config.preset_yours", name=p.name), p.name) for p in list_presets()]


def on_save(name: str | None, description: str | None, state: dict | None) -> dict[str, Any]:
    name = (name or "").strip()
    cfg = run_state.from_state(state)
    issues = cfg.validate()
    if issues:
        return {"save_msg": text("config.not_saved", count=len(issues))}
    try:
        path = save_preset(name, cfg, (description or "").strip())
    except StudioError as exc:
        return {"save_msg": f"❌ {exc.one_line()}"}
    return {
        "save_msg": text("config.saved", name=name, path=path),
        "preset": gr.update(choices=preset_choices(), value=name),
    }
