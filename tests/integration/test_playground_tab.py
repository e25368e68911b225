"""The Playground tab's handlers, called as the browser calls them, with the real engine on the tiny model."""

from __future__ import annotations

import shutil
import zipfile

import pytest

from lora_studio import settings
from lora_studio.engine.inference import playground
from lora_studio.ui import playground_handlers
from lora_studio.ui import playground_tab as tab
from lora_studio.ui.playground_view import BASE_CHOICE, FOOTER
from tests.integration.test_inference import pg_model_dir, trained_runs  # noqa: F401 - session fixtures, shared

VALUES = {
    "system_prompt": "",
    "max_new_tokens": 10,
    "temperature": 0.0,
    "top_p": 0.9,
    "top_k": 50,
    "repetition_penalty": 1.3,
    "seed": 0,
}


@pytest.fixture(autouse=True)
def every_token(monkeypatch):
    """Redraw on every piece, so the tests see the stream even on a fast tiny model."""
    monkeypatch.setattr(playground_handlers, "UPDATE_EVERY_S", 0.0)


@pytest.fixture
def runs(studio_home, trained_runs, pg_model_dir):  # noqa: F811 - the fixtures imported above
    """The two finished runs, copied into this test's runs folder, and their base model ("base")."""
    root = settings.runs_dir()
    for paths in trained_runs.values():
        shutil.copytree(paths.root, root / paths.run_id, ignore=shutil.ignore_patterns("checkpoints"))
    yield {**{name: f"run:{paths.run_id}" for name, paths in trained_runs.items()}, "base": str(pg_model_dir)}
    playground().unload_base()


def choices(update: dict) -> list[str]:
    return [value for _, value in update["choices"]]


def last(results) -> dict:
    merged: dict = {}
    for result in results:
        merged.update(result)
    return merged


def test_refresh_offers_finished_runs_and_their_base(runs):
    values = tab.on_refresh()
    assert set(choices(values["adapters"])) == {runs["chat"], runs["instr"]}
    assert runs["base"] in choices(values["base"])
    assert "Nothing is loaded" in values["status"]


def test_try_in_playground_selects_the_runs_adapter_and_its_base(runs):
    run_id = runs["chat"].removeprefix("run:")
    values = tab.select_adapter(run_id)
    assert values["base"]["value"] == runs["base"]
    assert values["adapters"]["value"] == [runs["chat"]]
    assert "press **Load**" in values["message"]
    refused = tab.select_adapter("no-such-run")
    assert "There is no run" in refused["message"]


def test_load_then_chat_streams_the_answer_into_the_history(runs):
    loaded = tab.on_load(runs["base"], [runs["chat"], runs["instr"]])
    assert "Loaded" in loaded["message"] and "2 adapter(s)" in loaded["message"]
    assert choices(loaded["target"]) == [BASE_CHOICE, runs["chat"], runs["instr"]]
    assert "Adapters loaded:** 2" in loaded["status"]

    steps = list(tab.on_send("Hello!", [], runs["chat"], VALUES))
    assert len(steps) > 3  # the answer grew in several updates, not one
    history = last(steps)["chat"]
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert FOOTER in history[-1]["content"] and "10 tokens" in history[-1]["content"]

    # the browser sends the history back in its own shape; the next turn builds on it
    echoed = [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in history]
    second = last(tab.on_send("And then?", echoed, BASE_CHOICE, VALUES))["chat"]
    assert [m["role"] for m in second] == ["user", "assistant", "user", "assistant"]
    assert second[0]["content"] == "Hello!" and "Base model" in second[-1]["content"]


def test_unticked_adapters_are_unloaded_on_load(runs):
    tab.on_load(runs["base"], [runs["chat"], runs["instr"]])
    values = tab.on_load(runs["base"], [runs["instr"]])
    assert list(playground().adapters) == [runs["instr"]]
    assert choices(values["target"]) == [BASE_CHOICE, runs["instr"]]
    gone = tab.on_unload_all()
    assert not playground().loaded and "Nothing is loaded" in gone["status"]


def test_compare_streams_base_and_two_adapters_into_three_columns(runs):
    tab.on_load(runs["base"], [runs["chat"], runs["instr"]])
    steps = list(tab.on_compare("What is 12 plus 30?", [runs["chat"], runs["instr"]], VALUES))
    final = last(steps)
    assert final["col2"]["visible"] is True
    assert "Base model" in final["head0"] and "chat" in final["head1"] and "instr" in final["head2"]
    answers = [final[f"answer{i}"].split(FOOTER)[0] for i in range(3)]
    assert len(set(answers)) == 3, answers  # three models, three answers
    assert all("10 tokens" in final[f"answer{i}"] for i in range(3))
    assert "repetition penalty 1.3, seed 0" in final["compare_note"]
    # the columns fill one after another: the base is complete before the first adapter starts
    first_adapter_update = next(i for i, s in enumerate(steps) if s.get("answer1"))
    assert FOOTER in last(steps[:first_adapter_update])["answer0"]


def test_chat_before_loading_says_what_to_do(runs):
    result = last(tab.on_send("Hello!", [], BASE_CHOICE, VALUES))
    assert "No base model is loaded" in result["chat_note"] and "press Load" in result["chat_note"]
    assert "Load a base model first" in last(tab.on_compare("Hi", [], VALUES))["compare_note"]


def test_an_adapter_for_another_base_is_refused_in_the_status(runs, tiny_copy, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    other = tmp_path / "narrow"
    tokenizer = AutoTokenizer.from_pretrained(tiny_copy)
    AutoModelForCausalLM.from_config(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
        )
    ).save_pretrained(other)
    tokenizer.save_pretrained(other)
    values = tab.on_load(str(other), [runs["chat"]])
    assert "does not fit" in values["message"] and "Load the base it was trained on" in values["message"]
    assert choices(values["target"]) == [BASE_CHOICE]


def test_an_uploaded_zip_is_imported_and_ticked(runs, trained_runs, tmp_path):  # noqa: F811
    adapter = trained_runs["chat"].adapter
    upload = tmp_path / "shared-adapter.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        for path in adapter.iterdir():
            archive.write(path, f"shared-adapter/{path.name}")
    values = tab.on_upload([str(upload)], [runs["instr"]])
    assert "Imported **shared-adapter (uploaded)**" in values["message"]
    new_key = values["adapters"]["value"][-1]
    assert values["adapters"]["value"] == [runs["instr"], new_key] and new_key.startswith("upload:")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../evil.json", "{}")
    assert "was refused" in tab.on_upload([str(evil)], [])["message"]


def test_an_unexpected_failure_is_said_in_words_naming_the_users_file(runs, monkeypatch, tmp_path):
    """OSError, TypeError and friends reached the browser as a bare 'Error'."""
    from lora_studio import adapter_uploads, adapters

    def broken(paths):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(adapter_uploads, "import_upload", broken)
    values = tab.on_upload([str(tmp_path / "my-adapter.zip")], [])
    assert "Importing my-adapter.zip failed (OSError" in values["message"]
    assert "No space left on device" in values["message"] and "➡️" in values["message"]

    def odd(key):
        raise TypeError("odd value")

    monkeypatch.setattr(adapters, "find_adapter", odd)
    loaded = tab.on_load(runs["base"], ["run:x"])
    assert "Loading adapter run:x failed (TypeError: odd value)" in loaded["message"]
