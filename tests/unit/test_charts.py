from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest

from lora_studio.metrics import MetricRow
from lora_studio.ui.charts import (
    NOTHING_TO_COMPARE,
    WAITING,
    compare_figure,
    loss_figure,
    smooth,
    token_length_histogram,
)


def log(step: int, loss: float | None, lr: float | None = 1e-4) -> MetricRow:
    return MetricRow("log", step, 100, loss=loss, learning_rate=lr)


def evaluation(step: int, eval_loss: float) -> MetricRow:
    return MetricRow("eval", step, 100, eval_loss=eval_loss)


def traces(fig: go.Figure) -> dict[str, go.Scatter]:
    return {t.name: t for t in fig.data}


def annotations(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def test_smooth_is_bias_corrected_ema():
    # The first point equals the first value (no drag towards 0), then a debiased EMA follows.
    assert smooth([2.0]) == [2.0]
    out = smooth([1.0, 3.0], weight=0.5)
    # raw EMA: 0.5, then 0.5*0.5 + 0.5*3 = 1.75; debias by 0.5 and 0.75
    assert out == pytest.approx([1.0, 1.75 / 0.75])


def test_smooth_of_constant_is_constant_and_weight_zero_is_identity():
    assert smooth([5.0] * 6, weight=0.9) == pytest.approx([5.0] * 6)
    assert smooth([3.0, 1.0, 2.0], weight=0.0) == [3.0, 1.0, 2.0]


def test_smooth_keeps_gaps_for_diverged_values():
    out = smooth([1.0, None, float("nan"), 1.0], weight=0.6)
    assert out[1] is None and out[2] is None
    assert out[0] == pytest.approx(1.0) and out[3] == pytest.approx(1.0)


def test_smooth_rejects_weight_outside_range():
    with pytest.raises(ValueError):
        smooth([1.0], weight=1.0)


def test_loss_figure_has_raw_smoothed_eval_and_lr_on_second_axis():
    rows = [log(5, 2.0, 1e-4), log(10, 1.5, 2e-4), evaluation(10, 1.7), log(15, 1.0, 1e-4)]
    fig = loss_figure(rows, title="run-1")
    named = traces(fig)
    assert list(named["loss"].x) == [5, 10, 15]
    assert list(named["loss"].y) == [2.0, 1.5, 1.0]
    assert named["loss"].opacity < 1
    assert list(named["loss (smoothed)"].y) == pytest.approx(smooth([2.0, 1.5, 1.0]))
    assert list(named["eval loss"].x) == [10] and list(named["eval loss"].y) == [1.7]
    assert named["learning rate"].yaxis == "y2"
    assert named["learning rate"].line.dash == "dash"
    assert fig.layout.yaxis2.side == "right" and fig.layout.yaxis2.overlaying == "y"
    assert fig.layout.uirevision is not None
    assert fig.layout.legend.orientation == "h"
    assert fig.layout.title.text == "run-1"
    assert "step" in named["loss"].hovertemplate
    assert WAITING() not in annotations(fig)


def test_loss_figure_uirevision_is_stable_across_updates():
    first = loss_figure([log(1, 2.0)])
    later = loss_figure([log(1, 2.0), log(2, 1.0)])
    assert first.layout.uirevision == later.layout.uirevision


def test_empty_rows_give_a_waiting_annotation():
    fig = loss_figure([])
    assert len(fig.data) == 0
    assert WAITING() in annotations(fig)


def test_only_diverged_losses_still_wait_and_do_not_crash():
    fig = loss_figure([log(1, None), log(2, None)])
    assert WAITING() in annotations(fig)


def test_diverged_loss_leaves_a_gap_and_figure_serialises():
    fig = loss_figure([log(1, 2.0), log(2, None), log(3, 1.0)])
    named = traces(fig)
    assert list(named["loss"].x) == [1, 2, 3]
    assert named["loss"].y[1] is None
    assert named["loss (smoothed)"].y[1] is None
    json.loads(fig.to_json())  # what gradio sends to the browser


def test_no_learning_rate_means_no_second_axis():
    fig = loss_figure([log(1, 2.0, lr=None)])
    assert "learning rate" not in traces(fig)


def test_compare_figure_one_colour_per_run_with_eval_markers():
    fig = compare_figure(
        {
            "run-a": [log(1, 2.0), log(2, 1.0), evaluation(2, 1.5)],
            "run-b": [log(1, 3.0), log(2, 2.5)],
        }
    )
    named = traces(fig)
    assert set(named) == {"run-a (raw)", "run-a (smoothed)", "run-a (eval)", "run-b (raw)", "run-b (smoothed)"}
    assert named["run-a (smoothed)"].line.color == named["run-a (eval)"].marker.color == named["run-a (raw)"].line.color
    assert named["run-a (smoothed)"].line.color != named["run-b (smoothed)"].line.color
    assert named["run-a (eval)"].mode == "markers"
    assert list(named["run-b (smoothed)"].y) == pytest.approx(smooth([3.0, 2.5]))
    assert list(named["run-b (raw)"].y) == [3.0, 2.5]  # its last point is the run's final loss


def test_compare_figure_without_points_says_so():
    assert NOTHING_TO_COMPARE() in annotations(compare_figure({}))
    assert NOTHING_TO_COMPARE() in annotations(compare_figure({"run-a": []}))


def test_token_length_histogram_still_marks_max_length():
    fig = token_length_histogram([10, 20, 600], 512)
    assert list(fig.data[0].x) == [10, 20, 600]
    assert any("512" in (a.text or "") for a in fig.layout.annotations)


def test_the_live_chart_carries_plotly_s_look_without_its_whole_template():
    """The loss chart goes to every watching page at every step: plotly's full default template was 7 KB of its 8 KB.
    Only the parts these charts use are kept, so it looks the same."""
    import plotly.io as pio

    from lora_studio.ui import charts

    rows = [MetricRow("log", step, 100, loss=2.0 - step / 100, learning_rate=1e-4) for step in range(1, 41)]
    sent = json.loads(charts.loss_figure(rows).to_json())
    assert len(json.dumps(sent["layout"]["template"])) < 1500
    full = pio.templates["plotly"].layout
    template = sent["layout"]["template"]["layout"]
    assert (template["plot_bgcolor"], template["colorway"]) == (full.plot_bgcolor, list(full.colorway))
    assert template["xaxis"]["gridcolor"] == full.xaxis.gridcolor
