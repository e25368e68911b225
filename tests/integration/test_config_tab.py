"""Config tab handlers, called as the browser calls them (no browser needed)."""

from __future__ import annotations

from lora_studio import calibration
from lora_studio.config import RunConfig, apply_overrides
from lora_studio.dataset_sources import store_upload
from lora_studio.engine.preflight import device_label
from lora_studio.presets import list_presets, load_preset
from lora_studio.runs import RunPaths, create_run
from lora_studio.settings import EMBEDDED_MODEL_NAME, runs_dir
from lora_studio.ui import config_presets, config_speed, config_tab, run_state
from lora_studio.ui import config_view as view
from lora_studio.ui.data_handlers import on_sample
from tests.integration.helpers import tiny_config


def tiny_state(tiny_model_dir, chat_file, *overrides: str) -> dict:
    """The browser's run config for the tiny model and 40 chat rows (uploaded, as the Data tab stores them)."""
    return tiny_config(tiny_model_dir, store_upload(chat_file), *overrides).to_dict()


def with_fields(state: dict, **fields) -> dict:
    return run_state.with_fields(
        run_state.from_state(state), {k.replace("__", "."): v for k, v in fields.items()}
    ).to_dict()


def test_rank_change_updates_the_trainable_parameter_count(tiny_model_dir, chat_file):
    state = tiny_state(tiny_model_dir, chat_file, "lora.r=4")
    before = config_tab.refresh(state, None)["preflight"]
    state = config_tab.on_fields(state, {"lora.r": 8})["run_config"]
    after = config_tab.refresh(state, None)["preflight"]
    count = lambda text: int(text.split("trainable parameters")[1].split("(")[1].split(" of ")[0].replace(",", ""))  # noqa: E731
    assert count(after) == 2 * count(before) > 0


def test_invalid_combination_is_shown_beside_its_field(tiny_model_dir, chat_file):
    state = tiny_state(tiny_model_dir, chat_file)
    state = config_tab.on_fields(state, {"model.load_in_8bit": True, "lora.init": "pissa", "training.batch_size": 0})[
        "run_config"
    ]
    values = config_tab.refresh(state, None)
    assert "pissa cannot start from an 8-bit base" in values["issues:lora"]
    assert "Batch size" in values["issues:training"] and values["issues:model"] == ""
    assert values["summary"].startswith("⛔ **2 problem(s)")
    assert values["lora.init"]["info"].startswith("⚠️ Adapter initialisation: pissa cannot")
    assert values["lora.init"]["elem_classes"] == ["cfg-invalid"]
    assert values["lora.r"]["elem_classes"] == [] and values["measure_btn"]["interactive"] is False
    olora = config_tab.on_fields(state, {"lora.init": "olora", "training.batch_size": 4})["run_config"]
    fixed = config_tab.refresh(olora, None)
    assert fixed["issues:lora"] == "" and "All settings are valid" in fixed["summary"]


def test_steps_and_eta_rough_then_measured(tiny_model_dir, chat_file):
    state = tiny_state(
        tiny_model_dir,
        chat_file,
        "training.max_steps=0",
        "training.batch_size=4",
        "training.num_epochs=1",
        "data.eval_fraction=0.1",
    )
    values = config_tab.refresh(state, None)
    assert "**9 optimizer steps**: 36 training rows" in values["preflight"]
    assert "rough, not measured" in values["preflight"] and values["measure_btn"]["interactive"] is True
    cfg = run_state.from_state(state)
    calibration.record(calibration.key_for(cfg, device_label()), 2.0, 100.0)
    measured = config_tab.refresh(state, None)["preflight"]
    assert "ETA ~ 00:18** (measured on" in measured and "rough" not in measured
    # Another setting, never measured: its estimate takes this machine's pace from the measured ones.
    other = run_state.with_fields(cfg, {"training.batch_size": 2})
    assert "rough, not measured" in config_tab.refresh(other.to_dict(), None)["preflight"]  # no pace known yet
    calibration.record(calibration.key_for(cfg, device_label()), 2.0, 100.0, flops=1e9)
    paced = config_tab.refresh(other.to_dict(), None)["preflight"]
    assert "estimated, these settings not measured yet" in paced and "1 GFLOP/s, from 1 measured speed" in paced
    assert (
        config_tab.refresh(state, {"folder": "x", "pid": 1, "started": 0})["measure_btn"]["interactive"] is False
    )  # one measurement at a time


def test_target_layer_checklist_lists_the_models_linear_layers(tiny_model_dir, chat_file):
    state = tiny_state(tiny_model_dir, chat_file)
    layers = config_tab.refresh(state, None)[view.TARGET_LAYERS]
    assert layers["choices"] == ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]
    assert layers["interactive"] is False  # all-linear: every layer, fixed
    state = config_tab.on_fields(state, {view.TARGETS: view.CHOSEN, view.TARGET_LAYERS: ["q_proj", "v_proj"]})[
        "run_config"
    ]
    assert run_state.from_state(state).lora.target_modules == ["q_proj", "v_proj"]
    assert config_tab.refresh(state, None)[view.TARGET_LAYERS]["interactive"] is True


def test_a_preset_replaces_every_setting_and_keeps_the_dataset_and_model():
    loaded = on_sample(RunConfig().to_dict(), "chat-assistant.jsonl")["run_config"]
    loaded = with_fields(loaded, model__name_or_path="HuggingFaceTB/SmolLM2-360M-Instruct")
    values = config_presets.on_preset("chat-assistant", loaded)
    cfg = run_state.from_state(values["run_config"])
    assert (cfg.lora.r, cfg.training.lr_scheduler, cfg.data.max_length, cfg.data.eval_fraction) == (
        16,
        "cosine",
        1024,
        0.05,
    )
    assert cfg.data.path.endswith("chat-assistant.jsonl") and cfg.model.name_or_path.endswith("360M-Instruct")
    assert "Preset **chat-assistant**" in values["message"]
    drawn = config_tab.on_change(values["run_config"], None, None)  # every widget follows the new config
    assert drawn["lora.r"]["value"] == 16 and drawn["training.lr_scheduler"]["value"] == "cosine"


def test_presets_are_idempotent():
    """quick-start → chat-assistant → quick-start left chat-assistant's eval fraction (48 rows instead of 50)."""
    start = on_sample(RunConfig().to_dict(), "chat-assistant.jsonl")["run_config"]
    first = config_presets.on_preset("quick-start", start)["run_config"]
    there = config_presets.on_preset("chat-assistant", first)["run_config"]
    back = config_presets.on_preset("quick-start", there)["run_config"]
    assert back == first
    expected = run_state.with_fields(
        load_preset("quick-start"),
        {"data.path": run_state.from_state(start).data.path, "model.name_or_path": EMBEDDED_MODEL_NAME},
    )
    assert back == expected.to_dict()
    assert "❌" in config_presets.on_preset("no-such-preset", start)["message"]


def test_the_preset_box_names_the_preset_the_settings_are_and_none_once_they_differ():
    """After a reload the page draws the kept run config: the Preset box shows the preset it holds, not the
    page's default, and nothing (with a line saying so) once a setting differs from every preset."""
    start = on_sample(RunConfig().to_dict(), "chat-assistant.jsonl")["run_config"]
    olora = config_presets.on_preset("olora", start)["run_config"]
    shown = config_tab.on_change(olora, None, None)["preset"]
    assert shown["value"] == "olora" and "Choosing one fills" in shown["info"]
    changed = with_fields(olora, training__learning_rate=3e-4)
    shown = config_tab.on_change(changed, None, None)["preset"]
    assert shown["value"] is None and "differ from every preset" in shown["info"]
    back = with_fields(changed, training__learning_rate=run_state.from_state(olora).training.learning_rate)
    assert config_presets.matching_preset(run_state.from_state(back)) == "olora"


def test_a_first_visit_draws_the_pages_own_run_config_and_a_kept_one_replaces_it():
    """The page's first draw, as Gradio calls it (the Data tab with the restore, then the Config tab from the
    restored config): nothing kept (a first visit) draws the page's quick-start (it drew the bare defaults once:
    max length 512, no preset named); a kept run config is restored and drawn."""
    from lora_studio.ui.app import build_app

    app = build_app()
    draw = next(f.fn for f in app.fns.values() if f.name == "first_draw" and f.page == "")
    config_draw = next(f.fn for f in app.fns.values() if f.name == "config_first_draw" and f.page == "")
    page = config_tab.initial_config().to_dict()

    def by_id(values: dict) -> dict:
        return {getattr(k, "elem_id", None): v for k, v in values.items()}

    assert not any(str(name).startswith("cfg-") for name in by_id(draw(None, page)))  # no wait for the pre-flight
    fresh = by_id({**draw(None, page), **config_draw(page, None)})
    assert fresh["data-max-length"]["value"] == 256 and fresh["cfg-preset"]["value"] == "quick-start"
    kept = with_fields(page, data__max_length=384)
    restored = draw(kept, page)
    state = next(v for v in restored.values() if type(v) is dict and "data" in v)
    assert state == run_state.from_state(kept).to_dict()  # restored into the page's run config
    drawn = by_id({**restored, **config_draw(state, None)})
    assert drawn["data-max-length"]["value"] == 384 and drawn["cfg-preset"]["value"] is None


def test_a_first_draw_that_fails_still_makes_the_data_tab_usable(monkeypatch):
    from lora_studio.ui.app import build_app
    from lora_studio.ui.data_handlers import UNTIL_DRAWN

    app = build_app()
    draw = next(f.fn for f in app.fns.values() if f.name == "first_draw" and f.page == "")

    def broken(*args, **kwargs):
        raise OSError("a file went away mid-read")

    monkeypatch.setattr(run_state, "kept_config", broken)
    values = draw(None, config_tab.initial_config().to_dict())
    assert len(values) == len(UNTIL_DRAWN)
    assert all(v == {"__type__": "update", "interactive": True} for v in values.values())


def test_load_a_past_run_with_its_data_file_then_without(tiny_model_dir, chat_file):
    cfg = tiny_config(tiny_model_dir, chat_file, "lora.r=12", "data.max_length=96", "data.eval_fraction=0.1")
    create_run(RunPaths(runs_dir() / "20250101-000000-old"), cfg)
    assert ("20250101-000000-old · queued", "20250101-000000-old") in config_presets.run_choices()
    values = config_presets.on_run("20250101-000000-old", RunConfig().to_dict())
    got = run_state.from_state(values["run_config"])
    assert (got.lora.r, got.data.max_length, got.model.name_or_path) == (12, 96, str(tiny_model_dir))
    assert got.data.path.endswith("chat.jsonl") and "uploads" in got.data.path  # a copy the page may name
    assert "chat.jsonl" in values["message"]
    chat_file.unlink()
    current = on_sample(RunConfig().to_dict(), "chat-assistant.jsonl")["run_config"]
    gone = config_presets.on_run("20250101-000000-old", current)
    assert "no longer exists" in gone["message"]
    kept = run_state.from_state(gone["run_config"])
    assert kept.lora.r == 12 and kept.data.path.endswith("chat-assistant.jsonl")  # the dataset shown stays
    assert "❌" in config_presets.on_run("missing-run", current)["message"]


def test_save_as_preset_then_pick_it(chat_file):
    state = run_state.with_fields(
        apply_overrides(load_preset("quick-start"), ["lora.r=24", "data.max_length=200"]),
        {"data.path": str(store_upload(chat_file))},
    ).to_dict()
    saved = config_presets.on_save("my-r24", "bigger adapter", state)
    assert "Saved preset **my-r24**" in saved["save_msg"]
    assert ("my-r24 (yours)", "my-r24") in saved["preset"]["choices"]
    assert any(p.name == "my-r24" and not p.builtin for p in list_presets())
    picked = run_state.from_state(config_presets.on_preset("my-r24", RunConfig().to_dict())["run_config"])
    assert picked.lora.r == 24 and picked.data.max_length == 200
    assert "❌" in config_presets.on_save("quick-start", "", state)["save_msg"]  # shipped name
    assert "❌" in config_presets.on_save("bad name!", "", state)["save_msg"]
    broken = apply_overrides(RunConfig.from_dict(state), ["training.batch_size=0"]).to_dict()
    assert "Not saved" in config_presets.on_save("broken", "", broken)["save_msg"]


def test_measure_needs_a_dataset_and_the_timer_stops_without_a_job():
    assert "Choose a dataset" in config_speed.on_measure(RunConfig().to_dict())["calib_status"]
    assert config_speed.on_tick(None)["timer"].active is False


def test_a_model_that_cannot_be_found_is_reported_on_the_data_side(chat_file):
    state = run_state.with_fields(
        RunConfig(), {"data.path": str(store_upload(chat_file)), "model.name_or_path": "owner/not-cached-anywhere"}
    ).to_dict()
    values = config_tab.refresh(state, None)
    assert "**Base model**" in values["data_issues"] and "Data tab" in values["data_issues"]
    assert "fix the problems" in values["preflight"]
