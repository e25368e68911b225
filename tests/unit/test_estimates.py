"""Estimates in core: the token statistics of a data file in words, shared by the Data tab and `inspect`."""

from __future__ import annotations

from lora_studio.estimates import TokenStats, every_row_too_long, token_lines


def stats(**changes):
    base = dict(
        lengths=[10, 30, 90],
        max_length=64,
        truncated=1,
        dropped=0,
        learned_tokens=50,
        rows_measured=3,
        rows_total=3,
        drop_reasons=[],
    )
    return TokenStats(**{**base, **changes})


def test_token_lines_say_the_lengths_and_what_is_cut():
    lines = token_lines(stats())
    assert lines[0] == "**Tokens per row**: median 30, max 90; 50 tokens count toward the loss."
    assert lines[1] == "✂️ **1 row(s)** are longer than max length 64 and will be truncated."
    assert len(lines) == 2 and not every_row_too_long(stats())


def test_every_row_cut_and_nothing_left_to_learn_are_said():
    lines = token_lines(stats(truncated=3, dropped=3, drop_reasons=["row 1: no reply left"], rows_total=9))
    assert "(measured on the first 3 of 9 rows)" in lines[0]
    assert "🗑️ **3 row(s) will be dropped**: row 1: no reply left." in lines[2]
    assert lines[-2].startswith("⚠️ **Every row is longer") and lines[-1].startswith("⛔")
    assert token_lines(stats(lengths=[])) == ["No usable rows to measure."]


def test_pairs_of_answers_are_measured_with_both_answers():
    lines = token_lines(stats(lengths=[20, 40], rejected_lengths=[25, 70], truncated=1, rows_measured=2, rows_total=2))
    assert lines[0].startswith("**Tokens per pair**")
    assert "prompt + chosen answer median 30, max 40" in lines[0]
    assert "prompt + rejected answer median 48, max 70" in lines[0]
