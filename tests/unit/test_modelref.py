from __future__ import annotations

from pathlib import Path

import pytest

from lora_studio.errors import ModelError
from lora_studio.modelref import parse_model_ref
from lora_studio.settings import EMBEDDED_MODEL_NAME


@pytest.mark.parametrize("text", [EMBEDDED_MODEL_NAME, "embedded", "SmolLM2", " smollm2-135m-instruct "])
def test_embedded_names(text):
    ref = parse_model_ref(text)
    assert ref.kind == "embedded" and ref.display == EMBEDDED_MODEL_NAME


def test_local_folder_with_config(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    ref = parse_model_ref(str(tmp_path))
    assert ref.kind == "local" and ref.value == str(tmp_path.resolve())


def test_local_gguf_file(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert parse_model_ref(str(gguf)).kind == "gguf"


def _refusal(text: str) -> str:
    with pytest.raises(ModelError) as info:
        parse_model_ref(text)
    return info.value.one_line()


def test_folder_without_config_is_refused(tmp_path):
    assert "config.json" in _refusal(str(tmp_path))


def test_refusals_do_not_tell_which_server_paths_exist(tmp_path, monkeypatch):
    """An existing folder without config.json, an existing plain file and a missing path get the same words,
    and only the text the user typed is echoed (not the resolved path, the home folder or the cwd)."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    messages = {text: _refusal(text) for text in ("./empty", "./notes.txt", "./missing")}
    shapes = {message.replace(text, "TEXT") for text, message in messages.items()}
    assert len(shapes) == 1, messages
    for message in messages.values():
        assert str(tmp_path) not in message and str(Path.home()) not in message


def test_a_reference_too_long_for_the_file_system_is_refused_in_words():
    """A 300-character path component made Path.exists raise 'File name too long' (OSError)."""
    for text in ("/" + "a" * 300, "x" * 300, "/" + "b" * 5000, "bad\0name"):
        assert "not found" in _refusal(text)


def test_hub_id():
    ref = parse_model_ref("HuggingFaceTB/SmolLM2-360M-Instruct")
    assert ref.kind == "hub" and ref.value == "HuggingFaceTB/SmolLM2-360M-Instruct"


@pytest.mark.parametrize("text", ["/no/such/folder", "./missing", "not a model", "a/b/c", ""])
def test_nonsense_names_the_alternatives(text):
    with pytest.raises(ModelError) as info:
        parse_model_ref(text)
    message = info.value.one_line()
    assert EMBEDDED_MODEL_NAME in message and "hub id" in message.lower()
