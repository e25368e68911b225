"""Plotly figures for the dashboard (no torch, no gradio)."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import plotly.io as pio

from lora_studio.messages import text
from lora_studio.metrics import MetricRow


def token_length_histogram(lengths: list[int], max_length: int, rejected: list[int] | None = None) -> go.Figure:
    """Token lengths per row, with the max length marked: bars right of the line get truncated. For pairs of
    answers, `lengths` are prompt + chosen and `rejected` prompt + rejected, overlaid."""
    bins = min(60, max(10, len(set(lengths) | set(rejected or []))))
    fig = go.Figure(
        go.Histogram(
            x=lengths,
            nbinsx=bins,
            name=text("chart.tokens.chosen") if rejected else text("chart.tokens.rows"),
            marker_color="#4f7cff",
            opacity=0.65 if rejected else 1.0,
            hovertemplate=text("chart.tokens.hover"),
        )
    )
    if rejected:
        fig.add_trace(
            go.Histogram(
                x=rejected,
                nbinsx=bins,
                name=text("chart.tokens.rejected"),
                marker_color="#e8590c",
                opacity=0.65,
                hovertemplate=text("chart.tokens.hover"),
            )
        )
        fig.update_layout(barmode="overlay")
    fig.add_vline(
        x=max_length,
        line_dash="dash",
        line_color="#d9480f",
        annotation_text=text("chart.tokens.max_length", max_length=max_length),
        annotation_position="top right",
    )
    fig.update_layout(
        xaxis_title=text("chart.tokens.x"),
        yaxis_title=text("chart.tokens.rows"),
        bargap=0.05,
        height=280,
        margin={"l": 40, "r": 20, "t": 30, "b": 40},
        showlegend=bool(rejected),
        legend={"orientation": "h", "y": 1.15},
    )
    return fig


# One colour per run in comparisons; plotly's default qualitative palette, fixed so a run keeps its colour.
PALETTE = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880", "#ff97ff", "#fecb52")
LOSS_COLOR, EVAL_COLOR, LR_COLOR = "#4f7cff", "#d9480f", "#868e96"


def WAITING() -> str:
    """What an empty loss chart says (in the current language)."""
    return text("chart.waiting")


def NOTHING_TO_COMPARE() -> str:
    """What an empty comparison says (in the current language)."""
    return text("chart.nothing_to_compare")


def smooth(values: list[float | None], weight: float = 0.6) -> list[float | None]:
    """Exponential moving average with TensorBoard's bias correction.

    A plain EMA starts at 0 and drags the first points down; dividing by (1 - weight**n) removes
    that bias, so the first smoothed point equals the first value. None (a diverged loss) stays
    None and does not move the average.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    out: list[float | None] = []
    last, count = 0.0, 0
    for value in values:
        if value is None or not math.isfinite(value):
            out.append(None)
            continue
        last = last * weight + (1.0 - weight) * value
        count += 1
        out.append(last / (1.0 - weight**count))
    return out


def _points(rows: list[MetricRow], event: str, attr: str) -> tuple[list[int], list[float | None]]:
    """(steps, values) of one metric; rows where it is missing are left out, a diverged loss stays None."""
    chosen = [r for r in rows if r.event == event and (getattr(r, attr) is not None or attr == "loss")]
    return [r.step for r in chosen], [getattr(r, attr) for r in chosen]


# plotly's default look, only the parts these charts use: its whole template is 7 KB of a loss chart's 8 KB, and the
# live chart goes to every watching page at every step.
_PLOTLY = pio.templates["plotly"]
TEMPLATE = go.layout.Template(
    layout={
        key: _PLOTLY.layout[key]
        for key in (
            "autotypenumbers",
            "colorway",
            "font",
            "hoverlabel",
            "hovermode",
            "paper_bgcolor",
            "plot_bgcolor",
            "title",
            "xaxis",
            "yaxis",
        )
    },
    data={"scatter": _PLOTLY.data.scatter},
)


def _layout(fig: go.Figure, title: str, empty: str = "") -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0.01} if title else None,
        height=380,
        hovermode="closest",
        # A constant uirevision keeps the user's zoom/pan when the live chart gets new points.
        uirevision="loss-chart",
        margin={"l": 50, "r": 50, "t": 60 if title else 40, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        xaxis_title=text("chart.step"),
        yaxis_title=text("chart.loss"),
    )
    if empty:
        fig.add_annotation(
            text=empty, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5, font={"size": 14, "color": "#868e96"}
        )
        fig.update_xaxes(showticklabels=False)
        fig.update_yaxes(showticklabels=False)
    return fig


def loss_figure(rows: list[MetricRow], title: str = "", weight: float = 0.6) -> go.Figure:
    """Training loss (raw and smoothed), eval loss markers and the learning rate on a right axis."""
    fig = go.Figure()
    steps, losses = _points(rows, "log", "loss")
    eval_steps, eval_losses = _points(rows, "eval", "eval_loss")
    lr_steps, lrs = _points(rows, "log", "learning_rate")
    if not any(v is not None for v in losses) and not eval_losses:
        return _layout(fig, title, WAITING())
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=losses,
            name=text("chart.loss"),
            mode="lines+markers",
            opacity=0.35,
            line={"color": LOSS_COLOR, "width": 1},
            marker={"size": 4},
            hovertemplate=text("chart.hover.loss"),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=smooth(losses, weight),
            name=text("chart.loss_smoothed"),
            mode="lines",
            line={"color": LOSS_COLOR, "width": 2.5},
            hovertemplate=text("chart.hover.smoothed"),
        )
    )
    if eval_losses:
        fig.add_trace(
            go.Scatter(
                x=eval_steps,
                y=eval_losses,
                name=text("chart.eval_loss"),
                mode="markers+lines",
                line={"color": EVAL_COLOR, "width": 1, "dash": "dot"},
                marker={"color": EVAL_COLOR, "size": 9, "symbol": "diamond"},
                hovertemplate=text("chart.hover.eval_loss"),
            )
        )
    if lrs:
        fig.add_trace(
            go.Scatter(
                x=lr_steps,
                y=lrs,
                name=text("chart.learning_rate"),
                mode="lines",
                yaxis="y2",
                line={"color": LR_COLOR, "width": 1.5, "dash": "dash"},
                hovertemplate=text("chart.hover.lr"),
            )
        )
        fig.update_layout(
            yaxis2={
                "title": text("chart.learning_rate"),
                "overlaying": "y",
                "side": "right",
                "showgrid": False,
                "exponentformat": "e",
                "rangemode": "tozero",
            }
        )
    return _layout(fig, title)


REWARD_CHOSEN_COLOR, REWARD_REJECTED_COLOR, MARGIN_COLOR, ACCURACY_COLOR = "#2f9e44", "#e03131", "#4f7cff", "#868e96"


def has_preference_points(rows: list[MetricRow]) -> bool:
    """True once a DPO/ORPO run logged its rewards."""
    return any(r.reward_margin is not None for r in rows)


def preference_figure(rows: list[MetricRow], title: str = "") -> go.Figure:
    """What DPO and ORPO learn, as TRL logs it: the implicit rewards of the chosen and rejected answers and their
    margin (left axis), and the share of pairs the chosen answer wins (right axis, 0 to 1; held-out pairs as
    markers)."""
    fig = go.Figure()
    lines = (
        ("reward_chosen", text("chart.reward_chosen"), REWARD_CHOSEN_COLOR, "solid"),
        ("reward_rejected", text("chart.reward_rejected"), REWARD_REJECTED_COLOR, "solid"),
        ("reward_margin", text("chart.reward_margin"), MARGIN_COLOR, "solid"),
    )
    for attr, name, color, dash in lines:
        steps, values = _points(rows, "log", attr)
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=values,
                name=name,
                mode="lines+markers",
                line={"color": color, "width": 2, "dash": dash},
                marker={"size": 4},
                hovertemplate=text("chart.hover.named", name=name),
            )
        )
    steps, accuracy = _points(rows, "log", "reward_accuracy")
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=accuracy,
            name=text("chart.chosen_wins_share"),
            mode="lines",
            yaxis="y2",
            line={"color": ACCURACY_COLOR, "width": 1.5, "dash": "dash"},
            hovertemplate=text("chart.hover.chosen_wins"),
        )
    )
    eval_steps, eval_accuracy = _points(rows, "eval", "eval_reward_accuracy")
    if eval_accuracy:
        fig.add_trace(
            go.Scatter(
                x=eval_steps,
                y=eval_accuracy,
                name=text("chart.chosen_wins_held_out"),
                mode="markers",
                yaxis="y2",
                marker={"color": EVAL_COLOR, "size": 9, "symbol": "diamond"},
                hovertemplate=text("chart.hover.held_out_chosen_wins"),
            )
        )
    fig.update_layout(
        yaxis2={
            "title": text("chart.chosen_wins"),
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "range": [0, 1.05],
            "tickformat": ".0%",
        }
    )
    fig = _layout(fig, title)
    fig.update_layout(yaxis_title=text("chart.reward"), uirevision="preference-chart")
    return fig


def compare_figure(series: dict[str, list[MetricRow]], weight: float = 0.6) -> go.Figure:
    """Several runs' training losses, each raw (faint) and smoothed in the run's colour, the legend saying which;
    eval losses as markers. A run's final loss is its last raw point."""
    fig = go.Figure()
    plotted = False
    for index, (label, rows) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        steps, losses = _points(rows, "log", "loss")
        eval_steps, eval_losses = _points(rows, "eval", "eval_loss")
        if any(v is not None for v in losses):
            plotted = True
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=losses,
                    name=text("chart.run_raw", label=label),
                    mode="lines",
                    opacity=0.35,
                    legendgroup=label,
                    line={"color": color, "width": 1},
                    hovertemplate=text("chart.hover.run_loss", label=label),
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=smooth(losses, weight),
                    name=text("chart.run_smoothed", label=label),
                    mode="lines",
                    legendgroup=label,
                    line={"color": color, "width": 2},
                    hovertemplate=text("chart.hover.run_smoothed", label=label),
                )
            )
        if eval_losses:
            plotted = True
            fig.add_trace(
                go.Scatter(
                    x=eval_steps,
                    y=eval_losses,
                    name=text("chart.run_eval", label=label),
                    mode="markers",
                    legendgroup=label,
                    marker={"color": color, "size": 9, "symbol": "diamond"},
                    hovertemplate=text("chart.hover.run_eval_loss", label=label),
                )
            )
    return _layout(fig, "", "" if plotted else NOTHING_TO_COMPARE())
