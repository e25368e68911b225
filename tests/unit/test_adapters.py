"""Finding adapters on disk, importing uploads safely, and deciding from shapes whether an adapter fits a base."""

from __future__ import annotations

import json
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from lora_studio import adapters, settings
from lora_studio.adapter_checks import CONFIG_FILE, PICKLE_FILE, WEIGHTS_FILE, fit_problems, safetensors_shapes
from lora_studio.adapter_uploads import import_files, import_upload, import_zip
from lora_studio.adapters import same_base
from lora_studio.errors import ModelError
from tests.unit.test_runs_view import make_run

SHAPES = {
    "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": [4, 64],
    "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": [64, 4],
}


def write_safetensors(path: Path, shapes: dict[str, list[int]]) -> Path:
    """A valid safetensors file of zero-filled float32 tensors (no torch needed)."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in shapes.items():
        size = 4
        for dim in shape:
            size *= dim
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)
    return path


def adapter_folder(folder: Path, base: str = "/models/tiny", pickle: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(json.dumps({"peft_type": "LORA", "r": 4, "base_model_name_or_path": base}))
    if pickle:
        (folder / PICKLE_FILE).write_bytes(b"\x80\x04not really a pickle")
    else:
        write_safetensors(folder / WEIGHTS_FILE, SHAPES)
    (folder / "tokenizer_config.json").write_text("{}")
    return folder


def zip_of(path: Path, entries: dict[str, bytes], links: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


def folder_entries(folder: Path, prefix: str = "") -> dict[str, bytes]:
    return {prefix + p.name: p.read_bytes() for p in folder.iterdir()}


# ---- shapes ------------------------------------------------------------------------------------
def test_safetensors_header_gives_every_tensor_shape(tmp_path):
    path = write_safetensors(tmp_path / "a.safetensors", SHAPES)
    assert safetensors_shapes(path) == SHAPES


def test_a_file_that_is_not_safetensors_is_refused_in_words(tmp_path):
    bad = tmp_path / WEIGHTS_FILE
    bad.write_bytes(b"hello")
    with pytest.raises(ModelError, match="not a readable safetensors"):
        safetensors_shapes(bad)


def test_an_adapter_fits_a_base_with_the_same_layer_sizes():
    assert fit_problems(SHAPES, {"model.layers.0.self_attn.q_proj": (64, 64)}) == []


def test_an_adapter_for_wider_layers_does_not_fit_and_says_which_layer():
    problems = fit_problems(SHAPES, {"model.layers.0.self_attn.q_proj": (576, 576)})
    assert len(problems) == 1
    assert "model.layers.0.self_attn.q_proj takes 576 inputs here but 64 in the adapter" in problems[0]


def test_an_adapter_for_layers_the_base_lacks_does_not_fit():
    shapes = {**SHAPES, "base_model.model.model.layers.7.mlp.up_proj.lora_A.weight": [4, 64]}
    problems = fit_problems(shapes, {"model.layers.0.self_attn.q_proj": (64, 64)})
    assert problems == ["it changes layers this model does not have (model.layers.7.mlp.up_proj)"]


def test_embedding_adapters_are_checked_against_rows_and_width():
    shapes = {
        "base_model.model.model.embed_tokens.lora_embedding_A": [4, 1000],
        "base_model.model.model.embed_tokens.lora_embedding_B": [64, 4],
    }
    assert fit_problems(shapes, {"model.embed_tokens": (1000, 64)}) == []
    assert "gives 32 outputs here but 64" in fit_problems(shapes, {"model.embed_tokens": (1000, 32)})[0]


def test_one_model_under_two_paths_counts_as_the_same_base():
    assert same_base("/root/.lora-studio/models/SmolLM2-135M-Instruct", "/other/cache/SmolLM2-135M-Instruct")
    assert same_base(
        "HuggingFaceTB/SmolLM2-135M-Instruct", "/hub/models--HuggingFaceTB--SmolLM2-135M-Instruct/snapshots/abc123"
    )
    assert not same_base("HuggingFaceTB/SmolLM2-360M-Instruct", "/cache/SmolLM2-135M-Instruct")


# ---- discovery ---------------------------------------------------------------------------------
def test_finished_runs_with_an_adapter_are_listed_and_others_are_not(studio_home):
    root = settings.runs_dir()
    done = make_run(root, "20240101-000001-done")
    adapter_folder(done.adapter)
    stopped = make_run(root, "20240101-000002-stopped", state="stopped")
    adapter_folder(stopped.adapter)
    make_run(root, "20240101-000003-running", state="running")
    make_run(root, "20240101-000004-nothing-saved")
    found = {info.run_id: info for info in adapters.run_adapters()}
    assert set(found) == {"20240101-000001-done", "20240101-000002-stopped"}
    assert found["20240101-000001-done"].base_model == settings.EMBEDDED_MODEL_NAME  # the run's own setting
    assert found["20240101-000001-done"].key == "run:20240101-000001-done"


def test_run_adapter_explains_why_a_run_has_none(studio_home):
    make_run(settings.runs_dir(), "20240101-000003-running", state="running")
    with pytest.raises(ModelError, match=r"has no adapter to try.*running") as err:
        adapters.run_adapter("20240101-000003-running")
    assert "Stop and save" in err.value.hint
    with pytest.raises(ModelError, match="There is no run"):
        adapters.run_adapter("nope")


def test_merged_exports_are_offered_as_base_models(studio_home):
    run = make_run(settings.runs_dir(), "20240101-000001-done")
    adapter_folder(run.adapter)
    (run.merged / "fp16").mkdir(parents=True)
    (run.merged / "fp16" / "config.json").write_text("{}")
    choices = adapters.base_choices()
    assert choices[0] == (settings.EMBEDDED_MODEL_NAME, settings.EMBEDDED_MODEL_NAME)
    assert ("20240101-000001-done/fp16 (merged)", str(run.merged / "fp16")) in choices
    assert len([c for c in choices if c[1] == settings.EMBEDDED_MODEL_NAME]) == 1


# ---- uploads -----------------------------------------------------------------------------------
def test_a_zipped_adapter_folder_is_imported_and_listed(tmp_path, studio_home):
    source = adapter_folder(tmp_path / "my-adapter")
    upload = zip_of(tmp_path / "my-adapter.zip", folder_entries(source, "my-adapter/"))
    info = import_zip(upload)
    assert info.path.parent == studio_home / "uploads" / "adapters"
    assert (info.path / WEIGHTS_FILE).read_bytes() == (source / WEIGHTS_FILE).read_bytes()
    assert info.base_model == "/models/tiny" and info.label == "my-adapter (uploaded)"
    assert [a.key for a in adapters.uploaded_adapters()] == [info.key]
    assert import_zip(upload).key == info.key  # the same zip again: the same adapter, not a second copy


@pytest.mark.parametrize("evil", ["../../outside.json", "/etc/cron.d/evil.json", "a/../../b.json"])
def test_zip_slip_entries_refuse_the_whole_zip(tmp_path, studio_home, evil):
    source = adapter_folder(tmp_path / "ad")
    upload = zip_of(tmp_path / "evil.zip", {**folder_entries(source), evil: b"{}"})
    with pytest.raises(ModelError, match="was refused: entry"):
        import_zip(upload)
    assert not (tmp_path / "outside.json").exists()
    assert adapters.uploaded_adapters() == []


def test_a_symlink_in_a_zip_is_refused(tmp_path, studio_home):
    source = adapter_folder(tmp_path / "ad")
    upload = zip_of(tmp_path / "link.zip", folder_entries(source), links=("tokenizer.json",))
    with pytest.raises(ModelError, match="symbolic link"):
        import_zip(upload)


def test_pickle_weights_are_refused_unless_the_operator_allows_them(tmp_path, studio_home, monkeypatch):
    source = adapter_folder(tmp_path / "pickled", pickle=True)
    upload = zip_of(tmp_path / "pickled.zip", folder_entries(source))
    with pytest.raises(ModelError, match="pickle weights") as err:
        import_zip(upload)
    assert "LORA_STUDIO_ALLOW_PICKLE=1" in err.value.hint
    assert adapters.uploaded_adapters() == []
    monkeypatch.setenv("LORA_STUDIO_ALLOW_PICKLE", "1")
    assert (import_zip(upload).path / PICKLE_FILE).is_file()


def test_a_pickle_next_to_safetensors_is_dropped(tmp_path, studio_home):
    source = adapter_folder(tmp_path / "both")
    (source / PICKLE_FILE).write_bytes(b"pickle")
    (source / "optimizer.pt").write_bytes(b"pickle too")
    info = import_files(list(source.iterdir()), "both")
    assert sorted(p.name for p in info.path.iterdir()) == [
        CONFIG_FILE,
        WEIGHTS_FILE,
        adapters.UPLOAD_NOTE,
        "tokenizer_config.json",
    ]


def test_uploads_without_an_adapter_say_what_to_upload(tmp_path, studio_home):
    upload = zip_of(tmp_path / "notes.zip", {"readme.md": b"hi"})
    with pytest.raises(ModelError, match=f"holds no {CONFIG_FILE}"):
        import_upload([upload])
    two = zip_of(tmp_path / "two.zip", {f"a/{CONFIG_FILE}": b"{}", f"b/{CONFIG_FILE}": b"{}"})
    with pytest.raises(ModelError, match="holds 2 adapters"):
        import_upload([two])
    config_only = tmp_path / CONFIG_FILE
    config_only.write_text(json.dumps({"peft_type": "LORA"}))
    with pytest.raises(ModelError, match="has no weights"):
        import_upload([config_only])


def test_a_prompt_tuning_adapter_is_refused_in_words(tmp_path, studio_home):
    folder = adapter_folder(tmp_path / "pt")
    (folder / CONFIG_FILE).write_text(json.dumps({"peft_type": "PROMPT_TUNING"}))
    with pytest.raises(ModelError, match="PROMPT_TUNING adapter; the Playground loads LoRA"):
        import_files(list(folder.iterdir()))


def test_uploads_above_the_limit_are_refused(tmp_path, studio_home, monkeypatch):
    monkeypatch.setenv("LORA_STUDIO_MAX_UPLOAD_MB", "0.001")
    source = adapter_folder(tmp_path / "ad")
    (source / "big.json").write_text("x" * 4096)
    upload = zip_of(tmp_path / "big.zip", folder_entries(source))
    with pytest.raises(ModelError, match="upload limit") as err:
        import_zip(upload)
    assert "LORA_STUDIO_MAX_UPLOAD_MB" in err.value.hint
