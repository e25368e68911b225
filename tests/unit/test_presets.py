from __future__ import annotations

import pytest

from lora_studio.config import RunConfig
from lora_studio.errors import ConfigError
from lora_studio.presets import list_presets, load_preset, save_preset

REQUIRED = {"quick-start", "chat-assistant", "olora", "low-memory-8bit", "preference-dpo", "preference-orpo"}


def test_required_presets_are_shipped_with_descriptions():
    shipped = {p.name: p for p in list_presets() if p.builtin}
    assert set(shipped) >= REQUIRED
    assert all(shipped[name].description for name in REQUIRED)


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_preset_is_valid_and_round_trips(name):
    warnings: list[str] = []
    cfg = load_preset(name, warnings)
    assert warnings == []  # no misspelled keys in shipped presets
    assert cfg.validate() == []
    assert cfg != RunConfig()  # the preset changes something
    assert RunConfig.from_yaml(cfg.to_yaml()) == cfg


def test_preset_contents_match_their_promise():
    assert load_preset("olora").lora.init == "olora"
    assert load_preset("low-memory-8bit").model.load_in_8bit is True
    assert load_preset("chat-assistant").data.assistant_only_loss is True
    assert load_preset("preference-dpo").training.method == "dpo"
    assert load_preset("preference-orpo").training.method == "orpo"


def test_user_preset_saved_and_listed(studio_home):
    cfg = load_preset("quick-start")
    cfg.lora.r = 4
    cfg.data.path = "/somewhere/data.jsonl"
    save_preset("my-small", cfg, "mine")
    mine = [p for p in list_presets() if p.name == "my-small"]
    assert mine and not mine[0].builtin and mine[0].description == "mine"
    again = load_preset("my-small")
    assert again.lora.r == 4 and again.data.path == ""  # the data file is not part of a preset


def test_shipped_preset_cannot_be_overwritten_and_unknown_preset_names_choices():
    with pytest.raises(ConfigError, match="shipped"):
        save_preset("quick-start", RunConfig())
    with pytest.raises(ConfigError, match="quick-start"):
        load_preset("no-such-preset")
    with pytest.raises(ConfigError, match="preset name"):
        save_preset("../escape", RunConfig())
