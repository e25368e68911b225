"""Config tab handlers, called as the browser calls them (no browser needed)."""

from __future__ import annotations

import dataclasses

import gradio as gr

from lora_studio import calibration
from lora_studio.config import RunConfig, apply_overrides
from lora_studio.engine.preflight import device_label
from lora_studio.presets import list_presets, load_preset
from lora_studio.runs import RunPaths, create_run
from lora_studio.settings import EMBEDDED_MODEL_NAME, runs_dir
from lora_studio.ui import config_tab
from lora_studio.ui import config_view as view
from lora_studio.ui.data_tab import OUTPUTS as DATA_OUTPUTS
from lora_studio.ui.data_tab import on_sample
from lora_studio.ui.data_view import Selection
from tests.integration.helpers import tiny_config

CONTROLS = {"model": EMBEDDED_MODEL_NAME, "max_length": 512, "assistant_only": True, "eval_fraction": 0.0, "seed": 42}


def tiny_state(tiny_model_dir, chat_file, *overrides: str) -> tuple[dict, dict]:
    """(data_state, config_state) for the tiny model and 40 chat rows."""
    cfg = tiny_config(tiny_model_dir, chat_file, *overrides)
    sel = Selection(path=str(chat_file), eval_fraction=cfg.data.eval_fraction, seed=cfg.training.seed,
                    max_length=cfg.data.max_length, model=str(tiny_model_dir))
    return dataclasses.asdict(sel), cfg.to_dict()


def test_rank_change_updates_the_trainable_parameter_count(tiny_model_dir, chat_file):
    data_state, state = tiny_state(tiny_model_dir, chat_file, "lora.r=4")
    before = config_tab.refresh(data_state, state, None)["preflight"]
    state = config_tab.on_fields(state, {"lora.r": 8})["config_state"]
    after = config_tab.refresh(data_state, state, None)["preflight"]
    count = lambda text: int(text.split("trainable parameters")[1].split("(")[1].split(" of ")[0].replace(",", ""))  # noqa: E731
    assert count(after) == 2 * count(before) > 0


def test_invalid_combination_is_shown_beside_its_field(tiny_model_dir, chat_file):
    data_state, state = tiny_state(tiny_model_dir, chat_file)
    state = config_tab.on_fields(state, {"model.load_in_8bit": True, "lora.init": "pissa",
                                         "training.batch_size": 0})["config_state"]
    values = config_tab.refresh(data_state, state, None)
    assert "pissa cannot start from an 8-bit base" in values["issues:lora"]
    assert "Batch size" in values["issues:training"] and values["issues:model"] == ""
    assert values["summary"].startswith("⛔ **2 problem(s)")
    assert values["lora.init"]["info"].startswith("⚠️ Adapter initialisation: pissa cannot")
    assert values["lora.init"]["elem_classes"] == ["cfg-invalid"]
    assert values["lora.r"]["elem_classes"] == [] and values["measure_btn"]["interactive"] is False
    olora = config_tab.on_fields(state, {"lora.init": "olora", "training.batch_size": 4})["config_state"]
    fixed = config_tab.refresh(data_state, olora, None)
    assert fixed["issues:lora"] == "" and "All settings are valid" in fixed["summary"]


def test_steps_and_eta_rough_then_measured(tiny_model_dir, chat_file):
    data_state, state = tiny_state(tiny_model_dir, chat_file, "training.max_steps=0", "training.batch_size=4",
                                   "training.num_epochs=1")
    data_state["eval_fraction"] = 0.1
    values = config_tab.refresh(data_state, state, None)
    assert "**9 optimizer steps**: 36 training rows" in values["preflight"]
    assert "rough, not measured" in values["preflight"] and values["measure_btn"]["interactive"] is True
    cfg = view.effective_config(data_state, state)
    calibration.record(calibration.key_for(cfg, device_label()), 2.0, 100.0)
    measured = config_tab.refresh(data_state, state, None)["preflight"]
    assert "ETA ~ 00:18** (measured on" in measured and "rough" not in measured
    assert config_tab.refresh(data_state, state, {"folder": "x", "pid": 1, "started": 0})["measure_btn"][
        "interactive"] is False  # one measurement at a time


def test_target_layer_checklist_lists_the_models_linear_layers(tiny_model_dir, chat_file):
    data_state, state = tiny_state(tiny_model_dir, chat_file)
    layers = config_tab.refresh(data_state, state, None)[view.TARGET_LAYERS]
    assert layers["choices"] == ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]
    assert layers["interactive"] is False  # all-linear: every layer, fixed
    state = config_tab.on_fields(state, {view.TARGETS: view.CHOSEN, view.TARGET_LAYERS: ["q_proj", "v_proj"]})[
        "config_state"]
    assert view.effective_config(data_state, state).lora.target_modules == ["q_proj", "v_proj"]
    assert config_tab.refresh(data_state, state, None)[view.TARGET_LAYERS]["interactive"] is True


def test_preset_fills_widgets_and_pushes_its_data_settings_to_the_data_tab():
    loaded = dict(zip(DATA_OUTPUTS, on_sample(None, "chat-assistant.jsonl", CONTROLS), strict=True))
    values = config_tab.on_preset("chat-assistant", loaded["state"], CONTROLS)
    assert values["lora.r"] == 16 and values["training.lr_scheduler"] == "cosine"
    assert values["config_state"]["lora"]["r"] == 16
    assert (values["data:max_length"], values["data:eval_fraction"]) == (1024, 0.05)
    assert "data:model" not in values  # the preset does not set the model: the user's choice stays
    assert values["data:state"]["max_length"] == 1024 and "max_length: 1024" in values["data:config"]
    assert "Preset **chat-assistant**" in values["message"]


def test_preset_without_a_dataset_sets_only_the_data_widgets():
    values = config_tab.on_preset("quick-start", None, CONTROLS)
    assert values["data:max_length"] == 256 and values["config_state"]["data"]["max_length"] == 256
    assert all(values[f"data:{name}"] == gr.skip() for name in DATA_OUTPUTS)
    assert "❌" in config_tab.on_preset("no-such-preset", None, CONTROLS)["message"]


def test_load_a_past_run_with_its_data_file_then_without(tiny_model_dir, chat_file):
    cfg = tiny_config(tiny_model_dir, chat_file, "lora.r=12", "data.max_length=96", "data.eval_fraction=0.1")
    create_run(RunPaths(runs_dir() / "20250101-000000-old"), cfg)
    assert ("20250101-000000-old · queued", "20250101-000000-old") in config_tab.run_choices()
    values = config_tab.on_run("20250101-000000-old", None, CONTROLS)
    assert values["lora.r"] == 12 and values["data:max_length"] == 96 and values["data:model"] == str(tiny_model_dir)
    assert values["data:state"]["path"] == str(chat_file) and "chat.jsonl" in values["message"]
    chat_file.unlink()
    gone = config_tab.on_run("20250101-000000-old", None, CONTROLS)
    assert "no longer exists" in gone["message"] and gone["lora.r"] == 12
    assert gone["data:state"] == gr.skip()
    assert "❌" in config_tab.on_run("missing-run", None, CONTROLS)["message"]


def test_save_as_preset_then_pick_it(chat_file):
    state = apply_overrides(load_preset("quick-start"), ["lora.r=24"]).to_dict()
    data_state = dataclasses.asdict(Selection(path=str(chat_file), max_length=200))
    saved = config_tab.on_save("my-r24", "bigger adapter", data_state, state)
    assert "Saved preset **my-r24**" in saved["save_msg"]
    assert ("my-r24 (yours)", "my-r24") in saved["preset"]["choices"]
    assert any(p.name == "my-r24" and not p.builtin for p in list_presets())
    picked = config_tab.on_preset("my-r24", None, CONTROLS)
    assert picked["lora.r"] == 24 and picked["data:max_length"] == 200
    assert "❌" in config_tab.on_save("quick-start", "", data_state, state)["save_msg"]  # shipped name
    assert "❌" in config_tab.on_save("bad name!", "", data_state, state)["save_msg"]
    broken = apply_overrides(RunConfig.from_dict(state), ["training.batch_size=0"]).to_dict()
    assert "Not saved" in config_tab.on_save("broken", "", data_state, broken)["save_msg"]


def test_data_tab_settings_are_mirrored_before_a_file_is_chosen():
    state = config_tab.on_data_controls(None, {**CONTROLS, "max_length": 1024})["config_state"]
    assert view.effective_config(None, state).data.max_length == 1024


def test_measure_needs_a_dataset_and_the_timer_stops_without_a_job():
    assert "Choose a dataset" in config_tab.on_measure(None, RunConfig().to_dict())["calib_status"]
    assert config_tab.on_tick(None)["timer"].active is False


def test_a_model_that_cannot_be_found_is_reported_on_the_data_side(chat_file):
    state = RunConfig().to_dict()
    data_state = dataclasses.asdict(Selection(path=str(chat_file), model="owner/not-cached-anywhere"))
    values = config_tab.refresh(data_state, state, None)
    assert "**Base model**" in values["data_issues"] and "Data tab" in values["data_issues"]
    assert "fix the problems" in values["preflight"]
