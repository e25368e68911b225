"""Generation settings declared once: bounds, labels and help read by the Playground, `chat` and sample answers."""

from __future__ import annotations

from dataclasses import asdict, fields

import pytest

from lora_studio.__main__ import build_parser
from lora_studio.config import field_names
from lora_studio.errors import ConfigError
from lora_studio.generation_config import GenerationSettings, parse_overrides, setting_metadata, setting_names
from lora_studio.ui import playground_tab, playground_view


def test_every_setting_has_label_help_and_valid_defaults():
    assert GenerationSettings().validate() == []
    for name in setting_names():
        meta = setting_metadata(name)
        assert meta["label"] and meta["help"].endswith((".", ")"))
    assert setting_names() == list(playground_view.SETTINGS)


def test_values_from_widgets_are_coerced_and_none_is_the_default():
    settings = GenerationSettings.from_values({"max_new_tokens": 10.0, "top_k": "20", "seed": None})
    assert (settings.max_new_tokens, settings.top_k, settings.seed) == (10, 20, 0)
    with pytest.raises(ConfigError, match="no generation setting 'temp'"):
        GenerationSettings.from_values({"temp": 1})


def test_out_of_range_values_are_named_with_the_whole_allowed_range():
    issues = GenerationSettings(temperature=5.0, top_k=1.5, top_p=0.0).validate()
    assert [str(i) for i in issues] == [
        "generation.temperature: must be at least 0 and at most 2, got 5",
        "generation.top_p: must be at least 0.05 and at most 1, got 0",
        "generation.top_k: must be a whole number, got 1.5",
    ]
    with pytest.raises(ConfigError, match="temperature: must be at least 0 and at most 2, got 3"):
        parse_overrides(["temperature=3"])
    assert parse_overrides(["temperature=0.2", "system_prompt=42"]).system_prompt == "42"  # text stays text


def test_greedy_and_sampled_generate_arguments():
    greedy = GenerationSettings.greedy(7).generate_kwargs()
    assert greedy["do_sample"] is False and greedy["max_new_tokens"] == 7 and greedy["top_k"] is None
    sampled = GenerationSettings(temperature=0.5, top_k=0).generate_kwargs()
    assert sampled["do_sample"] is True and sampled["temperature"] == 0.5 and sampled["top_k"] is None


def test_playground_widgets_are_derived_from_the_declaration():
    widgets = {w.name: w for w in playground_view.setting_widgets()}
    assert list(widgets) == setting_names()
    for name, widget in widgets.items():
        meta = setting_metadata(name)
        assert widget.label == meta["label"] and meta["help"] in widget.info and widget.value == meta["default"]
        if widget.kind == "slider":  # its ends are validation's bounds
            assert (widget.minimum, widget.maximum, widget.step) == (meta["min"], meta["max"], meta["step"])
    assert widgets["seed"].kind == "number" and widgets["system_prompt"].kind == "text"
    assert "Allowed: at least 0 and at most 2." in widgets["temperature"].info


def test_an_out_of_range_setting_is_said_in_words_and_nothing_starts():
    values = {**asdict(GenerationSettings()), "seed": -1}
    chat = list(playground_tab.on_send("Hello", [], None, values))
    assert chat == [
        {
            "chat_note": "⚠️ **Seed** must be at least 0 and at most 2,147,483,647, got -1. "
            "Change it under *Generation settings*."
        }
    ]
    compare = list(playground_tab.on_compare("Hello", [], {**values, "seed": 0, "max_new_tokens": 0}))
    assert len(compare) == 1 and "**Max new tokens** must be at least 1" in compare[0]["compare_note"]


def test_cli_help_lists_every_setting_with_its_help_and_bounds():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    train_help = sub["train"].format_help()
    for dotted in field_names():
        assert f"  {dotted} (default " in train_help
    words = " ".join(train_help.split())  # the help is wrapped
    assert "Rank (r): Size of the adapter." in words and "Allowed: at least 1 and at most 1,024." in words
    assert "One of: linear, cosine, constant, constant_with_warmup." in words
    chat_help = sub["chat"].format_help()
    for f in fields(GenerationSettings):
        assert f"  {f.name} (default " in chat_help
    inspect_format = next(a for a in sub["inspect"]._actions if a.dest == "format")
    merge_dtype = next(a for a in sub["merge"]._actions if a.dest == "dtype")
    assert inspect_format.choices == ("auto", "messages", "prompt_completion", "text", "preference")
    assert merge_dtype.choices == ("float32", "bfloat16", "float16")
