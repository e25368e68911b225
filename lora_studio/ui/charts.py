"""Plotly figures for the dashboard (no torch, no gradio)."""

from __future__ import annotations

import plotly.graph_objects as go


def token_length_histogram(lengths: list[int], max_length: int) -> go.Figure:
    """Token lengths per row, with the max length marked: bars right of the line get truncated."""
    fig = go.Figure(go.Histogram(x=lengths, nbinsx=min(60, max(10, len(set(lengths)))), name="rows",
                                 marker_color="#4f7cff", hovertemplate="%{x} tokens: %{y} rows<extra></extra>"))
    fig.add_vline(x=max_length, line_dash="dash", line_color="#d9480f",
                  annotation_text=f"max length {max_length}", annotation_position="top right")
    fig.update_layout(xaxis_title="tokens per row", yaxis_title="rows", bargap=0.05, height=280,
                      margin={"l": 40, "r": 20, "t": 30, "b": 40}, showlegend=False)
    return fig
