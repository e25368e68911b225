"""Data tab handlers, called as the browser calls them (no browser needed)."""

from __future__ import annotations

import shlex

import gradio as gr
import pytest

from lora_studio.__main__ import build_parser
from lora_studio.cli_train import build_config
from lora_studio.config import RunConfig
from lora_studio.engine.train import train
from lora_studio.runs import RunPaths, create_run
from lora_studio.ui import data_handlers, run_state
from lora_studio.ui.data_handlers import on_settings, on_upload
from lora_studio.ui.data_view import Selection
from tests.conftest import write_jsonl

CONTROLS = {"model": "", "max_length": 256, "assistant_only": True, "eval_fraction": 0.1, "seed": 42}


def state_with(controls: dict) -> dict:
    """A browser's run config with these Data tab settings and no dataset yet."""
    return on_settings(RunConfig().to_dict(), controls)["run_config"]


STATE = state_with(CONTROLS)


def out(values: dict) -> dict:
    """A handler's answer, with what it leaves unchanged shown as gr.skip() (as the browser sees it)."""
    return {name: values.get(name, gr.skip()) for name in data_handlers.OUTPUTS}


def path_of(state: dict) -> str:
    return state["data"]["path"]


def test_sample_previews_with_learned_tokens_and_eval_rows():
    res = out(data_handlers.on_sample(STATE, "chat-assistant.jsonl"))
    assert path_of(res["run_config"]).endswith("chat-assistant.jsonl")
    assert "Ready to train" in res["status"] and "chat messages" in res["status"]
    assert len(res["preview"]) == 50 and "messages" in res["preview"].columns
    assert any(label == "learned" for _, label in res["tokens"])
    assert "180 rows train, 20 held out" in res["split"] and len(res["eval_rows"]) == 20
    assert "max_length: 256" in res["config"] and "eval_fraction: 0.1" in res["config"]
    assert res["histogram"] is not None and "Tokens per row" in res["stats"]


def test_broken_upload_keeps_the_previous_dataset(tmp_path):
    good = out(data_handlers.on_sample(STATE, "chat-assistant.jsonl"))
    broken = tmp_path / "broken.json"
    broken.write_text('[{"messages": ')
    res = out(on_upload(good["run_config"], str(broken)))
    assert res["run_config"] == gr.skip()  # the run config keeps its dataset
    assert "cannot be used" in res["status"] and "not valid JSON" in res["status"]
    assert "Still selected: **chat-assistant.jsonl**" in res["status"]
    assert res["preview"] == gr.skip()


@pytest.mark.parametrize(
    "name,content,expected",
    [
        ("notes.docx", b"PK", "not a supported data file"),
        ("empty.jsonl", b"", "is empty"),
    ],
)
def test_unusable_uploads_explain_themselves(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    assert expected in out(on_upload(STATE, str(path)))["status"]


def test_upload_size_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("LORA_STUDIO_MAX_UPLOAD_MB", "0.001")
    path = write_jsonl(tmp_path / "big.jsonl", [{"text": "x" * 2000}])
    assert "upload limit" in out(on_upload(STATE, str(path)))["status"]


def test_uploads_are_kept_in_the_studio_home(tmp_path, studio_home):
    path = write_jsonl(tmp_path / "mine.jsonl", [{"text": "hello there"}, {"text": "general Kenobi"}])
    res = out(on_upload(STATE, str(path)))
    stored = path_of(res["run_config"])
    assert stored.startswith(str(studio_home / "uploads")) and stored.endswith("mine.jsonl")
    path.unlink()  # the browser's temp copy goes away; ours stays
    assert "Ready to train" in out(on_settings(res["run_config"], CONTROLS))["status"]


def test_unmapped_columns_ask_for_a_mapping_then_train_ready():
    res = out(data_handlers.on_sample(STATE, "support-faq.csv"))
    assert "which columns" in res["status"]
    assert path_of(res["run_config"]).endswith("support-faq.csv")
    assert "customer_question" in res["map_prompt"]["choices"]
    mapping = {"format": "auto", "columns": {"prompt": "customer_question", "completion": "agent_answer"}}
    mapped = out(on_settings(res["run_config"], CONTROLS, mapping))
    assert "Ready to train" in mapped["status"] and "mapped: prompt" in mapped["status"]
    assert mapped["run_config"]["data"]["columns"] == mapping["columns"]
    assert "prompt: customer_question" in mapped["config"]


def test_hub_dataset_offline_is_a_clear_message():
    res = out(data_handlers.on_hub(STATE, "someone/some-data"))
    assert "offline" in res["status"] and res["run_config"] == gr.skip()


def test_the_chosen_dataset_flows_into_training(tmp_path, tiny_model_dir):
    """The tab's selection → the run config (and the CLI command it shows) → a real training run."""
    controls = {**CONTROLS, "model": str(tiny_model_dir)}
    res = out(data_handlers.on_sample(state_with(controls), "support-faq.csv"))
    mapping = {"format": "auto", "columns": {"prompt": "customer_question", "completion": "agent_answer"}}
    cfg = run_state.from_state(out(on_settings(res["run_config"], controls, mapping))["run_config"])
    sel = Selection.from_config(cfg)
    assert cfg.data.columns == mapping["columns"] and cfg.data.eval_fraction == 0.1 and cfg.validate() == []

    argv = shlex.split(data_handlers.data_view.cli_command(sel))[3:]  # after "python -m lora_studio"
    from_cli = build_config(build_parser().parse_args(argv))
    assert from_cli.data == cfg.data and from_cli.model.name_or_path == str(tiny_model_dir)

    cfg.training.max_steps = 2
    paths = RunPaths(tmp_path / "run")
    create_run(paths, cfg)
    assert train(cfg, paths).state == "completed"


def test_unknown_sample_and_a_model_without_tokenizer_explain_themselves(tmp_path):
    res = out(data_handlers.on_sample(STATE, "no-such-sample.jsonl"))
    assert "no sample dataset named" in res["status"] and res["run_config"] == gr.skip()
    folder = tmp_path / "weights-only"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    res = out(data_handlers.on_sample(state_with({**CONTROLS, "model": str(folder)}), "chat-assistant.jsonl"))
    assert "Ready to train" in res["status"]  # the data itself is fine
    assert "Token statistics unavailable" in res["stats"] and "tokenizer" in res["stats"]
    assert res["tokens"] == [] and "Token preview unavailable" in res["caption"]


def test_a_change_from_another_tab_redraws_and_the_tabs_own_does_not():
    loaded = data_handlers.on_sample(STATE, "chat-assistant.jsonl")
    assert data_handlers.on_change(loaded["run_config"], loaded["shown"]) == {}  # drawn already
    other = run_state.with_fields(run_state.from_state(loaded["run_config"]), {"data.eval_fraction": 0.2})
    redrawn = data_handlers.on_change(other.to_dict(), loaded["shown"])
    assert redrawn["eval_fraction"] == 0.2 and "160 rows train, 40 held out" in redrawn["split"]
    assert "run_config" not in redrawn  # a reader never writes its (maybe older) copy back


def test_a_page_cannot_point_the_server_at_any_file(tmp_path):
    """The run config comes back from the browser: a data file outside uploads/ and samples/ is dropped."""
    secret = tmp_path / "secret.jsonl"
    write_jsonl(secret, [{"text": "do not show me"}])
    forged = run_state.with_fields(RunConfig(), {"data.path": str(secret)}).to_dict()
    drawn = data_handlers.on_change(forged, None)
    assert "No dataset yet" in drawn["status"] and "do not show me" not in str(drawn)
    assert run_state.from_state(forged).data.path == ""


def test_settings_count_before_a_file_is_chosen():
    state = on_settings(RunConfig().to_dict(), {**CONTROLS, "max_length": 1024, "model": "  "})["run_config"]
    cfg = run_state.from_state(state)
    assert cfg.data.max_length == 1024 and cfg.data.eval_fraction == 0.1 and cfg.data.path == ""
    assert cfg.model.name_or_path == RunConfig().model.name_or_path  # an empty box means the embedded model


def test_a_model_typed_just_before_a_sample_click_is_kept(tmp_path):
    """The click first settles what the page shows (its blur event may not have reached the run config yet):
    the sample then loads for the typed model, and the Data tab does not redraw for its own change."""
    loaded = data_handlers.on_sample(STATE, "chat-assistant.jsonl")  # the stale copy the click would have sent
    typed = {**CONTROLS, "model": f"  {tmp_path}  ", "max_length": 512}
    settled = data_handlers.on_settle(loaded["run_config"], typed)
    assert set(settled) == {"run_config", "shown"}
    cfg = run_state.from_state(settled["run_config"])
    assert cfg.model.name_or_path == str(tmp_path) and cfg.data.max_length == 512
    assert data_handlers.on_change(settled["run_config"], settled["shown"]) == {}  # drawn by the next step
    res = data_handlers.on_sample(settled["run_config"], "chat-assistant.jsonl")
    assert run_state.from_state(res["run_config"]).model.name_or_path == str(tmp_path)
    assert "max_length: 512" in res["config"]


def test_the_first_draw_shows_the_kept_config_and_only_then_makes_the_tab_usable(monkeypatch):
    """Built unusable, the tab's controls and loaders are made usable by the page's first draw, with the kept
    values: nothing a person typed before it lands can be drawn over. A draw that breaks still frees them."""
    loaded = data_handlers.on_sample(STATE, "chat-assistant.jsonl")
    kept = run_state.with_fields(run_state.from_state(loaded["run_config"]), {"data.max_length": 384}).to_dict()
    drawn = data_handlers.first_draw(kept)
    assert set(data_handlers.UNTIL_DRAWN) <= set(drawn) and "run_config" not in drawn
    assert all(drawn[name]["interactive"] is True for name in data_handlers.UNTIL_DRAWN)
    assert drawn["max_length"]["value"] == 384 and "Ready to train" in drawn["status"]
    assert data_handlers.on_change(kept, drawn["shown"]) == {}  # the run config's own change then draws nothing

    def broken(state, shown):
        raise RuntimeError("a bug in a view")

    monkeypatch.setattr(data_handlers, "on_change", broken)
    freed = data_handlers.first_draw(kept)
    assert all(freed[name] == gr.update(interactive=True) for name in data_handlers.UNTIL_DRAWN)


def test_a_setting_of_this_tab_that_cannot_work_is_said_beside_the_file_not_ready():
    res = out(data_handlers.on_sample(STATE, "chat-assistant.jsonl"))
    wrong = out(on_settings(res["run_config"], {**CONTROLS, "max_length": -5}))
    assert "Ready to train" not in wrong["status"] and "1 setting(s) on this tab cannot work" in wrong["status"]
    assert "**Max length (tokens)**: must be at least 16" in wrong["status"] and "got -5" in wrong["status"]
    assert path_of(wrong["run_config"]).endswith("chat-assistant.jsonl")  # the file stays chosen
    fixed = out(on_settings(wrong["run_config"], {**CONTROLS, "max_length": 128}))
    assert "Ready to train" in fixed["status"]
