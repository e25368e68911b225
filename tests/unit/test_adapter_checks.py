"""Everything read from an adapter folder is checked with bounds before use (issue 11, findings 1, 3 and 7)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from lora_studio import adapters
from lora_studio.adapter_checks import CONFIG_FILE, MAX_LIST_ITEMS, WEIGHTS_FILE, check_adapter_folder
from lora_studio.adapter_uploads import import_upload, import_zip
from lora_studio.errors import ModelError
from tests.unit.test_adapters import adapter_folder, folder_entries, zip_of


def _with_config(folder: Path, **fields) -> Path:
    config = json.loads((folder / CONFIG_FILE).read_text())
    config.update(fields)
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    return folder


def _planted(name: str, **fields) -> Path:
    """An adapter already on disk in the uploads folder (imported by an older version, or put there by hand)."""
    folder = _with_config(adapter_folder(adapters.adapters_dir() / name), **fields)
    (folder / adapters.UPLOAD_NOTE).write_text(json.dumps({"name": name}))
    return folder


def test_a_base_reference_too_long_for_the_file_system_lists_without_crashing(studio_home):
    """A 300-character base_model_name_or_path made every listing (and so the server's start) raise
    'OSError: File name too long' from Path.exists."""
    _planted("long-base", base_model_name_or_path="/" + "x" * 300)
    listed = adapters.list_adapters()
    assert [info.label for info in listed] == ["long-base (uploaded)"]
    assert adapters.base_choices()[0][0].endswith("(embedded)")
    assert all("x" * 300 not in value for _, value in adapters.base_choices())


@pytest.mark.parametrize(("names", "words"), [(200_001, "MB"), (MAX_LIST_ITEMS + 1, f"at most {MAX_LIST_ITEMS:,}")])
def test_a_huge_target_modules_list_is_refused_at_import(tmp_path, studio_home, names, words):
    """200,001 names (a 483 KB zip) held the Playground's core for minutes inside peft; the caps (the config's
    size, then the list's length) are checked at import, before peft sees the list."""
    source = _with_config(adapter_folder(tmp_path / "ad"), target_modules=[f"m{i}" for i in range(names)])
    upload = zip_of(tmp_path / "many-names.zip", folder_entries(source))
    with pytest.raises(ModelError) as refused:
        import_zip(upload)
    message = refused.value.one_line()
    assert message.startswith("many-names cannot be used") and words in message
    assert adapters.uploaded_adapters() == []


def test_an_unusable_adapter_on_disk_is_listed_with_its_reason_and_never_loaded(studio_home):
    _planted("too-many", target_modules=[f"m{i}" for i in range(5000)])
    _planted("fine")
    listed = {info.name: info for info in adapters.list_adapters()}
    assert listed["fine"].problem == ""
    assert "target_modules" in listed["too-many"].problem
    with pytest.raises(ModelError, match="too-many cannot be used"):
        adapters.usable(listed["too-many"])


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("r", 0, "'r'"),
        ("r", "8", "'r'"),
        ("r", 10**9, "'r'"),
        ("lora_alpha", float("inf"), "lora_alpha"),
        ("lora_dropout", 1.5, "lora_dropout"),
        ("target_modules", 5, "target_modules"),
        ("target_modules", "(unclosed", "target_modules"),
        ("base_model_name_or_path", 42, "base_model_name_or_path"),
        ("base_model_name_or_path", "x" * 5000, "5,000 characters"),
        ("rank_pattern", {"q_proj": -1}, "rank_pattern"),
        ("use_dora", "yes", "use_dora"),
        ("layer_replication", [[0, 10_000]], "layer_replication"),
        ("init_lora_weights", "pissa", "rewrite the base"),
    ],
)
def test_each_field_peft_acts_on_is_checked(tmp_path, field, value, words):
    folder = _with_config(adapter_folder(tmp_path / "ad"), **{field: value})
    with pytest.raises(ModelError) as refused:
        check_adapter_folder(folder, "mine.zip")
    assert words in refused.value.one_line() and refused.value.one_line().startswith("mine.zip cannot be used")


def test_a_config_file_of_megabytes_is_refused_before_parsing(tmp_path):
    folder = adapter_folder(tmp_path / "ad")
    (folder / CONFIG_FILE).write_text(json.dumps({"peft_type": "LORA", "pad": " " * (2 * 2**20)}))
    with pytest.raises(ModelError, match=r"2\.0 MB"):
        check_adapter_folder(folder, "big")


def test_a_cut_weights_file_is_refused_at_import_naming_the_uploaded_file(tmp_path, studio_home):
    """The staging folder's name ('.<hash>.tmp-<pid>') must never reach the user."""
    source = adapter_folder(tmp_path / "ad")
    weights = (source / WEIGHTS_FILE).read_bytes()
    (source / WEIGHTS_FILE).write_bytes(weights[: len(weights) - 100])
    upload = zip_of(tmp_path / "half.zip", folder_entries(source))
    with pytest.raises(ModelError) as refused:
        import_zip(upload)
    message = refused.value.one_line()
    assert message.startswith("half's adapter_model.safetensors") and "past the end" in message
    assert ".tmp-" not in message
    assert adapters.uploaded_adapters() == []


def test_a_config_that_is_not_json_names_the_upload_not_the_staging_folder(tmp_path, studio_home):
    source = adapter_folder(tmp_path / "ad")
    (source / CONFIG_FILE).write_bytes(b"\xff\xfe not json")
    with pytest.raises(ModelError) as refused:
        import_zip(zip_of(tmp_path / "garbled.zip", folder_entries(source)))
    assert "garbled" in refused.value.one_line() and ".tmp-" not in refused.value.one_line()


def test_a_damaged_zip_entry_is_refused_in_words(tmp_path, studio_home):
    """A bad checksum raised zipfile.BadZipFile from inside the copy: a bare 'Error' in the browser."""
    source = adapter_folder(tmp_path / "ad")
    upload = tmp_path / "damaged.zip"
    with zipfile.ZipFile(upload, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in folder_entries(source).items():
            archive.writestr(name, data)
    raw = bytearray(upload.read_bytes())
    at = raw.find(b'"peft_type"')
    raw[at + 1] = ord("P") if raw[at + 1] != ord("P") else ord("Q")  # the stored bytes no longer match the CRC
    upload.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match=r"damaged\.zip cannot be unpacked"):
        import_upload([upload])
    assert not any(adapters.adapters_dir().glob(".*"))  # no staging folder left behind
