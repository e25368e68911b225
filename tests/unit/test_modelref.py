from __future__ import annotations

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


def test_folder_without_config_is_refused(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        parse_model_ref(str(tmp_path))


def test_hub_id():
    ref = parse_model_ref("HuggingFaceTB/SmolLM2-360M-Instruct")
    assert ref.kind == "hub" and ref.value == "HuggingFaceTB/SmolLM2-360M-Instruct"


@pytest.mark.parametrize("text", ["/no/such/folder", "./missing", "not a model", "a/b/c", ""])
def test_nonsense_names_the_alternatives(text):
    with pytest.raises(ModelError) as info:
        parse_model_ref(text)
    message = info.value.one_line()
    assert EMBEDDED_MODEL_NAME in message and "hub id" in message.lower()
