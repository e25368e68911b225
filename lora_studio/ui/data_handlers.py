"""The Data tab's handlers: module-level, they take the browser's run config (ui/run_state.py) and return a dict
keyed by component name (data_tab.py builds the tab and wires its components to them). The tab writes only the
fields it owns (the dataset, the base model, max length, the split): a file loads into the run config only when it
can be used, so a broken upload leaves the previous dataset selected.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gradio as gr

from lora_studio import settings
from lora_studio.config import COLUMN_ROLES, RunConfig
from lora_studio.dataset_rows import FormatUnknownError
from lora_studio.dataset_sources import fetch_hub_dataset, sample_path, store_upload
from lora_studio.errors import StudioError
from lora_studio.messages import text
from lora_studio.ui import data_view, run_state, token_view
from lora_studio.ui.data_view import Selection

log = logging.getLogger(__name__)
NONE = "(not used)"  # the value of a column dropdown's "not used" choice (its label is data.not_used)
# The widgets beside the dataset that set run-config fields (the Data tab owns them) → those fields.
CONTROLS = {
    "model": "model.name_or_path",
    "max_length": "data.max_length",
    "assistant_only": "data.assistant_only_loss",
    "eval_fraction": "data.eval_fraction",
    "seed": "training.seed",
}
VIEWS = (
    "status",
    *(f"map_{r}" for r in COLUMN_ROLES),
    "format",
    "mapping",
    "issues",
    "preview",
    "stats",
    "histogram",
    "tokens",
    "caption",
    "split",
    "eval_rows",
    "config",
    "cli",
    "row",
)
# What every loading handler may return (see DataTab.outputs()): the run config, what this tab drew, its views.
OUTPUTS = ("run_config", "shown", *VIEWS, *CONTROLS)


def not_used() -> tuple[str, str]:
    """A column dropdown's first choice: no column for this role."""
    return (text("data.not_used"), NONE)


def _dropdowns(columns: list[str], chosen: dict) -> list[Any]:
    choices = [not_used(), *columns]
    return [gr.update(choices=choices, value=chosen.get(role, NONE)) for role in COLUMN_ROLES]


def _drawn(cfg: RunConfig) -> dict[str, Any]:
    """The config as this tab has now drawn it: the run config and the part the tab compares on its next change."""
    return {"run_config": cfg.to_dict(), "shown": run_state.part(cfg, "data")}


def show(sel: Selection) -> dict[str, Any]:
    """Every view for a selection whose file loads; raises StudioError when it does not."""
    result = data_view.analyse(sel)
    data = result.data
    report = token_view.token_report(data, sel.model, sel.assistant_only_loss, sel.max_length)
    segments, caption = token_view.row_segments(data, sel.model, sel.assistant_only_loss, sel.max_length, 1)
    status = result.status_md
    if report.too_long_for_all:
        status += "\n\n" + text("data.all_too_long")
    values = {
        "status": status,
        "format": sel.format,
        "mapping": gr.update(open=bool(sel.columns) or sel.format != "auto"),
        "issues": result.issues,
        "preview": result.preview,
        "stats": report.stats_md,
        "histogram": report.figure,
        "tokens": segments,
        "caption": caption,
        "split": result.split_md,
        "eval_rows": result.eval_rows,
        "config": result.config_yaml,
        "cli": result.cli_command,
        "row": gr.update(value=1, maximum=max(len(data.rows), 1)),
    }
    values.update(zip((f"map_{r}" for r in COLUMN_ROLES), _dropdowns(data.columns, sel.columns), strict=True))
    return values


def _cleared() -> dict[str, Any]:
    values: dict[str, Any] = {name: None for name in ("issues", "preview", "eval_rows", "histogram")}
    values.update({name: "" for name in ("stats", "split", "caption", "config", "cli")})
    values["tokens"] = []
    return values


def failed(exc: StudioError, cfg: RunConfig, pending: Selection | None = None) -> dict[str, Any]:
    """The status explains; the run config keeps its dataset (nothing lost). A file whose columns need naming
    becomes the dataset, blocked until mapped, with the mapping opened."""
    if isinstance(exc, FormatUnknownError) and pending is not None:
        values = {
            **_drawn(pending.run_config(cfg)),
            **_cleared(),
            "status": text("data.which_columns", name=Path(pending.path).name, problem=exc.message),
            "mapping": gr.update(open=True),
        }
        values.update(zip((f"map_{r}" for r in COLUMN_ROLES), _dropdowns(exc.columns, {}), strict=True))
        return values
    previous = Selection.from_config(cfg) if cfg.data.path else None
    return {"status": data_view.describe_error(exc, previous)}


def load(cfg: RunConfig, sel: Selection) -> dict[str, Any]:
    """Show `sel` and make it the run config's dataset, or say why it cannot be (the config unchanged)."""
    try:
        return {**show(sel), **_drawn(sel.run_config(cfg))}
    except StudioError as exc:
        return failed(exc, cfg, pending=sel)


def _new_file(cfg: RunConfig, path: str) -> Selection:
    sel = Selection.from_config(cfg)
    sel.path, sel.format, sel.columns = path, "auto", {}
    return sel


def on_upload(state: dict | None, file_path: str | None) -> dict[str, Any]:
    cfg = run_state.from_state(state)
    if not file_path:
        return {}
    try:
        stored = store_upload(file_path)
    except StudioError as exc:
        return failed(exc, cfg)
    return load(cfg, _new_file(cfg, str(stored)))


def on_sample(state: dict | None, name: str | None) -> dict[str, Any]:
    cfg = run_state.from_state(state)
    try:
        if not name:
            raise StudioError(text("data.no_sample"), text("data.no_sample_hint"))
        path = sample_path(name)
    except StudioError as exc:
        return failed(exc, cfg)
    return load(cfg, _new_file(cfg, str(path)))


def on_hub(state: dict | None, dataset_id: str) -> dict[str, Any]:
    cfg = run_state.from_state(state)
    try:
        path = fetch_hub_dataset(dataset_id or "")
    except StudioError as exc:
        return failed(exc, cfg)
    return load(cfg, _new_file(cfg, str(path)))


def _control_fields(controls: dict[str, Any]) -> dict[str, Any]:
    fields = {CONTROLS[name]: value for name, value in controls.items() if name in CONTROLS}
    if "model.name_or_path" in fields:  # an empty box means the embedded model
        fields["model.name_or_path"] = (fields["model.name_or_path"] or "").strip() or settings.EMBEDDED_MODEL_NAME
    return fields


def on_settle(state: dict | None, controls: dict[str, Any]) -> dict[str, Any]:
    """Before a file loads: the settings as the page shows them, into the run config. A model typed just before
    a click may still be on its way there (its blur event races the click); this step runs first, so the file
    loads with what the user sees (and the tab does not redraw the old file for it)."""
    return _drawn(run_state.with_fields(run_state.from_state(state), _control_fields(controls)))


def on_settings(state: dict | None, controls: dict[str, Any], mapping: dict | None = None) -> dict[str, Any]:
    """A setting beside the dataset changed (or a column mapping was applied): into the run config, and the
    file shown again with it. Without a file, the settings still count."""
    cfg = run_state.with_fields(run_state.from_state(state), _control_fields(controls))
    if mapping is not None:
        cfg = run_state.with_fields(cfg, {"data.format": mapping["format"], "data.columns": mapping["columns"]})
    if not cfg.data.path:
        return _drawn(cfg)
    return load(cfg, Selection.from_config(cfg))


def on_change(state: dict | None, shown: dict | None) -> dict[str, Any]:
    """The run config changed (page load, a preset, a past run): redraw when the fields this tab shows differ
    from what it drew; its own changes were drawn already."""
    cfg = run_state.from_state(state)
    if shown is not None and run_state.part(cfg, "data") == shown:
        return {}
    # Never the run config itself: this reader's copy may already be older than the browser's.
    values = {
        "shown": run_state.part(cfg, "data"),
        **{name: run_state.get(cfg, dotted) for name, dotted in CONTROLS.items()},
    }
    if not cfg.data.path:
        return {**values, **_cleared(), "status": text("data.no_dataset")}
    try:
        return {**values, **show(Selection.from_config(cfg))}
    except StudioError as exc:  # the file went away or broke since: say so, keep the choice
        return {**values, **_cleared(), "status": data_view.describe_error(exc, None)}


# What a person can act with before the page's first draw of the kept run config lands: built unusable, made usable
# by that draw, so nothing typed, picked or uploaded before it is drawn over (ui/app.py, first_draw).
UNTIL_DRAWN = (*CONTROLS, "upload", "sample_btn", "hub_btn")


def first_draw(state: dict | None) -> dict[str, Any]:
    """On page load: the run config the browser kept, drawn (see on_change), and the tab made usable. A draw that
    fails for an unexpected reason still makes the tab usable: it is logged, the page shows its own defaults."""
    try:
        values = on_change(state, None)
    except Exception:  # a tab left unusable would lose the page
        log.exception("Drawing the kept run config on the Data tab failed")
        values = {}
    for name in UNTIL_DRAWN:
        values[name] = gr.update(value=values[name], interactive=True) if name in values else usable()[name]
    return values


def usable() -> dict[str, Any]:
    """The tab made usable, nothing else drawn: what a page whose first draw failed still gets."""
    return {name: gr.update(interactive=True) for name in UNTIL_DRAWN}


def on_row(state: dict | None, position: float | None) -> dict[str, Any]:
    cfg = run_state.from_state(state)
    if not cfg.data.path:
        return {"tokens": gr.skip()}
    sel = Selection.from_config(cfg)
    try:
        result = data_view.analyse(sel)
    except StudioError as exc:
        return {"tokens": [], "caption": text("data.preview_unavailable", problem=exc.one_line())}
    tokens, caption = token_view.row_segments(
        result.data, sel.model, sel.assistant_only_loss, sel.max_length, max(int(position or 1), 1)
    )
    return {"tokens": tokens, "caption": caption}


def mapping_from(values: dict) -> dict:
    columns = {role: values[f"map_{role}"] for role in COLUMN_ROLES if values[f"map_{role}"] not in (None, NONE)}
    return {"format": values["format"], "columns": columns}
