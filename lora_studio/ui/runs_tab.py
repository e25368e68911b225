"""The Runs tab: every run on disk, loss curves side by side, what differs, and how to run it again.

Handlers are module-level and return values in `OUTPUTS` order; they read the runs folder on every
call (the disk is the truth), so a run started from the command line shows up on the next refresh.
The run whose details are shown (and that Delete acts on) is the one selected last.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from lora_studio import settings
from lora_studio.errors import StudioError
from lora_studio.eval_report import latest_scores
from lora_studio.messages import status_words, text
from lora_studio.runs import RunPaths, delete_run, run_summary
from lora_studio.ui import runs_view
from lora_studio.ui.charts import compare_figure, loss_figure

log = logging.getLogger(__name__)

OUTPUTS = (
    "overview",
    "table",
    "selection",
    "plot",
    "diff_note",
    "diff",
    "details",
    "log_panel",
    "log",
    "cli",
    "delete_btn",
    "confirm_btn",
    "cancel_btn",
    "delete_msg",
    "armed",
)
# Outputs that depend only on the selection (the run list itself is left as it is).
SELECTION_OUTPUTS = OUTPUTS[3:]


def NO_RUN() -> str:  # a function, not a constant: the text follows the page's language
    return text("runs.no_run")


# One width per runs_view.COLUMN_KEYS; the note (last) column may scroll.
TABLE_WIDTHS = (
    "270px",  # run
    "210px",  # status
    "85px",  # final loss
    "85px",  # eval loss
    "95px",  # exact match
    "80px",  # ROUGE-L
    "65px",  # chrF
    "150px",  # created
    "260px",  # model
    "50px",  # r
    "65px",  # alpha
    "85px",  # lr
    "90px",  # length
    "65px",  # batch
    "75px",  # max len
    "95px",  # steps
    "320px",  # note
)


def _focused(selected: list[str] | None) -> str | None:
    return selected[-1] if selected else None


def _disarmed(focused: str | None, message: str | None = None) -> dict[str, Any]:
    """Delete back to its first step; `message` None leaves the last delete message showing."""
    return {
        "delete_btn": gr.update(
            value=text("runs.delete_run", run_id=focused) if focused else text("runs.delete"),
            interactive=bool(focused),
        ),
        "confirm_btn": gr.update(visible=False),
        "cancel_btn": gr.update(visible=False),
        "delete_msg": gr.skip() if message is None else message,
        "armed": None,
    }


def selection_values(selected: list[str] | None, message: str | None = None) -> dict[str, Any]:
    """Chart, config diff, details, log tail and CLI for the selected runs (read fresh from disk)."""
    root = settings.runs_dir()
    summaries = [run_summary(RunPaths(root / run_id)) for run_id in selected or [] if (root / run_id).is_dir()]
    if len(summaries) == 1:
        figure = loss_figure(summaries[0].rows, title=summaries[0].paths.run_id)
    else:
        figure = compare_figure(runs_view.compare_series(summaries))
    diff = runs_view.config_diff(summaries)
    values: dict[str, Any] = {
        # An empty chart and command box say nothing; they appear once a run is selected.
        "plot": gr.update(value=figure, visible=bool(summaries)),
        "diff": gr.update(value=diff, visible=len(diff) > 0),
        "diff_note": runs_view.diff_note(summaries, diff) if summaries else "",
    }
    focus = summaries[-1] if summaries else None
    if focus is None:
        values.update(
            details=NO_RUN(), log="", log_panel=gr.update(visible=False), cli=gr.update(value="", visible=False)
        )
    else:
        values.update(
            details=runs_view.details_md(focus),
            log=runs_view.log_tail(focus.paths),
            log_panel=gr.update(visible=True),
            cli=gr.update(value=runs_view.cli_commands(focus), visible=True),
        )
    values.update(_disarmed(focus.paths.run_id if focus else None, message))
    return values


def refresh_values(selected: list[str] | None, message: str | None = None) -> dict[str, Any]:
    """The whole tab: run list, then the selection (runs that no longer exist drop out of it)."""
    root = settings.runs_dir()
    summaries = runs_view.load_summaries(root)
    ids = [s.paths.run_id for s in summaries]
    kept = [run_id for run_id in selected or [] if run_id in ids]
    values = {
        "overview": runs_view.overview_md(summaries, root),
        "table": runs_view.runs_table(summaries, latest_scores(root)),
        "selection": gr.update(choices=ids, value=kept),
    }
    values.update(selection_values(kept, message))
    return values


def _ordered(values: dict[str, Any], names: tuple[str, ...] = OUTPUTS) -> list[Any]:
    return [values.get(name, gr.skip()) for name in names]


def on_refresh(selected: list[str] | None) -> list[Any]:
    return _ordered(refresh_values(selected))


def on_select(selected: list[str] | None, armed: str | None = None) -> list[Any]:
    # Changing the selection disarms a pending delete; a finished delete keeps its message.
    return _ordered(selection_values(selected, "" if armed else None), SELECTION_OUTPUTS)


def toggle_run(selected: list[str] | None, run_id: str | None) -> list[str]:
    """A click on a table row adds that run to the selection, or takes it out when it was selected."""
    chosen = list(selected or [])
    if not run_id:
        return chosen
    return [r for r in chosen if r != run_id] if run_id in chosen else [*chosen, run_id]


def on_table_select(selected: list[str] | None, evt: gr.SelectData) -> list[str]:
    row = evt.row_value or []
    return toggle_run(selected, str(row[0]) if row else None)


def on_arm_delete(selected: list[str] | None) -> list[Any]:
    """First click: refuse an active run at once, otherwise show the confirm button."""
    run_id = _focused(selected)
    values: dict[str, Any] = {}
    if run_id is None:
        values.update(_disarmed(None, text("runs.delete_pick")))
        return _ordered(values, SELECTION_OUTPUTS)
    summary = run_summary(RunPaths(settings.runs_dir() / run_id))
    if runs_view.is_active(summary):
        values.update(
            _disarmed(
                run_id,
                text("runs.delete_active", run_id=run_id, state=status_words(summary.status.state)),
            )
        )
        return _ordered(values, SELECTION_OUTPUTS)
    confirm = text("runs.confirm_delete_run", run_id=run_id)
    values.update(
        {
            "confirm_btn": gr.update(value=confirm, visible=True),
            "cancel_btn": gr.update(visible=True),
            "armed": run_id,
            "delete_msg": text("runs.delete_ask", root=summary.paths.root, button=confirm),
        }
    )
    return _ordered(values, SELECTION_OUTPUTS)


def on_confirm_delete(armed: str | None, selected: list[str] | None) -> list[Any]:
    """Second click: delete the armed run (refused by `delete_run` when it became active meanwhile)."""
    if not armed or armed != _focused(selected):
        return _ordered(refresh_values(selected, text("runs.delete_nothing")))
    try:
        delete_run(RunPaths(settings.runs_dir() / armed), settings.runs_dir())
    except StudioError as exc:
        return _ordered(refresh_values(selected, f"⚠️ {exc.one_line()}"))
    except OSError as exc:
        log.warning("deleting run %s failed: %s", armed, exc)
        return _ordered(refresh_values(selected, text("runs.delete_failed", run_id=armed, error=exc)))
    log.info("deleted run %s", armed)
    remaining = [run_id for run_id in selected or [] if run_id != armed]
    return _ordered(refresh_values(remaining, text("runs.deleted", run_id=armed)))


def on_cancel_delete(selected: list[str] | None) -> list[Any]:
    return _ordered(_disarmed(_focused(selected), text("runs.delete_cancelled")), SELECTION_OUTPUTS)


@dataclass
class RunsTab:
    components: dict[str, Any]

    def outputs(self, names: tuple[str, ...] = OUTPUTS) -> list[Any]:
        return [self.components[name] for name in names]

    @property
    def refresh(self) -> Callable[[list[str] | None], list[Any]]:
        """The handler that re-reads every run; wire it with `refresh_on` (inputs: the selection)."""
        return on_refresh

    def refresh_on(self, *triggers: Any) -> None:
        """Re-read the runs folder when any of these events fire, e.g. a tab select or a run ending."""
        gr.on(list(triggers), on_refresh, [self.components["selection"]], self.outputs(), show_progress="hidden")


def build_runs_tab(tab: gr.Tab | None = None) -> RunsTab:
    """Build the tab's components inside the current context; `tab` refreshes the list when selected."""
    c: dict[str, Any] = {}
    with gr.Row():
        c["overview"] = gr.Markdown(text("runs.press_refresh"), elem_id="runs-overview")
        c["refresh_btn"] = gr.Button(text("runs.refresh"), size="sm", scale=0, min_width=120, elem_id="runs-refresh")
    c["table"] = gr.Dataframe(
        label=text("runs.table_label"),
        interactive=False,
        wrap=True,
        max_height=360,
        pinned_columns=1,
        column_widths=list(TABLE_WIDTHS),
        elem_id="runs-table",
    )
    c["selection"] = gr.Dropdown(
        [],
        value=[],
        multiselect=True,
        label=text("runs.selection_label"),
        info=text("runs.selection_info"),
        elem_id="runs-selection",
    )
    c["plot"] = gr.Plot(label=text("runs.plot_label"), visible=False, elem_id="runs-plot")
    c["diff_note"] = gr.Markdown(elem_id="runs-diff-note")
    c["diff"] = gr.Dataframe(
        label=text("runs.diff_label"), interactive=False, wrap=True, visible=False, elem_id="runs-diff"
    )
    c["details"] = gr.Markdown(NO_RUN(), elem_id="runs-details")
    with gr.Accordion(text("runs.log_title"), open=False, visible=False) as c["log_panel"]:
        c["log"] = gr.Code(language=None, label="train.log", interactive=False, elem_id="runs-log")
    c["cli"] = gr.Code(
        language="shell",
        label=text("runs.cli_label"),
        interactive=False,
        visible=False,
        elem_id="runs-cli",
    )
    with gr.Row():
        c["delete_btn"] = gr.Button(
            text("runs.delete"), variant="secondary", interactive=False, scale=0, min_width=420, elem_id="runs-delete"
        )
        c["confirm_btn"] = gr.Button(
            text("runs.confirm_delete"),
            variant="stop",
            visible=False,
            scale=0,
            min_width=480,
            elem_id="runs-confirm-delete",
        )
        c["cancel_btn"] = gr.Button(
            text("runs.cancel"), visible=False, scale=0, min_width=100, elem_id="runs-cancel-delete"
        )
    c["delete_msg"] = gr.Markdown(elem_id="runs-delete-msg")
    c["armed"] = gr.State(None)
    runs = RunsTab(c)
    _wire(runs, tab)
    return runs


def _wire(runs: RunsTab, tab: gr.Tab | None) -> None:
    c = runs.components
    selection = c["selection"]
    triggers = [c["refresh_btn"].click] + ([tab.select] if tab is not None else [])
    runs.refresh_on(*triggers)
    selection.change(on_select, [selection, c["armed"]], runs.outputs(SELECTION_OUTPUTS), show_progress="hidden")
    c["table"].select(on_table_select, selection, selection)
    c["delete_btn"].click(on_arm_delete, selection, runs.outputs(SELECTION_OUTPUTS))
    c["cancel_btn"].click(on_cancel_delete, selection, runs.outputs(SELECTION_OUTPUTS))
    c["confirm_btn"].click(on_confirm_delete, [c["armed"], selection], runs.outputs())
