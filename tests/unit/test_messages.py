"""The message catalogue: every setting has a label and help in plain words, and no entry is left over."""

from __future__ import annotations

import re

import pytest

from lora_studio.config import field_metadata, field_names
from lora_studio.messages import catalogue, field_help, field_label, text


def test_every_setting_has_a_label_and_help_in_the_catalogue():
    for name in field_names():
        label, help_text = field_label(name), field_help(name)
        assert label.strip() and help_text.strip(), name
        assert label != name.partition(".")[2], f"{name}: the label is the raw field name"
        assert field_metadata(name)["label"] == label and field_metadata(name)["help"] == help_text


def test_no_setting_entry_is_left_over():
    fields = set(field_names())
    for key in catalogue():
        if key.endswith((".label", ".help")) and key.partition(".")[0] in ("model", "lora", "data", "training"):
            assert key.rsplit(".", 1)[0] in fields, f"{key} names no setting"


def test_labels_speak_plain_words_not_peft_field_names():
    for name in field_names():
        assert not re.search(r"\b(lora_alpha|lr_scheduler|use_rslora|load_in_8bit|num_processes)\b", field_label(name))


def test_text_fills_placeholders_and_an_unknown_id_is_a_bug():
    assert text("config.blocked", count=2, labels="Alpha, Rank").startswith("⛔ **2 problem(s)")
    with pytest.raises(KeyError):
        text("no.such.message")


@pytest.mark.parametrize(
    "module", ["config_tab", "config_presets", "config_speed", "evaluate_tab", "evaluate_handlers", "evaluate_view"]
)
def test_the_config_tab_reads_its_words_from_the_catalogue(module):
    """No user-facing English sentence is written in the Config tab's modules: each comes from the catalogue."""
    import ast
    from pathlib import Path

    source = Path(__file__).resolve().parents[2] / "lora_studio" / "ui" / f"{module}.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    sentences = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and re.search(r"[A-Za-z]{3,} [A-Za-z]{3,}", node.value)
        and not re.search(r"class=|style=|\{ [a-z-]+:", node.value)  # HTML markup and CSS rules, not words
    ]
    assert sentences == [], sentences
