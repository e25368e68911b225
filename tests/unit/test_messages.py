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
