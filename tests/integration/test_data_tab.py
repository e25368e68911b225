"""Data tab handlers, called as the browser calls them (no browser needed)."""

from __future__ import annotations

import shlex

import gradio as gr
import pytest

from lora_studio.__main__ import build_config, build_parser
from lora_studio.engine.train import train
from lora_studio.runs import RunPaths, create_run
from lora_studio.ui import data_tab
from lora_studio.ui.data_tab import OUTPUTS, on_settings, on_upload
from lora_studio.ui.data_view import Selection
from tests.conftest import write_jsonl

CONTROLS = {"model": "", "max_length": 256, "assistant_only": True, "eval_fraction": 0.1, "seed": 42}


def out(values: list) -> dict:
    return dict(zip(OUTPUTS, values, strict=True))


def test_sample_previews_with_learned_tokens_and_eval_rows():
    res = out(data_tab.on_sample(None, "chat-assistant.jsonl", CONTROLS))
    assert res["state"]["path"].endswith("chat-assistant.jsonl")
    assert "Ready to train" in res["status"] and "chat messages" in res["status"]
    assert len(res["preview"]) == 50 and "messages" in res["preview"].columns
    assert any(label == "learned" for _, label in res["tokens"])
    assert "180 rows train, 20 held out" in res["split"] and len(res["eval_rows"]) == 20
    assert "max_length: 256" in res["config"] and "eval_fraction: 0.1" in res["config"]
    assert res["histogram"] is not None and "Tokens per row" in res["stats"]


def test_broken_upload_keeps_the_previous_dataset(tmp_path):
    good = out(data_tab.on_sample(None, "chat-assistant.jsonl", CONTROLS))
    broken = tmp_path / "broken.json"
    broken.write_text('[{"messages": ')
    res = out(on_upload(good["state"], str(broken), CONTROLS))
    assert res["state"] == gr.skip()  # the selection is untouched
    assert "cannot be used" in res["status"] and "not valid JSON" in res["status"]
    assert "Still selected: **chat-assistant.jsonl**" in res["status"]
    assert res["preview"] == gr.skip()


@pytest.mark.parametrize("name,content,expected", [
    ("notes.docx", b"PK", "not a supported data file"),
    ("empty.jsonl", b"", "is empty"),
])
def test_unusable_uploads_explain_themselves(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    assert expected in out(on_upload(None, str(path), CONTROLS))["status"]


def test_upload_size_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("LORA_STUDIO_MAX_UPLOAD_MB", "0.001")
    path = write_jsonl(tmp_path / "big.jsonl", [{"text": "x" * 2000}])
    assert "upload limit" in out(on_upload(None, str(path), CONTROLS))["status"]


def test_uploads_are_kept_in_the_studio_home(tmp_path, studio_home):
    path = write_jsonl(tmp_path / "mine.jsonl", [{"text": "hello there"}, {"text": "general Kenobi"}])
    res = out(on_upload(None, str(path), CONTROLS))
    stored = res["state"]["path"]
    assert stored.startswith(str(studio_home / "uploads")) and stored.endswith("mine.jsonl")
    path.unlink()  # the browser's temp copy goes away; ours stays
    assert "Ready to train" in out(on_settings(res["state"], CONTROLS))["status"]


def test_unmapped_columns_ask_for_a_mapping_then_train_ready():
    res = out(data_tab.on_sample(None, "support-faq.csv", CONTROLS))
    assert "which columns" in res["status"]
    assert res["state"]["path"].endswith("support-faq.csv")
    assert "customer_question" in res["map_prompt"]["choices"]
    mapping = {"format": "auto", "columns": {"prompt": "customer_question", "completion": "agent_answer"}}
    mapped = out(on_settings(res["state"], CONTROLS, mapping))
    assert "Ready to train" in mapped["status"] and "mapped: prompt" in mapped["status"]
    assert mapped["state"]["columns"] == mapping["columns"]
    assert "prompt: customer_question" in mapped["config"]


def test_hub_dataset_offline_is_a_clear_message():
    res = out(data_tab.on_hub(None, "someone/some-data", CONTROLS))
    assert "offline" in res["status"] and res["state"] == gr.skip()


def test_the_chosen_dataset_flows_into_training(tmp_path, tiny_model_dir):
    """The tab's selection → the run config (and the CLI command it shows) → a real training run."""
    res = out(data_tab.on_sample(None, "support-faq.csv", {**CONTROLS, "model": str(tiny_model_dir)}))
    mapping = {"format": "auto", "columns": {"prompt": "customer_question", "completion": "agent_answer"}}
    sel = Selection(**out(on_settings(res["state"], {**CONTROLS, "model": str(tiny_model_dir)}, mapping))["state"])
    cfg = sel.run_config()
    assert cfg.data.columns == mapping["columns"] and cfg.data.eval_fraction == 0.1 and cfg.validate() == []

    argv = shlex.split(data_tab.data_view.cli_command(sel))[3:]  # after "python -m lora_studio"
    from_cli = build_config(build_parser().parse_args(argv))
    assert from_cli.data == cfg.data and from_cli.model.name_or_path == str(tiny_model_dir)

    cfg.training.max_steps = 2
    paths = RunPaths(tmp_path / "run")
    create_run(paths, cfg)
    assert train(cfg, paths).state == "completed"


def test_unknown_sample_and_a_model_without_tokenizer_explain_themselves(tmp_path):
    res = out(data_tab.on_sample(None, "no-such-sample.jsonl", CONTROLS))
    assert "no sample dataset named" in res["status"] and res["state"] == gr.skip()
    folder = tmp_path / "weights-only"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    res = out(data_tab.on_sample(None, "chat-assistant.jsonl", {**CONTROLS, "model": str(folder)}))
    assert "Ready to train" in res["status"]  # the data itself is fine
    assert "Token statistics unavailable" in res["stats"] and "tokenizer" in res["stats"]
    assert res["tokens"] == [] and "Token preview unavailable" in res["caption"]
