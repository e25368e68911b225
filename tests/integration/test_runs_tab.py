"""Runs tab handlers, called as the browser calls them (no browser, no training)."""

from __future__ import annotations

import gradio as gr
import plotly.graph_objects as go
import pytest

from lora_studio.ui import runs_tab
from lora_studio.ui.charts import WAITING
from lora_studio.ui.runs_tab import OUTPUTS, SELECTION_OUTPUTS
from tests.unit.test_runs_view import make_run


def out(values: list) -> dict:
    return dict(zip(OUTPUTS, values, strict=True))


def sel_out(values: list) -> dict:
    return dict(zip(SELECTION_OUTPUTS, values, strict=True))


@pytest.fixture
def runs_root(studio_home):
    root = studio_home / "runs"
    make_run(root, "20240101-000001-base", overrides=["lora.r=8"], evals=((30, 1.4),), final_loss=1.2)
    make_run(root, "20240101-000002-wide", overrides=["lora.r=32"], losses=(2.2, 1.4, 0.9))
    make_run(
        root,
        "20240101-000003-oom",
        state="failed",
        losses=(),
        error="CUDA out of memory",
        error_kind="out_of_memory",
        hint="Lower the batch size",
    )
    corrupt = make_run(root, "20240101-000004-corrupt")
    corrupt.status.write_text("{", encoding="utf-8")
    return root


def trace_names(fig: go.Figure) -> set[str]:
    return {t.name for t in fig.data}


def test_refresh_lists_every_run_and_offers_them_for_selection(runs_root):
    res = out(runs_tab.on_refresh(None))
    assert len(res["table"]) == 4
    assert res["selection"]["choices"] == list(res["table"]["run"])
    assert res["selection"]["value"] == []
    assert "4 run(s)" in res["overview"]
    assert res["details"] == runs_tab.NO_RUN()
    assert not any(res[k]["visible"] for k in ("plot", "cli", "log_panel"))  # nothing to show yet
    assert len(runs_tab.TABLE_WIDTHS) == len(res["table"].columns)
    assert res["delete_btn"]["interactive"] is False


def test_refresh_drops_runs_that_disappeared_from_the_selection(runs_root):
    res = out(runs_tab.on_refresh(["20240101-000001-base", "gone-run"]))
    assert res["selection"]["value"] == ["20240101-000001-base"]


def test_one_selected_run_shows_its_loss_chart_details_log_and_cli(runs_root):
    res = sel_out(runs_tab.on_select(["20240101-000001-base"]))
    assert {"loss", "loss (smoothed)", "eval loss", "learning rate"} <= trace_names(res["plot"]["value"])
    assert res["plot"]["visible"] is True and res["cli"]["visible"] is True
    assert "### 20240101-000001-base" in res["details"] and "1.2000" in res["details"]
    assert res["log"].splitlines()[-1] == "log line 30"
    assert "python -m lora_studio train --config" in res["cli"]["value"]
    assert res["delete_btn"]["value"] == "Delete 20240101-000001-base"
    assert res["diff"]["visible"] is False and "two or more" in res["diff_note"]


def test_several_runs_overlay_losses_and_diff_their_configs(runs_root):
    res = sel_out(runs_tab.on_select(["20240101-000001-base", "20240101-000002-wide"]))
    assert trace_names(res["plot"]["value"]) == {
        "20240101-000001-base (raw)",
        "20240101-000001-base (smoothed)",
        "20240101-000001-base (eval)",
        "20240101-000002-wide (raw)",
        "20240101-000002-wide (smoothed)",
    }  # the legend says which line is which
    diff = res["diff"]["value"]
    assert res["diff"]["visible"] is True
    assert list(diff["setting"]) == ["lora.r"]
    assert diff.iloc[0].to_dict() == {"setting": "lora.r", "20240101-000001-base": "8", "20240101-000002-wide": "32"}
    # details follow the run picked last
    assert "### 20240101-000002-wide" in res["details"]


def test_failed_and_corrupt_runs_show_their_problem(runs_root):
    oom = sel_out(runs_tab.on_select(["20240101-000003-oom"]))
    assert "CUDA out of memory" in oom["details"] and "Lower the batch size" in oom["details"]
    assert WAITING() in [a.text for a in oom["plot"]["value"].layout.annotations]
    corrupt = sel_out(runs_tab.on_select(["20240101-000004-corrupt"]))
    assert "status.json is unreadable" in corrupt["details"]


def test_table_click_toggles_a_run_in_the_selection(runs_root):
    event = gr.SelectData(None, {"index": [1, 0], "value": "x", "row_value": ["20240101-000002-wide", "✅"]})
    assert runs_tab.on_table_select(["20240101-000001-base"], event) == ["20240101-000001-base", "20240101-000002-wide"]
    assert runs_tab.on_table_select(["20240101-000002-wide"], event) == []


def test_delete_needs_a_confirmation_then_removes_the_run(runs_root):
    selected = ["20240101-000002-wide", "20240101-000003-oom"]
    armed = sel_out(runs_tab.on_arm_delete(selected))
    assert armed["armed"] == "20240101-000003-oom"
    assert armed["confirm_btn"]["visible"] is True
    assert armed["confirm_btn"]["value"] == "Confirm delete 20240101-000003-oom"
    assert (runs_root / "20240101-000003-oom").is_dir()  # nothing deleted on the first click

    done = out(runs_tab.on_confirm_delete(armed["armed"], selected))
    assert not (runs_root / "20240101-000003-oom").exists()
    assert "Deleted run **20240101-000003-oom**" in done["delete_msg"]
    assert done["selection"]["value"] == ["20240101-000002-wide"]
    assert "20240101-000003-oom" not in list(done["table"]["run"])
    assert done["confirm_btn"]["visible"] is False and done["armed"] is None


def test_cancel_and_stale_confirmations_delete_nothing(runs_root):
    cancelled = sel_out(runs_tab.on_cancel_delete(["20240101-000001-base"]))
    assert cancelled["armed"] is None and cancelled["confirm_btn"]["visible"] is False
    # armed for one run, but the selection moved on: nothing happens
    res = out(runs_tab.on_confirm_delete("20240101-000001-base", ["20240101-000002-wide"]))
    assert "Nothing to delete" in res["delete_msg"]
    assert (runs_root / "20240101-000001-base").is_dir() and (runs_root / "20240101-000002-wide").is_dir()


@pytest.mark.parametrize("state", ["running", "queued"])
def test_active_runs_cannot_be_deleted(runs_root, state):
    paths = make_run(runs_root, f"20240101-000005-{state}", state=state)
    res = sel_out(runs_tab.on_arm_delete([paths.run_id]))
    assert "stop or cancel it first" in res["delete_msg"] and res["armed"] is None
    # the run became active after it was armed: delete_run still refuses
    res = out(runs_tab.on_confirm_delete(paths.run_id, [paths.run_id]))
    assert "Stop or cancel it first" in res["delete_msg"]
    assert paths.root.is_dir()


def test_selection_change_keeps_a_finished_delete_message_but_clears_a_pending_one(runs_root):
    kept = sel_out(runs_tab.on_select(["20240101-000001-base"], None))
    assert kept["delete_msg"] == gr.skip()
    cleared = sel_out(runs_tab.on_select(["20240101-000001-base"], "20240101-000002-wide"))
    assert cleared["delete_msg"] == "" and cleared["armed"] is None


def test_tab_builds_inside_blocks_and_wires_refresh(runs_root):
    with gr.Blocks() as demo, gr.Tabs(), gr.Tab("Runs") as tab:
        built = runs_tab.build_runs_tab(tab)
    assert set(OUTPUTS) <= set(built.components)
    assert built.refresh is runs_tab.on_refresh
    fns = {dep.fn for dep in demo.fns.values()}
    assert runs_tab.on_refresh in fns and runs_tab.on_confirm_delete in fns
