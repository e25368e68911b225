"""Token-level views for the Data tab: the exact text the model sees, loss mask, length statistics.

The torch stack is imported lazily inside these handlers (tokenizers come from transformers), so
importing the UI never pulls in torch; the first preview pays that import once.
"""

from __future__ import annotations

from dataclasses import dataclass

from lora_studio.dataset_rows import LoadedData
from lora_studio.errors import StudioError
from lora_studio.estimates import every_row_too_long, token_lines
from lora_studio.messages import text
from lora_studio.ui.charts import token_length_histogram
from lora_studio.ui.engine_access import engine

# The engine's segment labels (engine/preview.py's LEARNED, CONTEXT, CUT: written out, importing it pulls in torch)
# → the message that names them on the page, and their colour.
SEGMENT_MESSAGES = {
    "learned": "data.tokens.learned",
    "context (not learned)": "data.tokens.context",
    "cut off (past max length)": "data.tokens.cut",
}
SEGMENT_COLORS = {"learned": "#2f9e44", "context (not learned)": "#ced4da", "cut off (past max length)": "#fa5252"}


def COLOR_MAP() -> dict[str, str]:
    """The highlight colour of each segment label, as the current language names it (see `shown`)."""
    return {text(SEGMENT_MESSAGES[label]): color for label, color in SEGMENT_COLORS.items()}


def shown(segments: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """The engine's segments with their labels in the current language, matching COLOR_MAP()'s keys."""
    return [(piece, text(SEGMENT_MESSAGES[label]) if label in SEGMENT_MESSAGES else label) for piece, label in segments]


@dataclass
class TokenReport:
    stats_md: str
    figure: object | None
    too_long_for_all: bool


def _stats(data: LoadedData, model: str, assistant_only: bool, max_length: int):
    with engine("preview") as preview:  # lazy and locked: see ui/engine_access.py
        return preview.Previewer(data, model, assistant_only).stats(max_length)


def _pair_view(data: LoadedData, model: str, index: int, max_length: int):
    with engine("preview") as preview:
        return preview.Previewer(data, model).pair_view(index, max_length)


def _pair_segments(
    data: LoadedData, model: str, index: int, max_length: int, source_row: object
) -> tuple[list[tuple[str, str | None]], str]:
    """The prompt with the chosen answer, then the rejected answer (its prompt is the same, not repeated)."""
    try:
        chosen, rejected = _pair_view(data, model, index, max_length)
    except StudioError as exc:
        return [], text("tokens.unavailable", problem=exc.one_line())
    segments: list[tuple[str, str | None]] = [
        (text("pairs.chosen_heading"), None),
        *shown(chosen.segments),
        (text("pairs.rejected_heading"), None),
        *shown(rejected.segments),
    ]
    caption = text(
        "pairs.caption",
        position=index + 1,
        rows=len(data.rows),
        unit=text("data.unit.line") if data.kind == "jsonl" else text("data.unit.row"),
        source=source_row,
        chosen=chosen.n_tokens,
        rejected=rejected.n_tokens,
        learned=chosen.n_learned + rejected.n_learned,
    )
    if chosen.truncated or rejected.truncated:
        caption += " " + text("pairs.truncated", max_length=max_length)
    if chosen.dropped and rejected.dropped:
        caption += " " + text("pairs.dropped")
    return segments, caption


def _view(data: LoadedData, model: str, assistant_only: bool, index: int, max_length: int):
    with engine("preview") as preview:
        return preview.Previewer(data, model, assistant_only).view(index, max_length)


def token_report(data: LoadedData, model: str, assistant_only: bool, max_length: int) -> TokenReport:
    """The statistics in words (lora_studio.estimates) with their length histogram."""
    try:
        stats = _stats(data, model, assistant_only, int(max_length))
    except StudioError as exc:
        return TokenReport(text("tokens.unavailable", problem=exc.one_line()), None, False)
    if not stats.lengths:
        return TokenReport(text("tokens.no_rows"), None, False)
    figure = token_length_histogram(stats.lengths, stats.max_length, stats.rejected_lengths or None)
    return TokenReport("\n\n".join(token_lines(stats)), figure, every_row_too_long(stats))


def row_segments(
    data: LoadedData, model: str, assistant_only: bool, max_length: int, row_position: int
) -> tuple[list[tuple[str, str | None]], str]:
    """(highlighted segments, caption) for one row; position is 1-based among usable rows."""
    if not data.rows:
        return [], text("data.no_usable_rows")
    index = min(max(int(row_position or 1), 1), len(data.rows)) - 1
    if data.format == "preference":
        return _pair_segments(data, model, index, int(max_length), data.rows[index].get("_row"))
    try:
        view = _view(data, model, assistant_only, index, int(max_length))
    except StudioError as exc:
        return [], text("data.preview_unavailable", problem=exc.one_line())
    caption = text(
        "data.row_caption",
        position=index + 1,
        rows=len(data.rows),
        unit=text("data.unit.line") if data.kind == "jsonl" else text("data.unit.row"),
        source=data.rows[index].get("_row"),
        tokens=view.n_tokens,
        learned=view.n_learned,
    )
    if view.truncated:
        caption += " " + text("data.row_truncated", max_length=max_length)
    if view.dropped:
        caption += " " + text("data.row_dropped")
    return shown(view.segments), caption
